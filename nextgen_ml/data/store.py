"""The on-disk store of records: Arrow IPC (default) or Parquet files, partitioned by site.

Layout::

    DIR/_metadata.json              schema version, data dictionary, variant panel, counts per site, format
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

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.schema import COLUMNS_SINCE, SCHEMA_VERSION, record_schema
from nextgen_ml.data.store_fs import StoreLocation

METADATA_FILE = "_metadata.json"
_SUFFIX = {"ipc": ".arrow", "parquet": ".parquet"}


class StoreError(RuntimeError):
    """The store on disk is missing, incomplete or of an incompatible version."""


def _as_table(records: pa.Table | Iterable[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Records as a table of exactly ``schema``: columns in schema order, absent columns all-null, unknown ones an
    error."""
    if isinstance(records, pa.Table):
        unknown = sorted(set(records.column_names) - set(schema.names))
        if unknown:
            raise ValueError(f"records: columns {unknown} are not record fields (a modality plugin not loaded?)")
        for name in schema.names:
            if name not in records.column_names:
                records = records.append_column(name, pa.nulls(records.num_rows, schema.field(name).type))
        records = records.select(schema.names)
        return records.cast(schema) if not records.schema.equals(schema, check_metadata=True) else records
    return pa.Table.from_pylist(list(records), schema=schema)


def plugin_modalities() -> dict[str, str]:
    """Registered modalities that are not built in: name → the module that declared it."""
    from nextgen_ml.modalities import builtin_modalities, modality_specs

    return {s.name: s.module for s in modality_specs() if s.name not in builtin_modalities()}


def _check_plugins(path: Any, meta: dict[str, Any]) -> None:
    """A store holding a plugin modality is read only with that plugin registered (never silently dropped)."""
    from nextgen_ml.modalities import modality_names

    missing = {m: mod for m, mod in (meta.get("plugin_modalities") or {}).items() if m not in modality_names()}
    if missing:
        raise StoreError(
            f"{path} holds modality plugin columns {sorted(missing)} (declared by {sorted(set(missing.values()))}); "
            "load the plugin first: python train.py plugins=[path/to/modality.py] or "
            "nextgen_ml.modalities.load_plugins([...])"
        )


def check_appendable(
    path: Any, meta: dict[str, Any], dictionary: DataDictionary, format: str, panel: dict[str, Any] | None
) -> None:
    """Refuse to append records of ``dictionary``/``format``/``panel`` to the store at ``path`` (metadata ``meta``)
    unless they match it.

    Raises:
        StoreError: naming what differs.
    """
    stored = read_dictionary(meta)
    if stored.fingerprint() != dictionary.fingerprint():
        raise StoreError(
            f"{path}: cannot append: the store's data dictionary differs from the new records' "
            f"(variables {list(stored.variables)} / labels {list(stored.labels)} vs "
            f"{list(dictionary.variables)} / {list(dictionary.labels)}); write a new store and read "
            "both as one dataset (data.data_dir=[A, B])"
        )
    if meta.get("format", "ipc") != format:
        raise StoreError(f"{path}: cannot append {format} parts to a {meta.get('format')} store")
    if panel is not None and meta.get("panel") not in (None, panel):
        raise StoreError(f"{path}: cannot append: the variant panel differs from the store's")


def read_dictionary(metadata: dict[str, Any]) -> DataDictionary:
    """The data dictionary stored in a store's metadata."""
    raw = metadata.get("dictionary")
    return SYNTHETIC_DICTIONARY if raw is None else DataDictionary.parse(raw, defaults=False)


