"""The on-disk store of records: Arrow IPC (default) or Parquet files, partitioned by site.

Layout::

    DIR/_metadata.json              schema version, variant panel, counts per site, format
    DIR/site=<SITE>/part-00000.arrow
    DIR/site=<SITE>/part-00001.arrow   (one part per write call: cohorts are written in chunks)

Arrow IPC files are written uncompressed and opened with a memory map, so a read touches only the pages
of the columns and rows it asks for: random access costs no decode and resident memory stays bounded
as the cohort grows. ``scripts/bench_data.py`` measures this layout against Parquet and against per-patient
hospital files (``docs/results.md``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.schema import COLUMNS_SINCE, RECORD_SCHEMA, SCHEMA_VERSION
from nextgen_ml.data.store_fs import StoreLocation

METADATA_FILE = "_metadata.json"
_SUFFIX = {"ipc": ".arrow", "parquet": ".parquet"}


class StoreError(RuntimeError):
    """The store on disk is missing, incomplete or of an incompatible version."""


def _as_table(records: pa.Table | Iterable[dict[str, Any]]) -> pa.Table:
    if isinstance(records, pa.Table):
        return records.cast(RECORD_SCHEMA) if records.schema != RECORD_SCHEMA else records
    return pa.Table.from_pylist(list(records), schema=RECORD_SCHEMA)


class StoreWriter:
    """Append records to a store, one part file per site per :meth:`write` call.

    Args:
        path: store directory (created).
        panel: the variant panel ``genotype.dosages`` refers to.
        format: ``"ipc"`` (memory-mappable Arrow, default) or ``"parquet"``.
        batch_rows: rows per IPC record batch / Parquet row group.
        overwrite: remove an existing store at ``path`` first.

    Use as a context manager; metadata is written on close.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        panel: VariantPanel | None = None,
        format: str = "ipc",
        batch_rows: int = 64,
        overwrite: bool = False,
        extra_metadata: dict[str, Any] | None = None,
    ) -> None:
        if format not in _SUFFIX:
            raise ValueError(f"format must be one of {sorted(_SUFFIX)}, got {format!r}")
        self.path = Path(path)
        if (self.path / METADATA_FILE).exists() and not overwrite:
            raise StoreError(f"{self.path} already holds a store; pass overwrite=True to replace it")
        if overwrite and self.path.exists():
            for part in self.path.glob("site=*/part-*"):
                part.unlink()
            (self.path / METADATA_FILE).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self.panel, self.format, self.batch_rows = panel, format, batch_rows
        self.extra_metadata = dict(extra_metadata or {})
        self.counts: dict[str, int] = {}
        self._parts: dict[str, int] = {}

    def write(self, records: pa.Table | Iterable[dict[str, Any]]) -> int:
        """Write a chunk of records; returns rows written."""
        table = _as_table(records)
        sites = table.column("site").to_numpy(zero_copy_only=False)
        for site in sorted(set(sites.tolist())):
            part_table = table.filter(pa.array(sites == site))
            part_no = self._parts.get(site, 0)
            self._parts[site] = part_no + 1
            folder = self.path / f"site={site}"
            folder.mkdir(exist_ok=True)
            out = folder / f"part-{part_no:05d}{_SUFFIX[self.format]}"
            if self.format == "ipc":
                with pa.OSFile(str(out), "wb") as sink, ipc.new_file(sink, RECORD_SCHEMA) as writer:
                    writer.write_table(part_table, max_chunksize=self.batch_rows)
            else:
                pq.write_table(part_table, out, row_group_size=self.batch_rows, compression="zstd")
            self.counts[site] = self.counts.get(site, 0) + part_table.num_rows
        return table.num_rows

    def close(self) -> None:
        meta = {
            "schema_version": SCHEMA_VERSION,
            "format": self.format,
            "n_records": sum(self.counts.values()),
            "sites": dict(sorted(self.counts.items())),
            "panel": None if self.panel is None else json.loads(self.panel.to_json()),
            **self.extra_metadata,
        }
        (self.path / METADATA_FILE).write_text(json.dumps(meta, indent=2))

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


def write_store(
    path: str | os.PathLike,
    records: pa.Table | Iterable[dict[str, Any]],
    panel: VariantPanel | None = None,
    **kwargs: Any,
) -> Path:
    """Write all ``records`` to a new store at ``path`` in one go."""
    with StoreWriter(path, panel=panel, **kwargs) as writer:
        writer.write(records)
    return Path(path)


def _older(version: str, since: str | None) -> bool:
    """Whether schema ``version`` predates ``since`` (``None``: the column exists in every version)."""
    if since is None:
        return False
    as_tuple = lambda v: tuple(int(x) for x in v.split(".")[:3] if x.isdigit())  # noqa: E731
    return as_tuple(version) < as_tuple(since)


