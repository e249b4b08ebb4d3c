"""Small file primitives shared by governance state: atomic JSON writes and an exclusive lock file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write_json(path: str | os.PathLike, obj: Any, mode: int = 0o600) -> Path:
    """Write ``obj`` as JSON to ``path`` so readers see the old or the new file, never a torn one.

    The JSON goes to a temporary file in the same folder, is flushed and fsynced, then renamed over ``path``
    with ``os.replace`` (atomic on POSIX).

    Args:
        path: destination file (its folder is created).
        obj: JSON-serialisable value.
        mode: permission bits of the new file (owner-only by default).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``<path>.lock`` (the data file itself is replaced, so not locked)."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_json(path: str | os.PathLike, default: Any) -> Any:
    """The JSON in ``path``, or ``default`` when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))
