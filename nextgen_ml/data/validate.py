"""Validate records against the schema and clinical plausibility; errors name the record and the field."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.codec import decode_ecg, decode_heart_sound, decode_image, decode_wearable_channel
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.schema import SCHEMA_VERSION, record_schema
from nextgen_ml.modalities import modality_names, modality_specs

_SCHEMAS: dict[str, pa.Schema] = {}  # (dictionary fingerprint, modalities) → schema


def _schema(dictionary: DataDictionary) -> pa.Schema:
    """The record schema for ``dictionary`` and the modalities registered now (plugins change it)."""
    key = dictionary.fingerprint() + "/" + ",".join(modality_names())
    if key not in _SCHEMAS:
        _SCHEMAS[key] = record_schema(dictionary)
    return _SCHEMAS[key]


class RecordValidationError(ValueError):
    """A record breaks the schema. ``record`` and ``field`` say where."""

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record, self.field = record, field
        super().__init__(f"record {record!r}, field {field!r}: {message}")


def check_tabular(
    pid: str, tab: dict[str, Any], dictionary: DataDictionary = SYNTHETIC_DICTIONARY, **_: Any
) -> None:
    """Every variable declared in ``dictionary`` and valid for its kind, categories and range."""
    _check_declared(pid, "tabular", tab, dictionary.variables, "variable", nan_hint=" (use null)")


def _check_declared(
    pid: str, column: str, values: dict[str, Any], declared: dict[str, Any], what: str, nan_hint: str = ""
) -> None:
    """Each ``values`` key declared (a :class:`Variable` or :class:`Label`) and its value valid for it."""
    for name, value in values.items():
        if name not in declared:
            raise RecordValidationError(pid, f"{column}.{name}", f"not a {what} of the data dictionary")
        problem = declared[name].check(value)
        if problem is not None:
            hint = nan_hint if "number" in problem else ""
            raise RecordValidationError(pid, f"{column}.{name}", problem + hint)


def check_ecg(pid: str, ecg: dict[str, Any], **_: Any) -> None:
    """Sampling rate > 0, unique lead names, a decodable signal."""
    if ecg["fs_hz"] is None or not ecg["fs_hz"] > 0:
        raise RecordValidationError(pid, "ecg.fs_hz", f"sampling rate must be positive, got {ecg['fs_hz']}")
    if len(set(ecg["leads"])) != len(ecg["leads"]):
        raise RecordValidationError(pid, "ecg.leads", f"duplicate lead names {ecg['leads']}")
    try:
        decode_ecg(ecg)
    except ValueError as err:
        raise RecordValidationError(pid, "ecg.signal", str(err)) from None


def check_image(pid: str, image: dict[str, Any], **_: Any) -> None:
    """Decodable pixels, one positive spacing per spatial axis, finite float pixels."""
    try:
        pixels = decode_image(image)
    except (ValueError, TypeError) as err:
        raise RecordValidationError(pid, "image.pixels", str(err)) from None
    if len(image["spacing_mm"]) != pixels.ndim - 1:
        raise RecordValidationError(pid, "image.spacing_mm", f"needs {pixels.ndim - 1} values")
    if any(not s > 0 for s in image["spacing_mm"]):
        raise RecordValidationError(pid, "image.spacing_mm", f"spacing must be positive: {image['spacing_mm']}")
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        raise RecordValidationError(pid, "image.pixels", "contains NaN or infinite values")


def check_genotype(pid: str, geno: dict[str, Any], panel_size: int | None = None, **_: Any) -> None:
    """One dosage per panel variant, each in [0, 2] or missing."""
    dos = np.asarray(geno["dosages"], dtype=np.float64)
    if panel_size is not None and dos.size != panel_size:
        raise RecordValidationError(pid, "genotype.dosages", f"{dos.size} dosages for a panel of {panel_size}")
    ok = np.isnan(dos) | ((dos >= 0) & (dos <= 2))
    if not ok.all():
        raise RecordValidationError(pid, "genotype.dosages", f"dosage outside [0, 2] at index {int(np.argmin(ok))}")


def validate_record(
    record: dict[str, Any], panel_size: int | None = None, dictionary: DataDictionary = SYNTHETIC_DICTIONARY
) -> None:
    """Raise :class:`RecordValidationError` if one record (a Python dict) breaks the schema of ``dictionary``."""
    schema = _schema(dictionary)
    pid = str(record.get("patient_id") or "<no patient_id>")
    for name in ("patient_id", "site", "consent"):
        if not record.get(name):
            raise RecordValidationError(pid, name, "required field is missing or empty")
    unknown = set(record) - set(schema.names)
    if unknown:
        raise RecordValidationError(pid, sorted(unknown)[0], "not a field of the record schema")
    if not record["consent"].get("codes"):
        raise RecordValidationError(pid, "consent.codes", "a record needs at least one DUO code")
    context = {"panel_size": panel_size, "dictionary": dictionary}
    for spec in modality_specs():  # each modality's own validation (declared in its spec)
        spec.check(pid, record.get(spec.column), **context)
    if record.get("labels") is not None:
        _check_declared(pid, "labels", record["labels"], dictionary.labels, "label")
    # The Arrow conversion catches wrong types the checks above do not look at.
    try:
        pa.Table.from_pylist([record], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as err:
        raise RecordValidationError(pid, "<type>", str(err)) from None


def validate_table(
    table: pa.Table, panel_size: int | None = None, dictionary: DataDictionary = SYNTHETIC_DICTIONARY
) -> int:
    """Validate every row of a record table; returns the number of rows checked."""
    version = (table.schema.metadata or {}).get(b"nextgen_ml.schema_version", b"").decode()
    if version and version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise RecordValidationError("<table>", "schema_version", f"{version} is incompatible with {SCHEMA_VERSION}")
    for record in iter_records(table):
        validate_record(record, panel_size, dictionary)
    return table.num_rows


def iter_records(table: pa.Table, batch_size: int = 256) -> Iterable[dict[str, Any]]:
    """Rows of a table as Python dicts, converted a batch at a time (bounded memory)."""
    for batch in table.to_batches(max_chunksize=batch_size):
        yield from batch.to_pylist()


def check_heart_sound(pid: str, heart_sound: dict[str, Any], **_: Any) -> None:
    """Sampling rate > 0, one unique site name per row, signal size = sites x samples."""
    fs = heart_sound.get("fs_hz")
    if fs is None or not fs > 0:
        raise RecordValidationError(pid, "heart_sound.fs_hz", f"sampling rate must be positive, got {fs}")
    sites = heart_sound.get("sites") or []
    if not sites or len(set(sites)) != len(sites):
        raise RecordValidationError(pid, "heart_sound.sites", f"needs unique auscultation site names, got {sites}")
    if not (heart_sound.get("n_samples") or 0) > 0:
        raise RecordValidationError(pid, "heart_sound.n_samples", "recording is empty")
    try:
        decode_heart_sound(heart_sound)
    except (ValueError, TypeError) as err:
        raise RecordValidationError(pid, "heart_sound.signal", str(err)) from None


def check_wearable(pid: str, wearable: dict[str, Any], **_: Any) -> None:
    """Unique channel names, rates > 0, segment bookkeeping consistent, finite values inside the recording span."""
    channels = wearable.get("channels") or []
    names = [c.get("name") for c in channels]
    if not channels or len(set(names)) != len(names):
        raise RecordValidationError(pid, "wearable.channels", f"needs unique channel names, got {names}")
    span = wearable.get("duration_s")
    if span is None or not span >= 0 or math.isinf(span):
        raise RecordValidationError(pid, "wearable.duration_s", f"must be a finite span >= 0, got {span}")
    hour = wearable.get("start_hour")
    if hour is not None and not 0 <= hour < 24:
        raise RecordValidationError(pid, "wearable.start_hour", f"must be in [0, 24), got {hour}")
    for ch in channels:
        where = f"wearable.channels[{ch.get('name')}]"
        if ch.get("fs_hz") is None or not ch["fs_hz"] > 0:
            raise RecordValidationError(pid, f"{where}.fs_hz", f"sampling rate must be positive, got {ch.get('fs_hz')}")
        if any(n <= 0 for n in ch["segment_length"]):
            raise RecordValidationError(pid, f"{where}.segment_length", "segments must hold at least one sample")
        try:
            times, values = decode_wearable_channel(ch)
        except (ValueError, TypeError) as err:
            raise RecordValidationError(pid, f"{where}.values", str(err)) from None
        if not np.isfinite(values).all():
            raise RecordValidationError(pid, f"{where}.values", "NaN or infinite values (gaps are between segments)")
        starts = np.asarray(ch["segment_start_s"], dtype=np.float64)
        ends = starts + np.asarray(ch["segment_length"]) / ch["fs_hz"]
        if starts.size and (starts.min() < 0 or (starts[1:] < ends[:-1] - 1e-6).any()):
            raise RecordValidationError(pid, f"{where}.segment_start_s", "segments must be sorted, >= 0, not overlap")
        if times.size and times[-1] > span + 1e-3 + 1.0 / ch["fs_hz"]:
            raise RecordValidationError(pid, f"{where}.segment_start_s", f"samples beyond duration_s={span}")
