"""A planted-PHI DICOM set: pydicom's shipped files with identifiers planted in names, ids, dates, free text,
private tags and the allow-listed tags ingest stores.

:func:`write_export` writes one file per case (``CT_small.dcm`` for images, ``waveform_ecg.dcm`` for ECGs) and
the manifest listing them; :func:`score` reads the store and the report that ``nextgen-ml ingest`` wrote and
counts, per planted value, whether it survived anywhere in the patient's stored row, and, per stored allow-listed
field, whether a clean value was kept (precision).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Identifiers planted in every header, in attributes of PS3.15 Table E.1-1 (the profile's job): (keyword,
#: value, strings that must not survive).
HEADER_PHI: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("PatientName", "Quixote^Dulcinea", ("Quixote", "Dulcinea")),
    ("OtherPatientNames", "Toboso^Aldonza", ("Aldonza",)),
    ("PatientID", "MRN-004711", ("MRN-004711", "004711")),
    ("OtherPatientIDs", "PX-99887766", ("99887766",)),
    ("AccessionNumber", "ACC88231", ("ACC88231",)),
    ("PatientBirthDate", "19580617", ("19580617",)),
    ("StudyDate", "20230314", ("20230314",)),
    ("SeriesDate", "20230314", ("20230314",)),
    ("AcquisitionDate", "20230314", ("20230314",)),
    ("ContentDate", "20230314", ("20230314",)),
    ("PatientAddress", "12 Windmill Lane, Toboso", ("Windmill",)),
    ("PatientTelephoneNumbers", "(617) 555-0134", ("555-0134",)),
    ("InstitutionName", "St Elsewhere Hospital", ("Elsewhere",)),
    ("ReferringPhysicianName", "Ehrlich^Paul", ("Ehrlich",)),
    ("OperatorsName", "Nightingale^Florence", ("Nightingale",)),
    ("StudyDescription", "Dulcinea follow-up after MI", ("Dulcinea",)),
    ("PatientComments", "lives with her daughter Teresa", ("Teresa",)),
)
#: Planted in a private tag (removed with all private tags by the profile).
PRIVATE_PHI = ("Sancho Panza 55501", ("Panza", "55501"))


@dataclass(frozen=True)
class Case:
    """One file: an allow-listed (stored) tag given ``value``; ``phi`` are the strings that must not survive
    (empty for a clean control); ``known`` says whether ingest can know them (header, manifest, pattern)."""

    keyword: str
    value: str
    phi: tuple[str, ...] = ()
    known: bool = True
    ecg: bool = False


CASES: tuple[Case, ...] = (
    Case("ManufacturerModelName", "Vivid E95 (Dr Ehrlich)", ("Ehrlich",)),  # a physician named in the header
    Case("SoftwareVersions", "v2.1 MRN-004711", ("MRN-004711",)),  # the patient id
    Case("BodyPartExamined", "HEART QUIXOTE", ("QUIXOTE",)),  # the patient's name, upper case
    Case("Manufacturer", "GE service (617) 555-0134", ("555-0134",)),  # a phone number
    Case("ManufacturerModelName", "St Elsewhere Hospital unit 3", ("Elsewhere",)),  # the institution
    Case("SoftwareVersions", "installed 2023-03-14", ("2023-03-14",)),  # a full date
    Case("BodyPartExamined", "CHEST {hospital_id}", ("{hospital_id}",)),  # the manifest's hospital id
    Case("Manufacturer", "contact dq@toboso.es", ("dq@toboso.es",)),  # an e-mail address
    Case("SoftwareVersions", "ACC88231 build", ("ACC88231",)),  # the accession number
    Case("MultiplexGroupLabel", "RHYTHM Dulcinea", ("Dulcinea",), ecg=True),  # ECG group label: the patient's name
    Case("ManufacturerModelName", "console of Dr Watson", ("Watson",), known=False),  # a name no header holds
    Case("SoftwareVersions", "ward ID 4471-AB", ("4471-AB",), known=False),  # a short id
    # clean controls: must be stored unchanged
    Case("ManufacturerModelName", "Vivid E95"),
    Case("SoftwareVersions", "V3.51*P25"),
    Case("Manufacturer", "GE MEDICAL SYSTEMS"),
    Case("BodyPartExamined", "HEART"),
    Case("ManufacturerModelName", "SOMATOM Force 2.0"),
    Case("SoftwareVersions", "syngo MR E11 build 20.1.7"),
    Case("MultiplexGroupLabel", "RHYTHM", ecg=True),
)


def _hospital_id(k: int) -> str:
    return f"H12345{k:02d}"


def _plant(ds: Any, case: Case, hospital_id: str) -> None:
    for keyword, value, _ in HEADER_PHI:
        setattr(ds, keyword, value)
    ds.private_block(0x0009, "ACME PHI 1.0", create=True).add_new(0x01, "LO", PRIVATE_PHI[0])
    value = case.value.format(hospital_id=hospital_id)
    if case.keyword == "MultiplexGroupLabel":
        for group in ds.WaveformSequence:
            group.MultiplexGroupLabel = value
    else:
        setattr(ds, case.keyword, value)


def write_export(folder: Path) -> str:
    """Write every case's file into ``folder``; returns the manifest text (one patient per case)."""
    import pydicom
    from pydicom.data import get_testdata_file

    patients = []
    for k, case in enumerate(CASES):
        ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm" if case.ecg else "CT_small.dcm"))
        _plant(ds, case, _hospital_id(k))
        ds.save_as(folder / f"p{k:02d}.dcm")
        patients.append(f"  - {{id: {_hospital_id(k)}, files: [p{k:02d}.dcm]}}")
    return "site: s\npatients:\n" + "\n".join(patients) + "\n"


