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


def _builtin_specs() -> dict:
    from nextgen_ml.modalities import builtin_modalities, modality_spec

    return {name: modality_spec(name) for name in builtin_modalities()}


__all__ = ["DIAGNOSIS_CLASSES", "FINDING_CLASSES", "SYNTHETIC_DICTIONARY", "record_schema", "RECORD_SCHEMA"]

#: 2.0.0: ``tabular`` and ``labels`` are declared by the store's data dictionary (survival labels are structs).
SCHEMA_VERSION = "2.0.0"

#: record-schema majors whose model inputs are the same: 2.0 changed how ``tabular`` and ``labels`` are declared
#: (data dictionaries), not the modality payloads, so a model trained on 1.x reads 2.x records and vice versa.
SAME_INPUT_MAJORS: frozenset[str] = frozenset({"1", "2"})


def same_model_inputs(version_a: str, version_b: str) -> bool:
    """Whether records of schema ``version_a`` fit a model trained on records of schema ``version_b``."""
    majors = {str(version_a).split(".")[0], str(version_b).split(".")[0]}
    return len(majors) == 1 or majors <= SAME_INPUT_MAJORS

#: Standard 12-lead order used everywhere in the record and the models.
ECG_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

#: The built-in modalities, in the canonical (sorted) order fusion iterates over, and the record column of each;
#: both come from the modality registry (:mod:`nextgen_ml.modalities`, where plugins add more).
MODALITIES: tuple[str, ...] = tuple(_builtin_specs())
MODALITY_COLUMN: dict[str, str] = {name: spec.column for name, spec in _builtin_specs().items()}

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

    ``tabular`` has one field per declared variable and ``labels`` one per declared label; every modality column
    comes from its :class:`~nextgen_ml.modalities.ModalitySpec` (plugins included); identity, consent and
    provenance are fixed by the package.
    """
    from nextgen_ml.modalities import modality_specs

    # built-in columns in schema order, then plugins in registration order
    columns = [pa.field(s.column, dictionary.tabular_type() if s.name == "tabular" else s.arrow_type)
               for s in modality_specs()]
    consent = pa.struct(
        [
            pa.field("codes", pa.list_(pa.string()), nullable=False),  # DUO CURIEs
            pa.field("diseases", pa.list_(pa.string())),  # MONDO CURIEs restricting DS
        ]
    )
    fields = [
        pa.field("patient_id", pa.string(), nullable=False),
        pa.field("site", pa.string(), nullable=False),
        pa.field("consent", consent, nullable=False),
        pa.field("split", pa.string()),
        *columns,
        pa.field("labels", dictionary.labels_type()),
        pa.field("provenance", _provenance_type()),
    ]
    meta = {
        "nextgen_ml.schema_version": SCHEMA_VERSION,
        "nextgen_ml.dictionary": dictionary.model_dump_json(),
    }
    return pa.schema(fields, metadata=meta)


RECORD_SCHEMA: pa.Schema = record_schema()
