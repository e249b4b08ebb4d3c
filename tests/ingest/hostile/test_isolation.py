"""A failure while building or writing one patient's record costs only that patient."""

from __future__ import annotations

from pathlib import Path

import pytest

import nextgen_ml.ingest.pipeline as pipeline
from nextgen_ml.data.store import RecordStore, StoreWriter
from nextgen_ml.ingest.manifest import parse_manifest
from nextgen_ml.ingest.pipeline import ingest

from ..conftest import LIMB_AND_CHEST, TEST_KEY, einthoven_ecg, write_wfdb


def _manifest(tmp_path: Path, n: int = 3):
    export = tmp_path / "export"
    for k in range(n):
        write_wfdb(export / "wfdb", f"p{k}", einthoven_ecg(500, seed=k), LIMB_AND_CHEST)
    patients = ", ".join(f"{{id: P{k}, files: [wfdb/p{k}.hea]}}" for k in range(n))
    return parse_manifest(f"site: s\npatients: [{patients}]\n", export, export / "m.yaml")


def test_an_exception_while_building_one_record_quarantines_only_that_patient(tmp_path, monkeypatch):
    real_build = pipeline._build

    def build(entry, *args, **kwargs):
        if entry.id == "P1":
            raise KeyError(f"{tmp_path}/export/secret_column")
        return real_build(entry, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_build", build)
    report = ingest(_manifest(tmp_path), tmp_path / "store", key=TEST_KEY, progress=False)
    status = {p.index: p for p in report.patients}
    assert [status[i].status for i in range(3)] == ["written", "quarantined", "written"]
    assert status[1].field == "<record>" and status[1].reason == "KeyError: 'secret_column'"
    assert len(RecordStore(tmp_path / "store")) == 2


def test_a_record_the_store_refuses_is_quarantined_and_the_rest_of_its_chunk_written(tmp_path, monkeypatch):
    real_write = StoreWriter.write
    refused = {}

    def write(self, records):
        records = list(records)
        if any(r["patient_id"] == refused.get("pid") for r in records):
            raise ValueError("cannot convert the record to Arrow")
        return real_write(self, records)

    manifest = _manifest(tmp_path)
    refused["pid"] = pipeline.Pseudonymiser(TEST_KEY).patient_id("s", "P2")
    monkeypatch.setattr(StoreWriter, "write", write)
    report = ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False)
    counts = report.counts()
    assert counts["records_written"] == 2 and counts["patients_quarantined"] == 1
    bad = next(p for p in report.patients if p.status == "quarantined")
    assert bad.index == 2 and bad.field == "<store>" and "cannot convert" in bad.reason
    assert len(RecordStore(tmp_path / "store")) == 2


def test_strict_raises_on_the_first_quarantine_of_the_api(tmp_path):
    from nextgen_ml.ingest.report import QuarantineAbort

    manifest = _manifest(tmp_path)
    (tmp_path / "export" / "wfdb" / "p1.dat").write_bytes(b"")
    with pytest.raises(QuarantineAbort, match=r"--strict: file wfdb/p1.hea quarantined, field sig_len"):
        ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False, strict=True)
    assert not (tmp_path / "store").exists()
