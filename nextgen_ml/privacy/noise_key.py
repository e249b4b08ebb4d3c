"""The secret key of a DP run's noise, kept out of everything a run shares.

A checkpoint holds only the key's public id (:func:`~nextgen_ml.privacy.csprng.key_id`); the key itself goes to
``<checkpoint dir>/dp_noise_<id[:16]>.key`` (mode 0600, created exclusively: an existing file is never
overwritten), written when the run saves its first checkpoint. A resumed run looks for it next to the checkpoint
it resumes from, then in its own checkpoint folder. The file is removed when the fit completes (a finished run
needs no resume, and the key with the final weights and the public initialisation would replay its noise).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from nextgen_ml.privacy.csprng import KEY_BYTES, key_id

KEY_FILE_PREFIX = "dp_noise_"


def key_file_name(kid: str) -> str:
    """``dp_noise_<first 16 hex digits of the key id>.key``."""
    return f"{KEY_FILE_PREFIX}{kid[:16]}.key"


def write_key_file(directory: str | Path, key: bytes) -> Path:
    """Write ``key`` to ``directory/dp_noise_<id>.key`` with mode 0600 (an existing file of the same key is kept).

    Raises:
        ValueError: a file of that name holds another or a damaged key (never overwritten).
    """
    kid = key_id(key)
    path = Path(directory) / key_file_name(kid)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            same = read_key_file(path) == key
        except ValueError:
            same = False
        if not same:
            raise ValueError(f"{path}: holds another DP noise key (or a damaged one); it is not overwritten")
        return path
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"key_id": kid, "key": key.hex()}, f)
    return path


def read_key_file(path: str | Path) -> bytes:
    """The key in a key file, checked against the id it was written with.

    Raises:
        ValueError: the file is malformed or its key does not match its id (naming the file).
    """
    try:
        raw = json.loads(Path(path).read_text())
        key = bytes.fromhex(raw["key"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a DP noise key file ({err})") from err
    if len(key) != KEY_BYTES or key_id(key) != raw.get("key_id"):
        raise ValueError(f"{path}: the key does not match its key_id (damaged or edited)")
    return key


def find_key(kid: str, directories: Iterable[str | Path | None]) -> tuple[bytes, Path] | None:
    """The key with id ``kid`` from the first of ``directories`` holding its file, or None."""
    for directory in directories:
        if directory is None:
            continue
        path = Path(directory) / key_file_name(kid)
        if path.is_file():
            key = read_key_file(path)
            if key_id(key) == kid:
                return key, path
    return None
