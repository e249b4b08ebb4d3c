"""Note de-identification: planted-PHI recall and precision, and every identifier ingest knows kept out of the store."""

from __future__ import annotations

import base64
import json

from nextgen_ml.data.store import RecordStore
from nextgen_ml.ingest.deid import scrub_text
from nextgen_ml.ingest.manifest import parse_manifest
from nextgen_ml.ingest.phi import scrub_note
from nextgen_ml.ingest.pipeline import ingest

from .conftest import TEST_KEY, fhir_fixture
from .phi_notes import score


def test_planted_phi_recall_and_precision():
    result = score(lambda text, p: scrub_note(text, [p.mrn, p.fhir_id], [p.given, p.family]))
    baseline = score(lambda text, p: scrub_text(text, [p.given, p.family]))
    assert result["phi_segments"] >= 150
    assert result["recall"] >= 0.9 and baseline["recall"] < 0.4
    assert result["precision"] == 1.0 and result["clinical_kept"] == 1.0
    assert set(result["leaked_by_kind"]) <= {"name", "id_number"}  # a relative's name, a short ward id


def test_no_known_identifier_reaches_the_store(tmp_path):
    bundle = json.loads(fhir_fixture().read_text())
    note = (
        "Dulcinea Quixote (hospital no. MRN-001, record MRN 998877) seen May 10, 2022 at 1 Windmill Lane, Toboso. "
        "Phone 0161 496 0732, e-mail dq@toboso.es. LDL 3.9 mmol/L, EF 35%."
    )
    docs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"]
    docs[0]["content"][0]["attachment"]["data"] = base64.b64encode(note.encode()).decode()
    export = tmp_path / "export"
    export.mkdir()
    (export / "p1.json").write_text(json.dumps(bundle))
    manifest = parse_manifest("site: s\npatients: [{id: MRN-001, files: [p1.json]}]\n", export, export / "m.yaml")
    report = ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False)
    assert report.counts()["records_written"] == 1
    text = RecordStore(tmp_path / "store").row(0)["text"]
    for identifier in ("Dulcinea", "Quixote", "MRN-001", "998877", "Windmill", "Toboso", "0161", "dq@toboso", "May 10"):
        assert identifier not in text, (identifier, text)
    assert "LDL 3.9 mmol/L, EF 35%" in text and "2022" in text
