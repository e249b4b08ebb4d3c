"""Where a record store lives: a local directory (memory-mapped) or any filesystem URI (shared or object storage).

``StoreLocation(path)`` accepts

* a local path or a ``file://`` URI: part files are opened with a memory map (zero-copy, pages read on demand);
* a URI that ``pyarrow.fs.FileSystem.from_uri`` understands (``s3://``, ``gs://``, ``hdfs://``, ...);
* any other fsspec URL (``memory://``, ``az://``, ``http://`` ... with the matching fsspec package installed),
  wrapped as a pyarrow filesystem with ``pyarrow.fs.FSSpecHandler``.

Remote part files cannot be memory-mapped: they are read through the filesystem's random-access file, and only
the requested columns' buffers are read (IPC ``included_fields`` / Parquet column projection). The requested
columns of the opened sites are then held in memory, so open remote stores with the ``columns`` you need (payload
columns of a large cohort belong on a local disk or a shared POSIX filesystem, where they are memory-mapped).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc
import pyarrow.parquet as pq


def is_uri(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URI with a scheme (``file://``, ``s3://``, ``memory://`` ...) rather than a plain path."""
    return isinstance(path, str) and "://" in path


def filesystem_from_uri(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it for ``uri``: pyarrow's own filesystems first, then fsspec.

    Raises:
        ValueError: neither pyarrow nor fsspec knows the URI's scheme.
    """
    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as err:
        raise ValueError(f"path: no pyarrow or fsspec filesystem for {uri!r} ({err})") from err
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


class StoreLocation:
    """File access for one store directory, local or remote.

    Args:
        path: local directory, ``file://`` URI, or any pyarrow/fsspec filesystem URI.

    Attributes:
        uri: the location as given (used to reopen the store, e.g. in DataLoader workers).
        path: ``Path`` for local stores, the URI string for remote ones (for messages).
        local: whether part files are memory-mapped.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.uri = str(path)
        self.local = not is_uri(path) or urlparse(str(path)).scheme == "file"
        if self.local:
            local = urlparse(str(path)).path if is_uri(path) else path
            self.path: Path | str = Path(local)
            self.fs: pafs.FileSystem | None = None
            self.root = str(self.path)
        else:
            self.path = self.uri
            self.fs, root = filesystem_from_uri(self.uri)
            self.root = root.rstrip("/")

    def _join(self, *names: str) -> str:
        return "/".join([self.root, *names])

    def exists(self, name: str) -> bool:
        if self.local:
            return (Path(self.root) / name).exists()
        return self.fs.get_file_info(self._join(name)).type != pafs.FileType.NotFound

    def read_text(self, name: str) -> str:
        if self.local:
            return (Path(self.root) / name).read_text()
        with self.fs.open_input_stream(self._join(name)) as f:
            return f.read().decode()

    def parts(self, folder: str) -> list[str]:
        """Sorted ``part-*`` files of ``folder`` (e.g. ``site=site_a``) as paths for :meth:`open_ipc`."""
        if self.local:
            return [str(p) for p in sorted((Path(self.root) / folder).glob("part-*"))]
        selector = pafs.FileSelector(self._join(folder), allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.base_name.startswith("part-"))

    def open_ipc(self, part: str, columns: list[str]) -> pa.Table:
        """An Arrow IPC part file: memory-mapped locally; remotely only ``columns`` are read."""
        if self.local:
            return ipc.open_file(pa.memory_map(part, "r")).read_all()
        source = self.fs.open_input_file(part)
        names = ipc.open_file(source).schema.names
        fields = [names.index(c) for c in columns if c in names]
        return ipc.open_file(source, options=ipc.IpcReadOptions(included_fields=fields)).read_all()

    def open_parquet(self, part: str, columns: list[str]) -> pa.Table:
        """A Parquet part file's ``columns`` (those the file has; the caller fills the others)."""
        names = pq.read_schema(part, filesystem=self.fs).names
        return pq.read_table(part, columns=[c for c in columns if c in names], memory_map=self.local,
                             filesystem=self.fs)
