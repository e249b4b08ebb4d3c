"""End to end: manifest → store + quarantine report, via the Python API and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from nibabel.testing import data_path

from nextgen_ml.cli import main
from nextgen_ml.data.codec import decode_ecg, decode_image
from nextgen_ml.data.store import RecordStore
from nextgen_ml.ingest.deid import KEY_ENV, Pseudonymiser
from nextgen_ml.ingest.manifest import load_manifest
from nextgen_ml.ingest.pipeline import ingest
from nextgen_ml.ingest.report import REPORT_FILE

from .conftest import (
    LIMB_AND_CHEST,
    TEST_KEY,
    copy,
    einthoven_ecg,
    fhir_fixture,
    garbage,
    pydicom_file,
    truncate,
    write_panel,
    write_vcf,
    write_wfdb,
)


@pytest.fixture
def cohort_dir(tmp_path: Path) -> Path:
    """A hospital export: real DICOM/NIfTI files, generated WFDB/VCF/CSV, corrupt copies, and a manifest."""
    src = tmp_path / "export"
    copy(pydicom_file("waveform_ecg.dcm"), src / "ecg" / "p1.dcm")
    copy(pydicom_file("examples_ybr_color.dcm"), src / "echo" / "p1.dcm")
    copy(fhir_fixture(), src / "fhir" / "p1.json")
    write_wfdb(
        src / "wfdb",
        "p2",
        einthoven_ecg(1000)[:, [0, 1, *range(6, 12)]],
        [LIMB_AND_CHEST[k] for k in [0, 1, *range(6, 12)]],
    )
    copy(Path(data_path) / "example4d.nii.gz", src / "mri" / "p2.nii.gz")
    truncate(pydicom_file("waveform_ecg.dcm"), src / "ecg" / "p3_truncated.dcm", 0.3)
    garbage(src / "echo" / "p3_garbage.dcm")
    nan = einthoven_ecg(500)
    nan[50:60, 7] = np.nan
    write_wfdb(src / "wfdb", "p4_nan", nan, LIMB_AND_CHEST)
    write_wfdb(src / "wfdb", "p6", einthoven_ecg(500), LIMB_AND_CHEST)
    write_vcf(src / "genotypes")
    write_panel(src)
    (src / "clinical.csv").write_text(
        "mrn,sex,yob,ldl_mgdl\nMRN-002,M,1961,120\nMRN-003,F,1970,95\nMRN-007,F,1955,900\nMRN-999,M,1950,100\n"
    )
    manifest = {
        "site": "hospital_a",
        "consent": {"codes": ["DUO:0000006"]},
        "deid": {"key_env": KEY_ENV},
        "options": {"ecg_fs_hz": 500, "chunk_size": 2},
        "panel": "panel.json",
        "genotypes": [{"path": "genotypes/cohort.vcf.gz"}],
        "clinical_csv": [
            {
                "path": "clinical.csv",
                "id_column": "mrn",
                "reference_year": 2024,
                "columns": {
                    "sex": {"variable": "sex", "values": {"M": "male", "F": "female"}},
                    "yob": {"variable": "birth_year"},
                    "ldl_mgdl": {"variable": "ldl", "unit": "mg/dL"},
                },
            }
        ],
        "patients": [
            {
                "id": "MRN-001",
                "vcf_sample": "S1",
                "split": "train",
                "labels": {"mace": 1, "diagnosis": "heart_failure"},
                "files": ["ecg/p1.dcm", {"path": "echo/p1.dcm", "view": "A4C"}, "fhir/p1.json"],
            },
            {"id": "MRN-002", "vcf_sample": "S2", "files": ["wfdb/p2.hea", {"path": "mri/p2.nii.gz", "view": "SAX"}]},
            {"id": "MRN-003", "files": ["ecg/p3_truncated.dcm", {"path": "echo/p3_garbage.dcm", "format": "dicom"}]},
            {"id": "MRN-004", "vcf_sample": "S9", "files": ["wfdb/p4_nan.hea"]},
            {"id": "MRN-005", "labels": {"diagnosis": "flu"}, "files": ["wfdb/p6.hea"]},
            {"id": "MRN-006", "files": ["wfdb/p6.hea", "ecg/p1.dcm"]},
            {"id": "MRN-007", "files": []},
        ],
    }
    (src / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return src


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_ingest_end_to_end(cohort_dir, tmp_path):
    out = tmp_path / "store"
    report = ingest(load_manifest(cohort_dir / "manifest.yaml"), out, progress=False)
    counts = report.counts()
    assert counts["files_in"] == counts["files_ingested"] + counts["files_quarantined"]
    assert counts["patients_in"] == 7 == counts["records_written"] + counts["patients_quarantined"]
    assert counts["records_written"] == 5 and counts["patients_quarantined"] == 2
    status = {p.index: p for p in report.patients}
    assert status[0].modalities == ["ecg", "genotype", "image", "tabular", "text"]
    assert status[1].modalities == ["ecg", "genotype", "image", "tabular"]
    assert status[2].status == "written" and status[2].modalities == ["tabular"]  # both files quarantined
    assert status[3].status == "quarantined" and status[3].field == "<record>"
    assert status[4].status == "quarantined" and status[4].field == "labels.diagnosis"
    # 900 mg/dL is implausible: the value becomes null and is reported, the patient is kept
    assert status[6].status == "written"
    ldl = [w for w in report.warnings if w.patient == status[6].patient and w.field.endswith(".ldl_mgdl")]
    assert len(ldl) == 1 and "outside the plausible range" in ldl[0].reason
    assert any(w.patient == "<unlisted>" and "1 row(s)" in w.reason for w in report.warnings)  # MRN-999
    reasons = {(f.path, f.field): f.reason for f in report.files if f.status == "quarantined"}
    assert any(path == "ecg/p3_truncated.dcm" for path, _ in reasons)
    assert any(path == "echo/p3_garbage.dcm" for path, _ in reasons)
    assert ("wfdb/p4_nan.hea", "lead V2") in reasons
    assert ("<genotypes>", "vcf_sample") in reasons
    assert ("ecg/p1.dcm", "ecg") in reasons  # patient 6 already had an ECG

    written = json.loads((out / REPORT_FILE).read_text())
    assert written["counts"] == counts
    store = RecordStore(out)
    assert len(store) == 5 and store.panel is not None and len(store.panel) == 8
    assert store.metadata["ingest"]["manifest_sha256"] == report.manifest_sha256
    rows = {store.row(i)["patient_id"]: store.row(i) for i in range(len(store))}
    pseudo = Pseudonymiser(TEST_KEY)
    p1 = rows[pseudo.patient_id("hospital_a", "MRN-001")]
    assert decode_ecg(p1["ecg"]).shape == (12, 5000) and p1["ecg"]["leads"][3] == "aVR"
    assert decode_image(p1["image"]).shape == (30, 240, 320) and p1["image"]["view"] == "A4C"
    assert p1["labels"]["diagnosis"] == "heart_failure" and p1["split"] == "train"
    assert p1["consent"]["codes"] == ["DUO:0000006"]
    assert p1["genotype"]["dosages"][:3] == [0.0, 2.0, 1.0]
    assert p1["tabular"]["statin"] == "yes" and "[NAME]" in p1["text"]
    assert {p["format"] for p in p1["provenance"]} == {"dicom_ecg", "dicom_image", "fhir", "vcf"}
    p2 = rows[pseudo.patient_id("hospital_a", "MRN-002")]
    assert p2["tabular"]["age"] == 2024 - 1961 and p2["tabular"]["ldl"] == pytest.approx(120 * 0.02586, abs=1e-3)
    assert decode_image(p2["image"]).ndim == 4
    # no direct identifier anywhere in the output
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for identifier in (b"MRN-00", b"Quixote", b"Dulcinea", b"1958-06-17", b"Anonymous^"):
                assert identifier not in data, (path, identifier)


def test_rerun_is_idempotent_and_replaces_the_store(cohort_dir, tmp_path):
    manifest = load_manifest(cohort_dir / "manifest.yaml")
    out = tmp_path / "store"
    ingest(manifest, out, progress=False)
    first = _digest(out)
    ingest(manifest, out, progress=False)
    assert _digest(out) == first
    assert not list(tmp_path.glob(".store.ingest-*"))


def test_cli_prints_summary_and_refuses_bad_targets(cohort_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cli_store"
    assert main(["ingest", str(cohort_dir / "manifest.yaml"), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "quarantined file wfdb/p4_nan.hea [wfdb] field lead V2" in printed
    assert "patients" in printed and (out / REPORT_FILE).exists()
    assert main(["ingest", str(cohort_dir / "manifest.yaml"), "--out", str(out), "--no-progress", "--strict"]) == 1
    not_a_store = tmp_path / "documents"
    (not_a_store / "thesis.txt").parent.mkdir()
    (not_a_store / "thesis.txt").write_text("precious")
    assert main(["ingest", str(cohort_dir / "manifest.yaml"), "--out", str(not_a_store), "--no-progress"]) == 2
    assert (not_a_store / "thesis.txt").read_text() == "precious"
    monkeypatch.delenv(KEY_ENV)
    assert main(["ingest", str(cohort_dir / "manifest.yaml"), "--out", str(out), "--no-progress"]) == 2
    assert KEY_ENV in capsys.readouterr().err


def test_manifest_errors_name_the_field(tmp_path):
    from nextgen_ml.ingest.manifest import parse_manifest

    with pytest.raises(ValueError, match=r"patients\[0\].files\[0\].format"):
        parse_manifest("site: a\npatients:\n  - id: x\n    files: [scan.xyz]\n", tmp_path)
    with pytest.raises(ValueError, match="options.ecg_fs"):
        parse_manifest("site: a\noptions: {ecg_fs: 500}\npatients: []\n", tmp_path)
    with pytest.raises(ValueError, match="duplicate patient ids"):
        parse_manifest("site: a\npatients: [{id: x}, {id: x}]\n", tmp_path)
    with pytest.raises(ValueError, match="site"):
        parse_manifest("patients: []\n", tmp_path)


def test_panel_from_existing_store_and_cli_option_override(cohort_dir, tmp_path):
    first = tmp_path / "first"
    ingest(load_manifest(cohort_dir / "manifest.yaml"), first, progress=False)
    raw = yaml.safe_load((cohort_dir / "manifest.yaml").read_text())
    raw.pop("panel")
    raw["panel_from_store"] = str(first)
    raw["patients"] = [raw["patients"][1]]
    (cohort_dir / "increment.yaml").write_text(yaml.safe_dump(raw))
    second = tmp_path / "second"
    argv = ["ingest", str(cohort_dir / "increment.yaml"), "--out", str(second), "--no-progress", "--ecg-fs-hz", "250"]
    assert main(argv) == 0
    store = RecordStore(second)
    assert store.panel == RecordStore(first).panel
    row = store.row(0)
    assert row["ecg"]["fs_hz"] == 250.0 and row["ecg"]["n_samples"] == 1000
    assert row["patient_id"] == Pseudonymiser(TEST_KEY).patient_id("hospital_a", "MRN-002")  # links across runs
    assert main(["ingest", str(cohort_dir / "increment.yaml"), "--out", str(second), "--ecg-fs-hz", "0"]) == 2
