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
from nextgen_ml.data.schema import RECORD_SCHEMA, SCHEMA_VERSION

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


class RecordStore:
    """Read-only, random-access view of a store.

    Args:
        path: store directory.
        columns: top-level record columns to expose (default: all). Only these are ever read.
        sites: restrict to these sites (default: all).

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
        self.path = Path(path)
        meta_file = self.path / METADATA_FILE
        if not meta_file.exists():
            raise StoreError(f"{self.path} is not a nextgen_ml store (no {METADATA_FILE})")
        self.metadata: dict[str, Any] = json.loads(meta_file.read_text())
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
        wanted = set(sites) if sites else None
        tables = []
        for site in sorted(self.metadata["sites"]):
            if wanted is not None and site not in wanted:
                continue
            for part in sorted((self.path / f"site={site}").glob("part-*")):
                tables.append(self._open(part))
        self.table: pa.Table = (
            pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table().select(self.columns)
        )
        self._index: np.ndarray | None = None  # None = identity view
        # Row lookup: record batches (zero-copy views of the memory map) and their start offsets.
        self._batches = self.table.to_batches()
        self._starts = np.cumsum([0] + [b.num_rows for b in self._batches])[:-1]
        self._col = {name: k for k, name in enumerate(self.columns)}

    def _open(self, part: Path) -> pa.Table:
        if self.format == "ipc":
            return ipc.open_file(pa.memory_map(str(part), "r")).read_all().select(self.columns)
        return pq.read_table(part, columns=self.columns, memory_map=True)

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
        batch, local = self._batches[b], j - int(self._starts[b])
        return {name: batch.column(k)[local].as_py() for name, k in self._col.items()}

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