class StoreWriter:
    """Append records to a store, one part file per site per :meth:`write` call.

    Args:
        path: store directory (created).
        panel: the variant panel ``genotype.dosages`` refers to.
        format: ``"ipc"`` (memory-mappable Arrow, default) or ``"parquet"``.
        batch_rows: rows per IPC record batch / Parquet row group.
        overwrite: remove an existing store at ``path`` first.
        extra_metadata: further ``_metadata.json`` entries (generator settings, ingest provenance).
        dictionary: the dataset's data dictionary (declares ``tabular`` and ``labels``; default: the synthetic
            cohort's).
        append: add parts to an existing store (same dictionary, format and panel); counts are added up.

    Use as a context manager; metadata is written on close. Nothing is ever replaced without ``overwrite``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        panel: VariantPanel | None = None,
        format: str = "ipc",
        batch_rows: int = 64,
        overwrite: bool = False,
        extra_metadata: dict[str, Any] | None = None,
        dictionary: DataDictionary | None = None,
        append: bool = False,
    ) -> None:
        if format not in _SUFFIX:
            raise ValueError(f"format must be one of {sorted(_SUFFIX)}, got {format!r}")
        if append and overwrite:
            raise ValueError("append and overwrite exclude each other")
        self.path = Path(path)
        self.dictionary = dictionary or SYNTHETIC_DICTIONARY
        self.schema = record_schema(self.dictionary)
        self.counts: dict[str, int] = {}
        self._parts: dict[str, int] = {}
        self._previous: dict[str, Any] = {}
        exists = (self.path / METADATA_FILE).exists()
        if append and exists:
            self._start_append(panel, format)
        elif exists and not overwrite:
            raise StoreError(f"{self.path} already holds a store; pass overwrite=True to replace it or append=True")
        if overwrite and self.path.exists():
            for part in self.path.glob("site=*/part-*"):
                part.unlink()
            (self.path / METADATA_FILE).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self.panel, self.format, self.batch_rows = panel, format, batch_rows
        self.extra_metadata = dict(extra_metadata or {})

    def _start_append(self, panel: VariantPanel | None, format: str) -> None:
        meta = json.loads((self.path / METADATA_FILE).read_text())
        panel_json = None if panel is None else json.loads(panel.to_json())
        check_appendable(self.path, meta, self.dictionary, format, panel_json)
        self._previous = meta
        self.counts = dict(meta.get("sites", {}))
        for site in self.counts:
            self._parts[site] = len(list((self.path / f"site={site}").glob("part-*")))

    def write(self, records: pa.Table | Iterable[dict[str, Any]]) -> int:
        """Write a chunk of records; returns rows written."""
        table = _as_table(records, self.schema)
        sites = table.column("site").to_numpy(zero_copy_only=False)
        for site in sorted(set(sites.tolist())):
            part_table = table.filter(pa.array(sites == site))
            part_no = self._parts.get(site, 0)
            self._parts[site] = part_no + 1
            folder = self.path / f"site={site}"
            folder.mkdir(exist_ok=True)
            out = folder / f"part-{part_no:05d}{_SUFFIX[self.format]}"
            if self.format == "ipc":
                with pa.OSFile(str(out), "wb") as sink, ipc.new_file(sink, self.schema) as writer:
                    writer.write_table(part_table, max_chunksize=self.batch_rows)
            else:
                pq.write_table(part_table, out, row_group_size=self.batch_rows, compression="zstd")
            self.counts[site] = self.counts.get(site, 0) + part_table.num_rows
        return table.num_rows

    def close(self) -> None:
        panel = None if self.panel is None else json.loads(self.panel.to_json())
        meta = {
            **self._previous,
            "schema_version": SCHEMA_VERSION,
            "format": self.format,
            "n_records": sum(self.counts.values()),
            "sites": dict(sorted(self.counts.items())),
            "panel": panel if panel is not None else self._previous.get("panel"),
            "dictionary": self.dictionary.as_dict(),
            "plugin_modalities": {**self._previous.get("plugin_modalities", {}), **plugin_modalities()},
            **self.extra_metadata,
        }
        if self._previous:  # appended: keep every write's provenance
            history = list(self._previous.get("appends", []))
            history.append({k: v for k, v in self.extra_metadata.items() if k != "appends"})
            meta["appends"] = history
        tmp = self.path / (METADATA_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, self.path / METADATA_FILE)

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
        path: str | os.PathLike | Sequence[str | os.PathLike],
        columns: Sequence[str] | None = None,
        sites: Sequence[str] | None = None,
    ) -> None:
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        if not paths:
            raise ValueError("path: at least one store is needed")
        self.locations = [StoreLocation(p) for p in paths]
        self.location = self.locations[0]
        self.path = self.location.path if len(paths) == 1 else [loc.path for loc in self.locations]
        metas = []
        for loc in self.locations:
            if not loc.exists(METADATA_FILE):
                raise StoreError(f"{loc.path} is not a nextgen_ml store (no {METADATA_FILE})")
            meta = json.loads(loc.read_text(METADATA_FILE))
            version = meta.get("schema_version", "0")
            if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
                raise StoreError(
                    f"{loc.path} was written with record schema {version}; this nextgen_ml reads {SCHEMA_VERSION} "
                    "(regenerate a synthetic cohort, or re-ingest hospital files with `nextgen-ml ingest`)"
                )
            _check_plugins(loc.path, meta)
            metas.append(meta)
        dictionaries = [read_dictionary(m) for m in metas]
        self._plans: list[Any] | None = None
        if len(paths) == 1:
            self.dictionary, self.metadata = dictionaries[0], metas[0]
        else:
            from nextgen_ml.data.reconcile import merged_metadata, reconcile

            named = [(str(loc.path), d) for loc, d in zip(self.locations, dictionaries, strict=True)]
            self.dictionary, self._plans = reconcile(named)
            self.metadata = merged_metadata([str(loc.path) for loc in self.locations], metas, self.dictionary)
        self.schema: pa.Schema = record_schema(self.dictionary)
        unknown = set(columns or ()) - set(self.schema.names)
        if unknown:
            raise ValueError(f"columns: {sorted(unknown)} are not record fields ({self.schema.names})")
        self.columns: list[str] = list(columns) if columns else list(self.schema.names)
        self.format: str = self.metadata.get("format", "ipc")
        #: requested columns that the store's (older) schema version predates: read as all-null columns
        self.missing_columns: list[str] = sorted(
            {c for m in metas for c in self.columns if _older(m.get("schema_version", "0"), COLUMNS_SINCE.get(c))}
        )
        self._sites = list(sites) if sites else None
        wanted = set(sites) if sites else None
        tables = []
        for k, (loc, meta) in enumerate(zip(self.locations, metas)):
            for site in sorted(meta["sites"]):
                if wanted is not None and site not in wanted:
                    continue
                for part in loc.parts(f"site={site}"):
                    table = self._open(loc, meta, part)
                    if self._plans is not None:
                        from nextgen_ml.data.reconcile import apply_plan

                        table = apply_plan(table, self._plans[k], self.schema)
                    tables.append(table)
        if self._plans is not None:  # stores of one dataset: one schema (field metadata included)
            view = pa.schema([self.schema.field(c) for c in self.columns])
            tables = [t.cast(view) for t in tables]
        self.table: pa.Table = pa.concat_tables(tables) if tables else self.schema.empty_table().select(self.columns)
        self._index: np.ndarray | None = None  # None = identity view
        # Row lookup: record batches (zero-copy views of the memory map) and their start offsets.
        self._batches = self.table.to_batches()
        self._starts = np.cumsum([0] + [b.num_rows for b in self._batches])[:-1]

    def _open(self, loc: StoreLocation, meta: dict[str, Any], part: str) -> pa.Table:
        version = meta.get("schema_version", "0")
        missing = [c for c in self.columns if _older(version, COLUMNS_SINCE.get(c))]
        present = [c for c in self.columns if c not in missing]
        ipc_part = meta.get("format", "ipc") == "ipc"
        table = loc.open_ipc(part, present) if ipc_part else loc.open_parquet(part, present)
        for name in self.columns:  # a column added after the store was written (newer schema, plugin): all null
            if name not in table.column_names:
                field = self.schema.field(name)
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
                if name not in self.missing_columns and name not in missing:
                    self.missing_columns.append(name)
        return table.select(self.columns)

    def __getstate__(self) -> dict[str, Any]:
        uris = [loc.uri for loc in self.locations]
        path = uris[0] if len(uris) == 1 else uris
        return {"path": path, "columns": self.columns, "sites": self._sites, "index": self._index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], columns=state["columns"], sites=state["sites"])
        self._index = state["index"]

    @property
    def panel(self) -> VariantPanel | None:
        conflict = self.metadata.get("panel_conflict")
        if conflict:
            raise StoreError(f"stores {conflict[0]} and {conflict[1]} index genotypes over different variant panels")
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

