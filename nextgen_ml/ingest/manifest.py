"""The ingest manifest (YAML): site, consent, options, cohort-level files and, per patient, source files.

See ``docs/ingest.md`` for the full format. Paths are relative to the manifest's folder. Errors name the
manifest field (``patients[3].files[0].format``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.schema import DUO_GRU
from nextgen_ml.ingest.paths import display_uri

#: Per-patient file formats the pipeline can read.
FILE_FORMATS: tuple[str, ...] = ("dicom", "dicom_image", "dicom_ecg", "wfdb", "nifti", "fhir", "wav", "wearable")
_EXTENSIONS: dict[str, str] = {
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".hea": "wfdb",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".json": "fhir",
    ".wav": "wav",
    ".csv": "wearable",
    ".parquet": "wearable",
}


@dataclass(frozen=True)
class IngestOptions:
    """Conversion options (manifest ``options:``; CLI flags override them).

    Args:
        ecg_fs_hz: the record's ECG sampling rate; every ECG is resampled to it.
        ecg_waveform_group: index of the DICOM waveform multiplex group to use (default: the rhythm group).
        image_target_spacing_mm: resample images to this spacing (applies to the trailing axes); None = keep.
        image_size: center-crop/pad images to this size (trailing axes); None = keep.
        image_max_frames: refuse images with more frames than this (bounded memory).
        default_image_modality: DICOM modality code for NIfTI files (which do not carry one).
        image_modalities: DICOM modalities accepted as cardiac images; other images are quarantined.
        fhir_absent_means_no: conditions/medications absent from a FHIR bundle count as ``"no"``.
        store_format: ``"ipc"`` or ``"parquet"``.
        chunk_size: patients per store write (bounded memory).
        heart_sound_fs_hz: resample heart sounds to this rate; None keeps the file's rate (the files of one
            patient's folder must then agree).
        allow_outside_paths: allow files outside the manifest's folder (``../``, absolute paths, symlinks).
        file_max_bytes: larger files are quarantined before they are opened.
        image_max_bytes: images whose header claims more decoded bytes (float32) are quarantined before decoding.
        ecg_min_fs_hz: lowest accepted ECG sampling rate (from the header, before decoding).
        ecg_max_fs_hz: highest accepted ECG sampling rate.
        ecg_max_seconds: longest accepted ECG (header samples / rate).
        ecg_max_resample_ratio: largest accepted up- or down-sampling factor to ``ecg_fs_hz`` (and of heart sounds
            to ``heart_sound_fs_hz``).
        ecg_max_clipped_fraction: ECGs with more samples outside the stored int16 µV range are quarantined
            (typically samples in µV declared as V or mV).
        ecg_min_peak_uv: ECGs whose largest absolute sample is below this are quarantined (flat, or samples in
            a larger unit than declared).
        json_max_bytes: larger FHIR JSON files are quarantined before parsing.
        json_max_depth: FHIR JSON nested deeper than this is quarantined before parsing.
        workers: decode files in this many worker processes (0 = in the main process).
        file_timeout_s: with workers, a file whose decoding takes longer is quarantined (None = no limit).
        worker_memory_mb: with workers, address-space limit per worker (None = no limit); a decoder exceeding
            it fails with MemoryError and only its file is quarantined.
        engine: with workers, what runs them: ``"pool"`` (local processes, pebble) or ``"ray"`` (Ray tasks: a
            local Ray instance of ``workers`` CPUs, or the cluster named by ``RAY_ADDRESS``).
    """

    ecg_fs_hz: float = 500.0
    ecg_waveform_group: int | None = None
    image_target_spacing_mm: tuple[float, ...] | None = None
    image_size: tuple[int, ...] | None = None
    image_max_frames: int = 512
    default_image_modality: str = "MR"
    image_modalities: tuple[str, ...] = ("CT", "MR", "US")
    fhir_absent_means_no: bool = True
    store_format: str = "ipc"
    chunk_size: int = 64
    heart_sound_fs_hz: float | None = None
    allow_outside_paths: bool = False
    file_max_bytes: int = 8 << 30
    image_max_bytes: int = 2 << 30
    ecg_min_fs_hz: float = 50.0
    ecg_max_fs_hz: float = 20_000.0
    ecg_max_seconds: float = 600.0
    ecg_max_resample_ratio: float = 100.0
    ecg_max_clipped_fraction: float = 0.001
    ecg_min_peak_uv: float = 5.0
    json_max_bytes: int = 64 << 20
    json_max_depth: int = 64
    workers: int = 0
    file_timeout_s: float | None = 600.0
    worker_memory_mb: int | None = None
    engine: str = "pool"


@dataclass(frozen=True)
class SourceFile:
    """One per-patient file: ``path`` (absolute), ``format``, reader hints (``view``, ``modality``) and
    format-specific reader ``options`` (e.g. a wearable export's column map)."""

    path: Path
    format: str
    view: str | None = None
    modality: str | None = None
    raw_path: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CsvSource:
    """A cohort CSV: one row per patient, ``id_column`` holds the manifest patient id.

    Args:
        path: CSV file.
        id_column: column with the hospital patient id (matched against ``patients[].id``).
        columns: CSV column → ``{"variable": declared (or catalogue) variable, "unit": unit of the CSV values,
            "values": {csv value: category}, "missing": [csv values meaning not measured]}``; a ``birth_year``
            or ``birth_date`` variable gives age.
        reference_year: visit year used to turn a birth year into an age (default: a ``visit_date`` column).
        labels: declared label → ``{"column", "values", "missing", "unit"}`` (survival: ``{"time", "event",
            "time_unit"}``).
    """

    path: Path
    id_column: str
    columns: dict[str, dict[str, Any]]
    reference_year: int | None = None
    raw_path: str = ""
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientEntry:
    """One patient of the manifest."""

    index: int
    id: str
    files: tuple[SourceFile, ...]
    vcf_sample: str | None = None
    split: str | None = None
    labels: dict[str, Any] | None = None
    consent: dict[str, Any] | None = None


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest. ``sha256`` hashes the manifest text (recorded in the store metadata); ``base`` is the
    folder its relative paths resolve against."""

    path: Path
    sha256: str
    site: str
    consent: dict[str, Any]
    key_env: str | None
    options: IngestOptions
    panel: Path | None
    panel_from_store: Path | None
    vcfs: tuple[Path, ...]
    vcf_uris: tuple[str, ...]
    csvs: tuple[CsvSource, ...]
    patients: tuple[PatientEntry, ...]
    base: Path = Path(".")
    dictionary: DataDictionary = SYNTHETIC_DICTIONARY


def infer_format(path: str | os.PathLike) -> str | None:
    """Reader for a path from its extension (``None`` when the extension is unknown)."""
    name = str(path).lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return _EXTENSIONS[ext]
    return "dicom" if Path(path).is_dir() else None


def _require(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj or obj[key] in (None, ""):
        raise ValueError(f"manifest {where}{key}: required field is missing")
    return obj[key]


def _resolve(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def _options(raw: dict[str, Any]) -> IngestOptions:
    from nextgen_ml.ingest.manifest_schema import validate_options

    return check_options(validate_options(raw, IngestOptions))


#: Options that must be > 0 when set, and options that must be >= 1.
_POSITIVE = (
    "ecg_fs_hz",
    "heart_sound_fs_hz",
    "ecg_min_fs_hz",
    "ecg_max_fs_hz",
    "ecg_max_seconds",
    "file_max_bytes",
    "image_max_bytes",
    "json_max_bytes",
    "file_timeout_s",
    "worker_memory_mb",
)
_AT_LEAST_ONE = ("chunk_size", "image_max_frames", "json_max_depth", "ecg_max_resample_ratio")


def check_options(opts: IngestOptions) -> IngestOptions:
    """Validate option values; errors name the option. Returns ``opts``."""
    for name in _POSITIVE:
        value = getattr(opts, name)
        if value is not None and not value > 0:
            raise ValueError(f"options.{name}: must be positive, got {value}")
    for name in _AT_LEAST_ONE:
        if not getattr(opts, name) >= 1:
            raise ValueError(f"options.{name}: must be >= 1, got {getattr(opts, name)}")
    if opts.store_format not in ("ipc", "parquet"):
        raise ValueError(f"options.store_format: must be 'ipc' or 'parquet', got {opts.store_format!r}")
    if not 0 <= opts.ecg_max_clipped_fraction <= 1:
        raise ValueError(f"options.ecg_max_clipped_fraction: must be in [0, 1], got {opts.ecg_max_clipped_fraction}")
    if opts.workers < 0:
        raise ValueError(f"options.workers: must be >= 0, got {opts.workers}")
    if opts.engine not in ("pool", "ray"):
        raise ValueError(f"options.engine: must be 'pool' or 'ray', got {opts.engine!r}")
    if opts.ecg_min_fs_hz > opts.ecg_max_fs_hz:
        raise ValueError(f"options.ecg_min_fs_hz: {opts.ecg_min_fs_hz} exceeds ecg_max_fs_hz {opts.ecg_max_fs_hz}")
    return opts


def _source_file(base: Path, raw: Any, where: str) -> SourceFile:
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"manifest {where}: expected a path or a mapping, got {type(raw).__name__}")
    rel = str(_require(raw, "path", f"{where}."))
    path = _resolve(base, rel)
    fmt = raw.get("format") or infer_format(path)
    if fmt not in FILE_FORMATS:
        raise ValueError(f"manifest {where}.format: {fmt!r} is not one of {list(FILE_FORMATS)} (file {rel})")
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"manifest {where}.options: expected a mapping, got {type(options).__name__}")
    return SourceFile(path, fmt, raw.get("view"), raw.get("modality"), display_uri(base, rel), options)


def _csv_source(base: Path, raw: dict[str, Any], where: str) -> CsvSource:
    from nextgen_ml.ingest.manifest_dictionary import check_csv_spec

    if not isinstance(raw, dict):
        raise ValueError(f"manifest {where}: expected a mapping, got {type(raw).__name__}")
    columns = raw.get("columns") or {}
    labels = raw.get("labels") or {}
    if not columns and not labels:
        raise ValueError(f"manifest {where}.columns: required field is missing (map at least one column or label)")
    check_csv_spec(columns, labels, where)
    rel = str(_require(raw, "path", f"{where}."))
    return CsvSource(
        _resolve(base, rel), str(_require(raw, "id_column", f"{where}.")), columns, raw.get("reference_year"),
        display_uri(base, rel), labels,
    )


def _patient(base: Path, index: int, raw: dict[str, Any]) -> PatientEntry:
    where = f"patients[{index}]"
    files = tuple(_source_file(base, f, f"{where}.files[{j}]") for j, f in enumerate(raw.get("files") or []))
    sample = raw.get("vcf_sample")
    return PatientEntry(
        index=index,
        id=str(_require(raw, "id", f"{where}.")),
        files=files,
        vcf_sample=None if sample is None else str(sample),
        split=raw.get("split"),
        labels=raw.get("labels"),
        consent=raw.get("consent"),
    )


def parse_manifest(text: str, base: str | os.PathLike, path: str | os.PathLike = "<string>") -> Manifest:
    """Parse manifest YAML ``text``; relative paths resolve against ``base``.

    Raises:
        ValueError: the first problem in one line naming the key path (``manifest patients[2].files: ...``):
            not YAML, not the schema of :mod:`nextgen_ml.ingest.manifest_schema`, an unknown DUO code, or a path
            outside ``base`` (unless ``options.allow_outside_paths``).
    """
    from nextgen_ml.ingest.manifest_schema import validate_manifest_dict
    from nextgen_ml.ingest.paths import check_paths, load_yaml

    raw = load_yaml(text, path)
    validate_manifest_dict(raw)
    options = _options(raw.get("options") or {})  # a typo in an option is named before anything else
    base = Path(base)
    patients_raw = raw.get("patients") or []
    if not patients_raw and not raw.get("clinical_csv"):
        raise ValueError(
            "manifest patients: required field is missing (or give a clinical_csv: its rows are the patients)"
        )
    if not isinstance(patients_raw, list):
        raise ValueError("manifest patients: expected a list")
    patients = tuple(_patient(base, i, p) for i, p in enumerate(patients_raw))
    ids = [p.id for p in patients]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(
            f"manifest patients: duplicate patient ids ({len(dup)} of them, first at index {ids.index(dup[0])})"
        )
    consent = raw.get("consent") or {"codes": [DUO_GRU]}
    if not consent.get("codes"):
        raise ValueError("manifest consent.codes: at least one DUO code is required")
    deid = raw.get("deid") or {}
    genotypes = raw.get("genotypes") or []
    vcf_uris = tuple(str(_require(g, "path", f"genotypes[{i}].")) for i, g in enumerate(genotypes))
    csvs = tuple(_csv_source(base, c, f"clinical_csv[{i}]") for i, c in enumerate(raw.get("clinical_csv") or []))
    from nextgen_ml.ingest.manifest_dictionary import manifest_dictionary

    has_fhir = any(f.format == "fhir" for p in patients for f in p.files)
    dictionary = manifest_dictionary(raw.get("dictionary"), csvs, patients, base, has_fhir)
    manifest = Manifest(
        path=Path(path),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        site=str(_require(raw, "site", "")),
        consent={"codes": list(consent["codes"]), "diseases": consent.get("diseases")},
        key_env=deid.get("key_env"),
        options=options,
        panel=None if raw.get("panel") is None else _resolve(base, raw["panel"]),
        panel_from_store=None if raw.get("panel_from_store") is None else _resolve(base, raw["panel_from_store"]),
        vcfs=tuple(_resolve(base, u) for u in vcf_uris),
        vcf_uris=tuple(display_uri(base, u) for u in vcf_uris),
        csvs=csvs,
        patients=patients,
        base=base,
        dictionary=dictionary,
    )
    check_paths(manifest, base)
    return manifest


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and parse a manifest file."""
    from nextgen_ml.ingest.paths import read_manifest_text

    path = Path(path)
    return parse_manifest(read_manifest_text(path), path.parent, path)
