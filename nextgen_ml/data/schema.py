"""The multimodal cardiology record: one versioned Arrow schema, one row per patient (or visit).

Every field is documented in ``docs/record.md``. A missing modality is a null struct, never a zero-filled
array. Tabular variables carry their UCUM unit and LOINC/SNOMED code in Arrow field metadata so that the
clinical context travels with the data.

Layout of the binary payloads (all little-endian, C order):

* ``ecg.signal``: ``int16`` microvolts, shape ``(n_leads, n_samples)``.
* ``image.pixels``: ``image.dtype`` (``uint8``/``uint16``/``int16``/``float32``), shape ``image.shape``:
  ``(frames, H, W)`` for 2D cine, ``(frames, D, H, W)`` for 3D cine.
* ``heart_sound.signal``: ``int16`` PCM (full scale 32768), shape ``(n_sites, n_samples)``.
* ``wearable.channels[k].values``: ``float32``, the channel's segments concatenated (see ``docs/record.md``).
"""

from __future__ import annotations

import pyarrow as pa

from nextgen_ml.data.catalogue import DIAGNOSIS_CLASSES, FINDING_CLASSES, SYNTHETIC_DICTIONARY
from nextgen_ml.data.dictionary import DataDictionary, Variable

__all__ = ["DIAGNOSIS_CLASSES", "FINDING_CLASSES", "SYNTHETIC_DICTIONARY", "record_schema", "RECORD_SCHEMA"]

#: 2.0.0: ``tabular`` and ``labels`` are declared by the store's data dictionary (survival labels are structs).
SCHEMA_VERSION = "2.0.0"

#: Standard 12-lead order used everywhere in the record and the models.
ECG_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

#: Modalities a record can hold, in the canonical (sorted) order fusion iterates over.
MODALITIES: tuple[str, ...] = ("ecg", "genomics", "heart_sound", "image", "tabular", "text", "wearable")

#: Record column holding each modality's payload.
MODALITY_COLUMN: dict[str, str] = {
    "ecg": "ecg",
    "genomics": "genotype",
    "heart_sound": "heart_sound",
    "image": "image",
    "tabular": "tabular",
    "text": "text",
    "wearable": "wearable",
}

#: Auscultation sites (PhysioNet/CirCor 2022 codes): aortic, pulmonic, tricuspid, mitral; "Phc" = other/unknown.
AUSCULTATION_SITES: tuple[str, ...] = ("AV", "PV", "TV", "MV", "Phc")

#: Record columns added after schema 2.0.0 (an older 2.x store lacks them; ``RecordStore`` exposes them as all-null).
COLUMNS_SINCE: dict[str, str] = {}

# GA4GH DUO codes used by the synthetic cohort (full matching logic lives in nextgen_ml.governance).
DUO_GRU = "DUO:0000042"  # general research use
DUO_HMB = "DUO:0000006"  # health or medical or biomedical research
DUO_DS = "DUO:0000007"  # disease specific research
DUO_NPU = "DUO:0000045"  # not-for-profit use only
DUO_NMDS = "DUO:0000015"  # no general methods research


#: The synthetic cohort's tabular variables (catalogue entries) and outcome vocabularies. A store declares its own
#: variables and labels in its data dictionary (:mod:`nextgen_ml.data.dictionary`); these are defaults, not limits.
TABULAR_VARIABLES: tuple[Variable, ...] = tuple(SYNTHETIC_DICTIONARY.variables.values())
TABULAR_BY_NAME: dict[str, Variable] = dict(SYNTHETIC_DICTIONARY.variables)


def _provenance_type() -> pa.DataType:
    return pa.list_(
        pa.struct(
            [
                pa.field("modality", pa.string(), nullable=False),
                pa.field("format", pa.string(), nullable=False),
                pa.field("uri", pa.string()),
                pa.field("sha256", pa.string()),
                pa.field("metadata", pa.string()),  # JSON object of key original metadata
            ]
        )
    )


