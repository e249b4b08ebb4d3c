"""Hostile cohort-level files (clinical CSV, VCF, panel): reported for every patient using them, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextgen_ml.data.store import RecordStore
from nextgen_ml.ingest.manifest import parse_manifest
from nextgen_ml.ingest.pipeline import ingest

from ..conftest import LIMB_AND_CHEST, TEST_KEY, einthoven_ecg, write_panel, write_wfdb

_CSV = {
    "zero_bytes": b"",
    "garbage": bytes(range(256)) * 16,
    "latin1": "mrn,ldl_mgdl\nMRN-1,12\xe9\n".encode("latin-1"),
    "no_id_column": b"patient,ldl_mgdl\nMRN-1,120\n",
    "ragged": b"mrn,ldl_mgdl\nMRN-1,120,7,8,9\nMRN-2\n",
    "huge_field": b"mrn,ldl_mgdl\nMRN-1," + b"9" * 200_000 + b"\n",
    "nan_and_inf": b"mrn,ldl_mgdl\nMRN-1,nan\nMRN-2,inf\n",
}
_VCF = {
    "zero_bytes": b"",
    "garbage": bytes(range(256)) * 16,
    "truncated_gzip": b"\x1f\x8b\x08\x00" + bytes(100),
    "header_only": b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n",
}


def _export(tmp_path: Path) -> Path:
    export = tmp_path / "export"
    for k in range(2):
        write_wfdb(export / "wfdb", f"p{k}", einthoven_ecg(500, seed=k), LIMB_AND_CHEST)
    write_panel(export)
    return export


def _run(tmp_path: Path, extra: str) -> tuple[object, Path]:
    """Ingest the export already written under ``tmp_path`` with two ECG patients and ``extra`` manifest keys."""
    export = tmp_path / "export"
    text = (
        f"site: s\n{extra}patients:\n"
        "  - {id: MRN-1, vcf_sample: S1, files: [wfdb/p0.hea]}\n  - {id: MRN-2, vcf_sample: S2, files: [wfdb/p1.hea]}\n"
    )
    manifest = parse_manifest(text, export, export / "m.yaml")
    return ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False), tmp_path / "store"


@pytest.mark.parametrize("name", sorted(_CSV))
def test_hostile_clinical_csv_costs_no_patient(tmp_path, name):
    export = _export(tmp_path)
    (export / "clinical.csv").write_bytes(_CSV[name])
    csv = "clinical_csv: [{path: clinical.csv, id_column: mrn, columns: {ldl_mgdl: {variable: ldl, unit: mg/dL}}}]\n"
    report, store = _run(tmp_path, csv)
    counts = report.counts()
    assert counts["patients_in"] == counts["records_written"] + counts["patients_quarantined"]
    written = {p.index for p in report.patients if p.status == "written"}
    assert {0, 1} <= written, report.summary()  # both ECG patients are written whatever the CSV holds
    assert len(RecordStore(store)) == counts["records_written"]
    for row in (RecordStore(store).row(i) for i in range(len(RecordStore(store)))):
        ldl = (row["tabular"] or {}).get("ldl")
        assert ldl is None or 0 < ldl < 20, ldl  # no NaN, inf or absurd value stored


@pytest.mark.parametrize("name", sorted(_VCF))
def test_hostile_vcf_is_quarantined_per_patient(tmp_path, name):
    export = _export(tmp_path)
    (export / "cohort.vcf.gz").write_bytes(_VCF[name])
    report, _ = _run(tmp_path, "panel: panel.json\ngenotypes: [{path: cohort.vcf.gz}]\n")
    assert report.counts()["records_written"] == 2
    genotypes = [f for f in report.files if f.format == "vcf"]
    assert len(genotypes) == 2 and all(f.status == "quarantined" for f in genotypes)
    assert all(f.path == "cohort.vcf.gz" and str(tmp_path) not in f.reason for f in genotypes)


def test_hostile_panel_is_one_clear_error(tmp_path):
    export = _export(tmp_path)
    (export / "panel.json").write_bytes(b"[" * 50_000)
    with pytest.raises(ValueError, match=r"^manifest panel: cannot read panel.json \(ValueError: .*RecursionError"):
        _run(tmp_path, "panel: panel.json\ngenotypes: [{path: cohort.vcf.gz}]\n")
