"""DICOM headers: the PS3.15 Basic Profile (dicom-anonymizer) runs before any field is stored, then the allow-list.

Real pydicom test files with planted identifiers, ingested through the pipeline; nothing is mocked.
"""

from __future__ import annotations

import pydicom
import pytest

from nextgen_ml.ingest.deid import Pseudonymiser
from nextgen_ml.ingest.dicom_common import dicom_metadata
from nextgen_ml.ingest.dicom_profile import PROFILE_EDITION, apply_basic_profile, profile_method
from nextgen_ml.ingest.manifest import parse_manifest
from nextgen_ml.ingest.pipeline import ingest

from .conftest import TEST_KEY, pydicom_file
from .phi_dicom import CASES, HEADER_PHI, PRIVATE_PHI, write_export


def _planted(name: str = "CT_small.dcm") -> pydicom.Dataset:
    ds = pydicom.dcmread(pydicom_file(name))
    for keyword, value, _ in HEADER_PHI:
        setattr(ds, keyword, value)
    ds.private_block(0x0009, "ACME PHI 1.0", create=True).add_new(0x01, "LO", PRIVATE_PHI[0])
    return ds


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "waveform_ecg.dcm"])
def test_basic_profile_acts_on_every_planted_table_attribute(name):
    ds = _planted(name)
    before = {k: str(ds.get(k)) for k, _, _ in HEADER_PHI}
    header = apply_basic_profile(ds)
    for keyword, _, strings in HEADER_PHI:  # removed, emptied, replaced by a dummy or a dummy date
        kept = str(header.get(keyword) or "")
        assert not any(s.lower() in kept.lower() for s in strings), (keyword, kept)
    assert not any(elem.tag.is_private for elem in header)  # private tags removed
    assert PRIVATE_PHI[1][0] not in str(header)
    assert header.PatientIdentityRemoved == "YES" and PROFILE_EDITION in header.DeidentificationMethod
    assert {k: str(ds.get(k)) for k, _, _ in HEADER_PHI} == before  # the dataset that is decoded is untouched
    assert "PixelData" not in header and "WaveformSequence" not in header
    assert header.Modality == ds.Modality and header.SOPClassUID == ds.SOPClassUID  # kept by the profile


def test_metadata_names_the_profile_and_keeps_clean_values():
    ds = _planted()
    meta = dicom_metadata(ds, Pseudonymiser(TEST_KEY))
    assert meta["DeidentificationMethod"] == profile_method() and "dicom-anonymizer" in meta["DeidentificationMethod"]
    assert meta["Manufacturer"] == "GE MEDICAL SYSTEMS" and meta["ManufacturerModelName"] == "RHAPSODE"
    assert meta["acquisition_year"] == 2023 and meta["StudyInstanceUID"].startswith("u")
    ds.ManufacturerModelName = "RHAPSODE for Quixote"  # an allow-listed tag carrying the patient's name
    assert dicom_metadata(ds, Pseudonymiser(TEST_KEY))["ManufacturerModelName"] == "[REDACTED]"


def test_no_planted_dicom_phi_reaches_the_store(tmp_path):
    from .phi_dicom import score

    export = tmp_path / "export"
    export.mkdir()
    manifest = parse_manifest(write_export(export), export, export / "m.yaml")
    report = ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False)
    counts = report.counts()
    assert counts["records_written"] == counts["files_ingested"] == len(CASES)
    result = score(tmp_path / "store")
    assert result["header_recall"] == 1.0  # every identifier of Table E.1-1 and the private tag, every file
    assert all("unknown to ingest" in leak for leak in result["leaks"]), result["leaks"]
    assert result["allow_list_recall"] >= 10 / 12  # only the name and the short id no header holds survive
    assert result["precision"] == 1.0 and result["clean_kept"] == 1.0
    assert result["deidentification"] == {profile_method(): len(CASES)}  # the report says what ran, on how many
    assert f"de-identified {len(CASES)} file(s): {profile_method()}" in report.summary()  # the CLI table too
    raw = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert b"GE MEDICAL SYSTEMS" in raw  # the store's bytes are searchable (not compressed)
    for value in ("Quixote", "MRN-004711", "19580617", "Ehrlich", "Panza", "Elsewhere"):
        assert value.encode() not in raw, value


def test_profile_runs_on_every_dicom_file_pydicom_ships():
    from pathlib import Path

    import pydicom.data

    files = sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm"))
    assert len(files) >= 50
    profiled = 0
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - deliberately broken files of pydicom's own tests
            continue
        header = apply_basic_profile(ds)  # must not raise on any VR pydicom's test files hold
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName"):
            original, kept = str(ds.get(keyword) or ""), str(header.get(keyword) or "")
            assert not original or original in ("00010101",) or kept != original, (path.name, keyword, kept)
        assert not any(elem.tag.is_private for elem in header), path.name
        profiled += 1
    assert profiled >= 50
