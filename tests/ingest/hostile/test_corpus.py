"""Every hostile file goes through the real ``nextgen-ml ingest``: no crash, counts balance, valid patients written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from nextgen_ml.cli import main
from nextgen_ml.data.store import RecordStore
from nextgen_ml.ingest.report import REPORT_FILE

from .corpus import ALL_CASES, write_corpus

#: Option values the corpus is sized for (a "big" JSON file is 3 MiB, not 64).
OPTIONS = {"json_max_bytes": 1 << 20, "chunk_size": 16}


def _run_corpus(tmp_path: Path, extra: list[str] = ()) -> tuple[int, dict, Path]:
    export = tmp_path / "export"
    patients = write_corpus(export)
    manifest = {"site": "hostile", "options": OPTIONS, "patients": patients}
    (export / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    out = tmp_path / "store"
    code = main(["ingest", str(export / "manifest.yaml"), "--out", str(out), "--no-progress", *extra])
    return code, json.loads((out / REPORT_FILE).read_text()), out


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path, Path]:
    import os

    from nextgen_ml.ingest.deid import KEY_ENV

    from ..conftest import TEST_KEY

    os.environ[KEY_ENV] = TEST_KEY.decode()
    tmp = tmp_path_factory.mktemp("hostile")
    code, report, out = _run_corpus(tmp)
    return code, report, out, tmp


def test_corpus_is_large_and_covers_every_format():
    assert len(ALL_CASES) >= 60
    assert len({c.name for c in ALL_CASES}) == len(ALL_CASES)
    prefixes = {c.name.split("_")[0] for c in ALL_CASES}
    assert {"dcm", "ecg", "series", "wfdb", "nii", "fhir", "wav", "wearable"} <= prefixes


def test_no_crash_and_counts_balance(corpus_run):
    code, report, out, _ = corpus_run
    assert code == 0
    counts = report["counts"]
    assert counts["patients_in"] == len(ALL_CASES)
    assert counts["records_written"] + counts["patients_quarantined"] == len(ALL_CASES)
    assert counts["files_in"] == len(ALL_CASES) == counts["files_ingested"] + counts["files_quarantined"]
    assert len(RecordStore(out)) == counts["records_written"]


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_each_case_has_the_expected_outcome(corpus_run, case):
    _, report, _, _ = corpus_run
    index = next(i for i, c in enumerate(ALL_CASES) if c.name == case.name)
    outcome = next(f for f in report["files"] if f["path"] == _path_of(report, index))
    assert outcome["status"] == case.expect, outcome
    if case.expect == "quarantined":
        assert re.search(case.match, f"{outcome['field']}: {outcome['reason']}"), outcome
    patient = next(p for p in report["patients"] if p["index"] == index)
    assert patient["status"] == ("written" if case.expect == "ingested" else "quarantined")


def _path_of(report: dict, index: int) -> str:
    """The report path of patient ``index``'s only file (files are reported in manifest order)."""
    patient = next(p for p in report["patients"] if p["index"] == index)
    return next(f["path"] for f in report["files"] if f["patient"] == patient["patient"])


def test_reports_carry_no_absolute_paths(corpus_run):
    _, _, out, tmp = corpus_run
    text = (out / REPORT_FILE).read_text()
    assert str(tmp) not in text and "/tmp/" not in text and "/root/" not in text
    for path in out.rglob("*"):
        if path.is_file():
            assert str(tmp).encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_corpus_with_worker_processes_gives_the_same_outcomes(corpus_run, tmp_path):
    _, inline, _, _ = corpus_run
    code, pooled, _ = _run_corpus(tmp_path, ["--workers", "2"])
    assert code == 0
    assert pooled["counts"] == inline["counts"]
    assert [(f["path"], f["status"], f["field"]) for f in pooled["files"]] == [
        (f["path"], f["status"], f["field"]) for f in inline["files"]
    ]


def test_strict_stops_at_the_first_quarantine_and_keeps_the_old_store(tmp_path, capsys):
    code, report, out = _run_corpus(tmp_path)
    before = (out / REPORT_FILE).read_bytes()
    manifest = tmp_path / "export" / "manifest.yaml"
    assert main(["ingest", str(manifest), "--out", str(out), "--no-progress", "--strict"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nextgen-ml ingest: --strict: file dicom/dcm_zero_bytes.dcm quarantined")
    assert "Traceback" not in err[0]
    assert (out / REPORT_FILE).read_bytes() == before


def test_odd_but_valid_files_store_the_same_values_as_their_plain_twins(corpus_run):
    from nextgen_ml.ingest.deid import Pseudonymiser

    from ..conftest import TEST_KEY

    _, _, out, _ = corpus_run
    store = RecordStore(out)
    rows = {store.row(i)["patient_id"]: store.row(i) for i in range(len(store))}
    pseudo = Pseudonymiser(TEST_KEY)

    def row(name: str) -> dict:
        return rows[pseudo.patient_id("hostile", f"H-{name}")]

    plain = row("fhir_ok")
    assert plain["tabular"]["statin"] == "yes"
    for twin in ("fhir_utf16", "fhir_bom"):  # other encodings of the same bundle
        assert row(twin)["tabular"] == plain["tabular"] and row(twin)["text"] == plain["text"]
    assert row("wfdb_latin1_comment")["ecg"]["signal"] == row("wfdb_ok")["ecg"]["signal"]
