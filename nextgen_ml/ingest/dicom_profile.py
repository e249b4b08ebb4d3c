"""DICOM header de-identification: the PS3.15 Basic Application Level Confidentiality Profile, then an allow-list.

Every DICOM header passes two lines before any of its fields is stored:

1. **The profile** (DICOM PS3.15 Annex E, Table E.1-1, edition :data:`PROFILE_EDITION`) as implemented by
   `dicom-anonymizer <https://github.com/KitwareMedical/dicom-anonymizer>`_ (Kitware): every attribute of the
   table gets its action (D replace, Z empty, X remove, U replace UID, and the combined actions); private tags are
   removed. It runs on a header-only copy (no pixel or waveform data); the decoded signal never sees it.
2. **The allow-list** (:func:`nextgen_ml.ingest.dicom_common.dicom_metadata`): only the fields the record needs
   are read from the profiled copy. Those tags are outside the table (the standard keeps them), so each value is
   also checked against what the profile removed: a word of any person name in the header, an identifier the
   header holds (patient/other ids, accession number, institution, addresses, phone numbers), or pattern PHI
   (:func:`nextgen_ml.ingest.phi.scrub_note`: dates, phones, e-mails, long digit runs). A hit stores
   ``[REDACTED]`` instead of the value (in the spirit of the profile's Clean Descriptors Option).

Two actions of the table are carried out by ingest itself, in conformance with their definition: study, series
and instance UIDs are replaced by keyed pseudonyms (action U: consistent within and across runs under the same
key), and only the acquisition year is kept of all dates (a coarsened Retain Longitudinal Temporal Information
Option).
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.metadata import version
from typing import Any

#: The Table E.1-1 edition dicom-anonymizer applies (a module of ``dicomanonymizer.dicom_anonymization_databases``).
PROFILE_EDITION = "2026c"
PROFILE_NAME = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"

#: Bulk data never copied into the header the profile sees: pixel data (group 7FE0) and the waveform sequence.
_WAVEFORM_SEQUENCE = 0x54000100
#: Value representations dicom-anonymizer has no dummy value for: binary, never stored, dropped before it runs.
_BINARY_VRS = frozenset({"OW", "OF", "OD", "OL", "OV", "SV", "UV", "AT", "US or SS", "US or OW", "OB or OW"})

#: Header attributes that hold identifiers (never stored; their values must not appear in a stored field).
IDENTIFIER_TAGS: tuple[str, ...] = (
    "PatientID",
    "OtherPatientIDs",
    "IssuerOfPatientID",
    "MedicalRecordLocator",
    "AccessionNumber",
    "StudyID",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "ReferringPhysicianAddress",
    "StationName",
    "DeviceSerialNumber",
    "RequestedProcedureID",
    "PerformedProcedureStepID",
)


def profile_method() -> str:
    """What ran, for the report and each file's provenance (``DeidentificationMethod``)."""
    return f"{PROFILE_NAME}, Table E.1-1 {PROFILE_EDITION} (dicom-anonymizer {version('dicom-anonymizer')})"


@cache
def _actions() -> dict[Any, Any]:
    from dicomanonymizer.simpledicomanonymizer import initialize_actions

    return initialize_actions(f"dicomfields_{PROFILE_EDITION}")


def _header_copy(ds: Any) -> Any:
    """A deep copy of ``ds`` without pixel data, the waveform sequence or binary values (small, cheap)."""
    from pydicom import Dataset

    header = Dataset()
    for elem in ds:
        if elem.tag.group == 0x7FE0 or elem.tag == _WAVEFORM_SEQUENCE or elem.VR in _BINARY_VRS:
            continue
        header.add(copy.deepcopy(elem))
    if getattr(ds, "file_meta", None) is not None:
        header.file_meta = copy.deepcopy(ds.file_meta)
    return header


def apply_basic_profile(ds: Any) -> Any:
    """A de-identified copy of ``ds``'s header: the Basic Profile's action applied to every Table E.1-1 attribute,
    private tags removed. ``ds`` itself is not modified.

    Args:
        ds: a ``pydicom.Dataset`` (pixel data, if read, is not copied).
    """
    from dicomanonymizer import simpledicomanonymizer as sda

    header = _header_copy(ds)
    sda.anonymize_dataset(header, base_rules_gen=lambda: dict(_actions()), delete_private_tags=True)
    sda.dictionary.clear()  # its random replacement UIDs are not used (ingest's keyed pseudonyms are)
    header.PatientIdentityRemoved = "YES"
    header.DeidentificationMethod = f"PS3.15 E.1-1 {PROFILE_EDITION} basic"  # LO: 64 characters at most
    return header


def header_identifiers(ds: Any) -> list[str]:
    """Values of :data:`IDENTIFIER_TAGS` in the original header (to keep them out of every stored field)."""
    from pydicom.multival import MultiValue

    found: list[str] = []
    for key in IDENTIFIER_TAGS:
        value = ds.get(key)
        for item in value if isinstance(value, (list, tuple, MultiValue)) else [value]:
            text = str(item or "").replace("^", " ").strip()
            if len(text) >= 3:
                found.append(text)
    return found
