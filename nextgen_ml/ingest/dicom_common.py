"""Reading DICOM files safely and keeping only an allow-list of de-identified metadata."""

from __future__ import annotations

import os
import re
from typing import Any

from nextgen_ml.ingest.deid import Pseudonymiser, year_of
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions

#: Non-identifying tags copied verbatim into provenance metadata.
_KEEP_TAGS: tuple[str, ...] = (
    "Modality",
    "SOPClassUID",
    "Manufacturer",
    "ManufacturerModelName",
    "SoftwareVersions",
    "BodyPartExamined",
    "MagneticFieldStrength",
    "SliceThickness",
)
#: UIDs kept only as keyed pseudonyms.
_UID_TAGS: tuple[str, ...] = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
#: Dates reduced to the year (first one present wins).
_DATE_TAGS: tuple[str, ...] = ("AcquisitionDate", "ContentDate", "SeriesDate", "StudyDate")


def read_dataset(path: str | os.PathLike, stop_before_pixels: bool = False) -> Any:
    """``pydicom.Dataset`` of ``path``; an unreadable or non-DICOM file raises :class:`IngestError`."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError as err:
        raise IngestError(path, "<file>", f"not a DICOM file ({err})") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise IngestError(path, "<file>", f"unreadable DICOM ({type(err).__name__}: {err})") from None


def read_checked(path: str | os.PathLike, options: IngestOptions) -> Any:
    """The dataset of ``path`` after its header's size claims passed the limits.

    The header is read first with ``stop_before_pixels``; an image whose Rows × Columns × NumberOfFrames ×
    SamplesPerPixel exceeds ``image_max_frames`` / ``image_max_bytes`` is refused before its pixel data is even
    read. A waveform object (no pixel data) is returned as read; its rate is checked by the ECG reader.
    """
    from nextgen_ml.ingest.limits import check_image_claim

    header = read_dataset(path, stop_before_pixels=True)
    if "WaveformSequence" in header:
        return header
    claim = [_int_tag(header, path, key, default) for key, default in _SIZE_TAGS]
    check_image_claim(path, claim, options, "Rows/Columns/NumberOfFrames", "NumberOfFrames")
    return read_dataset(path)


#: Header tags whose product is an image's size, frames first, with the value assumed when absent.
_SIZE_TAGS: tuple[tuple[str, int | None], ...] = (
    ("NumberOfFrames", 1),
    ("Rows", None),
    ("Columns", None),
    ("SamplesPerPixel", 1),
)


def _int_tag(ds: Any, path: str | os.PathLike, keyword: str, default: int | None) -> int:
    value = ds.get(keyword)
    if value in (None, ""):
        if default is None:
            raise IngestError(path, keyword, "required DICOM tag is missing or empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise IngestError(path, keyword, f"not an integer: {str(value)[:40]!r}") from None


def require(ds: Any, path: str | os.PathLike, keyword: str) -> Any:
    """``ds.<keyword>``, or :class:`IngestError` naming the missing tag."""
    value = ds.get(keyword)
    if value is None or value == "":
        raise IngestError(path, keyword, "required DICOM tag is missing or empty")
    return value


#: Person-name tags whose parts must not appear in the allow-listed free-text tags.
_NAME_TAGS: tuple[str, ...] = (
    "PatientName",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
)


def _person_name_parts(ds: Any) -> set[str]:
    """Lower-cased name components (family, given, middle) of every person named in the header."""
    from pydicom.multival import MultiValue

    parts: set[str] = set()
    for key in _NAME_TAGS:
        value = ds.get(key)
        for name in value if isinstance(value, (list, tuple, MultiValue)) else [value]:
            for part in str(name or "").replace("^", " ").replace(",", " ").split():
                if len(part) > 2:
                    parts.add(part.lower())
    return parts


def _clean(value: Any, names: set[str], identifiers: list[str]) -> str:
    """An allow-listed value, or ``[REDACTED]`` when it carries a name part, a header identifier or pattern PHI."""
    from nextgen_ml.ingest.phi import scrub_note

    text = str(value)
    words = set(re.findall(r"\w+", text.lower()))
    if words & names or scrub_note(text, identifiers) != text:
        return "[REDACTED]"
    return text


def dicom_metadata(ds: Any, pseudo: Pseudonymiser) -> dict[str, Any]:
    """De-identified key metadata: the Basic Profile applied first, then the allow-list (see
    :mod:`nextgen_ml.ingest.dicom_profile`): allow-listed tags read from the profiled header, cleaned of names,
    header identifiers and pattern PHI; UIDs as keyed pseudonyms; the acquisition year; the transfer syntax; the
    profile that ran (``DeidentificationMethod``)."""
    from nextgen_ml.ingest.dicom_profile import apply_basic_profile, header_identifiers, profile_method

    names, identifiers = _person_name_parts(ds), header_identifiers(ds)
    profiled = apply_basic_profile(ds)
    meta: dict[str, Any] = {}
    for key in _KEEP_TAGS:
        value = profiled.get(key)
        if value not in (None, ""):
            meta[key] = _clean(value, names, identifiers)
    for key in _UID_TAGS:  # action U of the profile, with keyed pseudonyms (stable across runs)
        if ds.get(key):
            meta[key] = pseudo.uid(str(ds.get(key)))
    for key in _DATE_TAGS:
        year = year_of(ds.get(key))
        if year is not None:
            meta["acquisition_year"] = year
            break
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None and "TransferSyntaxUID" in file_meta:
        meta["TransferSyntaxUID"] = str(file_meta.TransferSyntaxUID)
    meta["PatientIdentityRemoved"] = str(profiled.PatientIdentityRemoved)
    meta["DeidentificationMethod"] = profile_method()
    return meta


def clean_text_tag(ds: Any, value: Any) -> str:
    """A free-text tag the record keeps outside the allow-list (e.g. ``MultiplexGroupLabel``), cleaned as an
    allow-listed one."""
    from nextgen_ml.ingest.dicom_profile import header_identifiers

    return _clean(value or "", _person_name_parts(ds), header_identifiers(ds))