def record_schema(dictionary: DataDictionary = SYNTHETIC_DICTIONARY) -> pa.Schema:
    """The Arrow schema of the record (version :data:`SCHEMA_VERSION`) for a dataset's data dictionary.

    ``tabular`` has one field per declared variable and ``labels`` one per declared label; every other column is
    fixed by the package (modalities, consent, provenance).
    """
    ecg = pa.struct(
        [
            pa.field("signal", pa.binary(), nullable=False),  # int16 µV, (n_leads, n_samples)
            pa.field("leads", pa.list_(pa.string()), nullable=False),
            pa.field("fs_hz", pa.float32(), nullable=False),
            pa.field("n_samples", pa.int32(), nullable=False),
            pa.field("units", pa.string(), nullable=False),  # UCUM, "uV"
        ]
    )
    image = pa.struct(
        [
            pa.field("pixels", pa.binary(), nullable=False),
            pa.field("shape", pa.list_(pa.int32()), nullable=False),  # (frames, [D,] H, W)
            pa.field("dtype", pa.string(), nullable=False),
            pa.field("spacing_mm", pa.list_(pa.float32()), nullable=False),  # ([D,] H, W) spacing
            pa.field("modality", pa.string(), nullable=False),  # DICOM modality: MR, CT, US
            pa.field("view", pa.string()),  # e.g. "SAX" short-axis
            pa.field("frame_time_ms", pa.float32()),  # time between cine frames
            pa.field("frame_labels", pa.list_(pa.string())),  # e.g. ["ED", "ES"]
        ]
    )
    genotype = pa.struct(
        [
            pa.field("dosages", pa.list_(pa.float32()), nullable=False),  # alt-allele dosage per panel variant
            pa.field("prs", pa.float32()),  # polygenic risk score (standardised)
        ]
    )
    tabular = dictionary.tabular_type()
    heart_sound = pa.struct(
        [
            pa.field("signal", pa.binary(), nullable=False),  # int16 PCM, (n_sites, n_samples)
            pa.field("sites", pa.list_(pa.string()), nullable=False),  # auscultation site per row
            pa.field("fs_hz", pa.float32(), nullable=False),
            pa.field("n_samples", pa.int32(), nullable=False),
        ]
    )
    wearable_channel = pa.struct(
        [
            pa.field("name", pa.string(), nullable=False),  # e.g. heart_rate, hrv_rmssd, activity, ppg
            pa.field("units", pa.string(), nullable=False),  # UCUM, e.g. "/min", "ms", "1"
            pa.field("fs_hz", pa.float32(), nullable=False),  # sampling rate inside each segment
            pa.field("segment_start_s", pa.list_(pa.float64()), nullable=False),  # seconds from the recording start
            pa.field("segment_length", pa.list_(pa.int32()), nullable=False),  # samples per segment
            pa.field("values", pa.binary(), nullable=False),  # float32, segments concatenated
        ]
    )
    wearable = pa.struct(
        [
            pa.field("channels", pa.list_(wearable_channel), nullable=False),
            pa.field("duration_s", pa.float64(), nullable=False),  # recording span (gaps included)
            pa.field("start_hour", pa.float32()),  # local time of day at the start, hours (no date)
            pa.field("device", pa.string()),
        ]
    )
    consent = pa.struct(
        [
            pa.field("codes", pa.list_(pa.string()), nullable=False),  # DUO CURIEs
            pa.field("diseases", pa.list_(pa.string())),  # MONDO CURIEs restricting DS
        ]
    )
    labels = dictionary.labels_type()
    fields = [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("site", pa.string(), nullable=False),
        pa.field("consent", consent, nullable=False),
        pa.field("split", pa.string()),
        pa.field("tabular", tabular),
        pa.field("ecg", ecg),
        pa.field("image", image),
        pa.field("genotype", genotype),
        pa.field("text", pa.string()),
        pa.field("heart_sound", heart_sound),
        pa.field("wearable", wearable),
        pa.field("labels", labels),
        pa.field("provenance", _provenance_type()),
    ]
    meta = {
        "nextgen_ml.schema_version": SCHEMA_VERSION,
        "nextgen_ml.dictionary": dictionary.model_dump_json(),
    }
    return pa.schema(fields, metadata=meta)


RECORD_SCHEMA: pa.Schema = record_schema()