class RecordStore:
    """Read-only, random-access view of a store.

    Args:
        path: store directory, ``file://`` URI, or any pyarrow/fsspec filesystem URI (``s3://``, ``memory://``
            ...; see :mod:`nextgen_ml.data.store_fs`: local stores are memory-mapped, remote ones read through
            the filesystem's random-access files).
        columns: top-level record columns to expose (default: all). Only these are ever read.
        sites: restrict to these sites (default: all).

    A store pickles as its location, columns, sites and view indices (never its data), so DataLoader workers
    started with ``spawn``/``forkserver`` reopen (re-map) it instead of receiving a copy of the table.

    ``len(store)`` is the number of records; ``store.row(i)`` returns record ``i`` as a dict of the
    requested columns; :meth:`take` returns an Arrow table for many indices; :meth:`subset` narrows the
    view to some indices without touching payloads (used by the consent filter and by splits).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        columns: Sequence[str] | None = None,
        sites: Sequence[str] | None = None,
    ) -> None:
        self.location = StoreLocation(path)
        self.path = self.location.path
        if not self.location.exists(METADATA_FILE):
            raise StoreError(f"{self.path} is not a nextgen_ml store (no {METADATA_FILE})")
        self.metadata: dict[str, Any] = json.loads(self.location.read_text(METADATA_FILE))
        version = self.metadata.get("schema_version", "0")
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise StoreError(
                f"{self.path} was written with record schema {version}; this nextgen_ml reads {SCHEMA_VERSION}"
            )
        unknown = set(columns or ()) - set(RECORD_SCHEMA.names)
        if unknown:
            raise ValueError(f"columns: {sorted(unknown)} are not record fields ({RECORD_SCHEMA.names})")
        self.columns: list[str] = list(columns) if columns else list(RECORD_SCHEMA.names)
        self.format: str = self.metadata.get("format", "ipc")
        #: requested columns that the store's (older) schema version predates: read as all-null columns
        self.missing_columns: list[str] = [c for c in self.columns if _older(version, COLUMNS_SINCE.get(c))]
        self._sites = list(sites) if sites else None
        wanted = set(sites) if sites else None
        tables = []
        for site in sorted(self.metadata["sites"]):
            if wanted is not None and site not in wanted:
                continue
            for part in self.location.parts(f"site={site}"):
                tables.append(self._open(part))
        self.table: pa.Table = (
            pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table().select(self.columns)
        )
        self._index: np.ndarray | None = None  # None = identity view
        # Row lookup: record batches (zero-copy views of the memory map) and their start offsets.
        self._batches = self.table.to_batches()
        self._starts = np.cumsum([0] + [b.num_rows for b in self._batches])[:-1]

    def _open(self, part: str) -> pa.Table:
        present = [c for c in self.columns if c not in self.missing_columns]
        if self.format == "ipc":
            table = self.location.open_ipc(part, present)
        else:
            table = self.location.open_parquet(part, present)
        for name in self.missing_columns:  # a column added after the store's schema version: all null
            field = RECORD_SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        return table.select(self.columns)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.location.uri, "columns": self.columns, "sites": self._sites, "index": self._index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], columns=state["columns"], sites=state["sites"])
        self._index = state["index"]

    @property
    def panel(self) -> VariantPanel | None:
        panel = self.metadata.get("panel")
        return None if panel is None else VariantPanel.from_json(json.dumps(panel))

    def __len__(self) -> int:
        return self.table.num_rows if self._index is None else len(self._index)

    def physical_index(self, i: int) -> int:
        return int(i) if self._index is None else int(self._index[i])

    def row(self, i: int) -> dict[str, Any]:
        """Record ``i`` (of this view) as a dict of the requested columns."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"record index {i} out of range for a store view of {len(self)} records")
        j = self.physical_index(i % len(self))
        b = int(np.searchsorted(self._starts, j, side="right")) - 1
        # A one-row slice converted in one C++ pass is ~25 % faster than converting each column's scalar.
        return self._batches[b].slice(j - int(self._starts[b]), 1).to_pylist()[0]

    def take(self, indices: Sequence[int]) -> pa.Table:
        """Rows at ``indices`` (of this view) as an Arrow table."""
        idx = np.asarray(indices, dtype=np.int64)
        if self._index is not None:
            idx = self._index[idx]
        return self.table.take(pa.array(idx))

    def column(self, name: str) -> pa.ChunkedArray:
        """One column over this view (e.g. labels for stratification), without reading payloads."""
        if name not in self.columns:
            raise ValueError(f"column {name!r} was not requested when the store was opened ({self.columns})")
        col = self.table.column(name)
        return col if self._index is None else col.take(pa.array(self._index))

    def subset(self, indices: Sequence[int]) -> RecordStore:
        """A view of the records at ``indices`` (of this view); shares the memory-mapped table."""
        view = object.__new__(RecordStore)
        view.__dict__.update(self.__dict__)
        idx = np.asarray(indices, dtype=np.int64)
        view._index = idx if self._index is None else self._index[idx]
        return view