def _strings(value: Any) -> list[str]:
    """Every string in a stored row (nested dicts, lists), provenance metadata JSON included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def score(store: Path) -> dict[str, Any]:
    """Recall (planted values that did not survive) and precision (redacted fields that held PHI) of a store
    ingested from :func:`write_export`'s manifest."""
    from nextgen_ml.data.store import RecordStore

    rows = RecordStore(store)
    report = json.loads((store / "ingest_report.json").read_text())
    by_index = {p["index"]: p for p in report["patients"]}
    header = [s for _, _, strings in HEADER_PHI for s in strings] + list(PRIVATE_PHI[1])
    found = {"header": [0, 0], "allow_list": [0, 0]}  # [planted, removed]
    leaks: list[str] = []
    redacted_phi = redacted_clean = kept_clean = clean = 0
    row_of = {rows.row(i)["patient_id"]: rows.row(i) for i in range(len(rows))}
    for k, case in enumerate(CASES):
        row = row_of[by_index[k]["patient"]]
        text = "\n".join(_strings(row)).lower()
        phi = [s.format(hospital_id=_hospital_id(k)) for s in case.phi]
        for where, values in (("header", header), ("allow_list", phi)):
            for value in values:
                found[where][0] += 1
                if value.lower() in text:
                    leaks.append(f"case {k} {case.keyword}: {value}" + ("" if case.known else " (unknown to ingest)"))
                else:
                    found[where][1] += 1
        meta = json.loads(row["provenance"][0]["metadata"])
        stored = meta.get(case.keyword)
        if case.phi:
            redacted_phi += stored == "[REDACTED]"
        else:
            clean += 1
            kept_clean += stored == case.value
            redacted_clean += stored == "[REDACTED]"
    return {
        "cases": len(CASES),
        "header_planted": found["header"][0],
        "header_recall": found["header"][1] / found["header"][0],
        "allow_list_planted": found["allow_list"][0],
        "allow_list_recall": found["allow_list"][1] / found["allow_list"][0],
        "precision": redacted_phi / max(redacted_phi + redacted_clean, 1),
        "clean_kept": kept_clean / clean,
        "leaks": leaks,
        "deidentification": report["deidentification"],
    }
