"""What ``predict`` accepts — record dicts, an Arrow table in the record schema, a store path or view — as one
stream of record dicts, after checking the source's schema version and variant panel against the bundle's."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from nextgen_ml.bundle.preprocess import InputMismatchError
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.schema import same_model_inputs
from nextgen_ml.data.store import METADATA_FILE, RecordStore
from nextgen_ml.data.validate import iter_records

#: anything ``PretrainedModel.predict`` / ``explain`` accept.
Source = Sequence[Mapping[str, Any]] | pa.Table | RecordStore | str | os.PathLike

#: columns read besides the modality payloads.
BASE_COLUMNS: tuple[str, ...] = ("patient_id", "labels")


def check_schema_version(found: str | None, where: str, expected: str) -> None:
    """Refuse a source written with a record-schema version whose model inputs differ from the bundle's."""
    if found and not same_model_inputs(found, expected):
        raise InputMismatchError(
            where, "schema_version", f"records use record schema {found}; the bundle was trained on {expected}"
        )


def check_panel(found: VariantPanel | None, where: str, expected: VariantPanel | None) -> None:
    """Refuse a store whose variant panel differs (size or variant ids) from the bundle's."""
    if expected is None or found is None:
        return
    if len(found) != len(expected):
        raise InputMismatchError(
            where, "genotype.dosages", f"variant panel {found.name!r} has {len(found)} variants; the bundle's panel "
            f"{expected.name!r} has {len(expected)}"
        )
    ours, theirs = [v.id for v in expected.variants], [v.id for v in found.variants]
    if ours != theirs:
        k = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        raise InputMismatchError(
            where, "genotype.dosages", f"variant {k} of panel {found.name!r} is {theirs[k]!r}; the bundle's panel "
            f"{expected.name!r} has {ours[k]!r} there"
        )


def _store_rows(store: RecordStore, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    missing = sorted(set(columns) - set(store.columns))
    if missing:
        raise ValueError(f"records: the RecordStore view was opened without columns {missing}")
    for i in range(len(store)):
        yield store.row(i)


def _table_rows(table: pa.Table, columns: Sequence[str]) -> Iterable[dict[str, Any]]:
    present = [c for c in columns if c in table.column_names]
    if "patient_id" not in present:
        raise InputMismatchError("<table>", "patient_id", "the table has no patient_id column")
    return iter_records(table.select(present))


def open_source(
    source: Source, columns: Sequence[str], schema_version: str, panel: VariantPanel | None
) -> tuple[Iterable[dict[str, Any]], int]:
    """``(records, count)`` from any :data:`Source`, reading only ``columns`` (plus patient_id and labels).

    Raises:
        InputMismatchError: the source's record schema major version or its variant panel differs from the bundle's.
    """
    wanted = list(dict.fromkeys([*BASE_COLUMNS, *columns]))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        meta_file = path / METADATA_FILE
        if not meta_file.is_file():
            raise FileNotFoundError(f"records: {path} is not a record store (no {METADATA_FILE})")
        meta = json.loads(meta_file.read_text())
        check_schema_version(meta.get("schema_version", "0"), f"<store {path}>", schema_version)
        source = RecordStore(path, columns=wanted)
    if isinstance(source, RecordStore):
        check_schema_version(source.metadata.get("schema_version"), f"<store {source.path}>", schema_version)
        check_panel(source.panel, f"<store {source.path}>", panel)
        return _store_rows(source, wanted), len(source)
    if isinstance(source, pa.Table):
        version = (source.schema.metadata or {}).get(b"nextgen_ml.schema_version", b"").decode()
        check_schema_version(version, "<table>", schema_version)
        return _table_rows(source, wanted), source.num_rows
    if isinstance(source, Mapping):
        raise TypeError("records: pass a list of record dicts, not a single record (wrap it in a list)")
    if isinstance(source, Sequence):
        bad = next((i for i, r in enumerate(source) if not isinstance(r, Mapping)), None)
        if bad is not None:
            raise TypeError(f"records[{bad}]: expected a record dict, got {type(source[bad]).__name__}")
        return list(source), len(source)
    raise TypeError(
        f"records: expected record dicts, a pyarrow Table, a RecordStore or a store path, got {type(source).__name__}"
    )
