"""The open record (issue 15): a dataset declares its variables and labels; ingest, splits, tasks and training
follow the declaration; many stores are one dataset; no store is ever lost."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nextgen_ml.cli import main as cli_main
from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.dictionary import DataDictionary, DictionaryError
from nextgen_ml.data.store import METADATA_FILE, RecordStore, StoreError
from nextgen_ml.tasks.tasks import TASKS, task_for_label
from tests.data.open_record_data import write_table

KEY = "0123456789abcdef-test-key"


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's manifest, ingested through the CLI."""
    folder = tmp_path_factory.mktemp("hospital")
    manifest = write_table(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEXTGEN_ML_INGEST_KEY", KEY)
        assert cli_main(["ingest", str(manifest), "--out", str(folder / "store"), "--no-progress"]) == 0
    return folder / "store"


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------ the dictionary
def test_dictionary_errors_name_the_entry():
    with pytest.raises(DictionaryError, match=r"variables\.pain.*categories"):
        DataDictionary.parse({"variables": {"pain": {"kind": "categorical"}}})
    with pytest.raises(DictionaryError, match=r"labels\.sev.*classes"):
        DataDictionary.parse({"labels": {"sev": {"kind": "multiclass"}}})
    with pytest.raises(DictionaryError, match=r"variables\.x\.code"):
        DataDictionary.parse({"variables": {"x": {"kind": "numeric", "code": "8867-4"}}})
    with pytest.raises(DictionaryError, match="range"):
        DataDictionary.parse({"variables": {"x": {"kind": "numeric", "range": [5, 1]}}})
    with pytest.raises(DictionaryError, match="not declared.*declared"):
        SYNTHETIC_DICTIONARY.label("heart_disease")


def test_catalogue_fills_defaults_by_code_and_declarations_win():
    d = DataDictionary.parse({"variables": {"max_hr": {"kind": "numeric", "code": "LOINC:8867-4"},
                                            "sbp": {"kind": "numeric", "range": [50, 300]}}})
    assert d.variables["max_hr"].unit == "/min" and d.variables["max_hr"].range == (20, 250)
    assert d.variables["sbp"].unit == "mm[Hg]" and d.variables["sbp"].range == (50, 300)
    assert d.variables["sbp"].code == "LOINC:8480-6"
    back = DataDictionary.from_json(d.to_json())
    assert back.fingerprint() == d.fingerprint()


# ------------------------------------------------------------------ ingest of declared variables and labels
def test_manifest_of_the_issue_ingests_every_column_and_label(hospital):
    store = RecordStore(hospital)
    assert len(store) == 240  # nobody quarantined: bad values became null, unlabelled patients stayed
    d = store.dictionary
    assert set(d.variables) == {"chest_pain", "st_depression", "max_hr", "age", "sbp"}
    assert {k: v.kind for k, v in d.labels.items()} == {
        "disease": "binary", "severity": "multiclass", "ef": "regression", "death": "survival"}
    rows = [store.row(i) for i in range(len(store))]
    assert sum(r["tabular"]["max_hr"] is None for r in rows) >= 15  # "0 = not measured" → null
    assert sum(r["labels"]["severity"] is None for r in rows) == 1  # the unlabelled patient is kept
    unlabelled = next(r for r in rows if r["labels"]["severity"] is None)
    assert unlabelled["labels"]["disease"] is None and unlabelled["labels"]["ef"] is not None
    death = rows[0]["labels"]["death"]
    assert set(death) == {"time", "event"} and death["event"] in (0, 1)
    report = json.loads((hospital / "ingest_report.json").read_text())
    warned = {(w["field"], w["reason"].split(":")[0]) for w in report["warnings"]}
    assert ("row 5.angina_type", "'9'") in warned and ("row 9.hr_peak", "'900'") in warned
    assert all(w["path"] == "table.csv" for w in report["warnings"])


def test_undeclared_unknown_variable_and_label_are_manifest_errors(tmp_path):
    manifest = write_table(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text.replace("{variable: chest_pain,", "{variable: angina,"))
    assert cli_main(["ingest", str(manifest), "--out", str(tmp_path / "s"), "--no-progress"]) != 0
    manifest.write_text(text.replace("      ef: {column: lvef}", "      lv_ef: {column: lvef}"))
    assert cli_main(["ingest", str(manifest), "--out", str(tmp_path / "s"), "--no-progress"]) != 0
    assert not (tmp_path / "s" / METADATA_FILE).exists()


# ------------------------------------------------------------------ tasks from labels
@pytest.mark.parametrize("label", ["disease", "severity", "ef", "death"])
def test_task_kind_comes_from_the_declaration(hospital, label):
    d = RecordStore(hospital, columns=["patient_id"]).dictionary
    task = task_for_label(d.labels[label])
    assert task.kind == d.labels[label].kind and task.target == label


@pytest.mark.parametrize("kind", sorted(set(TASKS) - {"survival"}))
def test_loss_is_the_mean_of_the_per_sample_loss(kind):
    g = torch.Generator().manual_seed(0)
    task = TASKS[kind]()
    logits = torch.randn(8, task.num_outputs, generator=g)
    y = {"binary": (torch.rand(8, generator=g) > 0.5).float(), "multiclass": torch.randint(0, 5, (8,), generator=g),
         "multilabel": (torch.rand(8, 6, generator=g) > 0.5).float(), "regression": torch.randn(8, generator=g)}[kind]
    targets = {task.target: y}
    torch.testing.assert_close(task.loss(logits, targets), task.per_sample_loss(logits, targets).mean())


# ------------------------------------------------------------------ k-fold for every kind
@pytest.mark.parametrize("label", ["disease", "severity", "ef", "death"])
def test_kfold_folds_partition_patients_for_every_kind(hospital, label):
    tests = []
    for fold in range(3):
        dm = CardioDataModule(hospital, modalities=["tabular"], split="kfold", folds=3, fold=fold,
                              stratify_on=label)
        dm.setup()
        parts = dm.split_indices
        assert not set(parts["train"]) & set(parts["test"]) and not set(parts["val"]) & set(parts["test"])
        tests.append(set(parts["test"].tolist()))
    assert set().union(*tests) == set(range(240)) and sum(len(t) for t in tests) == 240


# ------------------------------------------------------------------ many stores, one dataset
def test_two_sites_reconcile_by_code_and_convert_units(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", KEY)
    a = write_table(tmp_path / "a", n=60, site="site_a")
    b = write_table(tmp_path / "b", n=60, seed=2, site="site_b", bp_unit="kPa")
    text = b.read_text().replace("max_hr:", "peak_heart_rate:")
    text = text.replace("{variable: max_hr,", "{variable: peak_heart_rate,")
    b.write_text(text)
    for m, out in ((a, "sa"), (b, "sb")):
        assert cli_main(["ingest", str(m), "--out", str(tmp_path / out), "--no-progress"]) == 0
    both = RecordStore([tmp_path / "sa", tmp_path / "sb"])
    assert len(both) == 120 and "peak_heart_rate" not in both.dictionary.variables
    rows = [both.row(i) for i in range(len(both))]
    site_b = [r for r in rows if r["site"] == "site_b"]
    assert sum(r["tabular"]["max_hr"] is not None for r in site_b) > 40  # renamed by code
    sbp_b = [r["tabular"]["sbp"] for r in site_b if r["tabular"]["sbp"] is not None]
    assert min(sbp_b) >= 95 and max(sbp_b) <= 185  # kPa converted to mm[Hg]


def test_conflicting_dictionaries_name_both_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", KEY)
    a = write_table(tmp_path / "a", n=40, site="site_a")
    b = write_table(tmp_path / "b", n=40, site="site_b")
    b.write_text(b.read_text().replace("ef: {kind: regression", "ef: {kind: binary").replace(', unit: "%"}', "}"))
    b.write_text(b.read_text().replace("      ef: {column: lvef}", "      ef: {column: died}"))
    for m, out in ((a, "sa"), (b, "sb")):
        assert cli_main(["ingest", str(m), "--out", str(tmp_path / out), "--no-progress"]) == 0
    with pytest.raises(DictionaryError, match=r"label 'ef'.*sa.*sb.*kinds differ"):
        RecordStore([tmp_path / "sa", tmp_path / "sb"])


def test_ingest_append_adds_records_and_keeps_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", KEY)
    a = write_table(tmp_path / "a", n=30, site="site_a")
    b = write_table(tmp_path / "b", n=20, seed=3, site="site_b")
    out = tmp_path / "store"
    assert cli_main(["ingest", str(a), "--out", str(out), "--no-progress"]) == 0
    first = (out / "site=site_a" / "part-00000.arrow").read_bytes()
    assert cli_main(["ingest", str(b), "--out", str(out), "--append", "--no-progress"]) == 0
    store = RecordStore(out)
    assert len(store) == 50 and store.metadata["sites"] == {"site_a": 30, "site_b": 20}
    assert (out / "site=site_a" / "part-00000.arrow").read_bytes() == first
    assert len(store.metadata["appends"]) == 1


# ------------------------------------------------------------------ never lose a store
def test_ingested_store_is_never_regenerated(hospital):
    before = _digest(hospital)
    dm = CardioDataModule(hospital, modalities=["tabular"], cohort={"n": 50, "sites": 2}, stratify_on="disease")
    dm.setup()
    assert len(dm.store) == 240 and _digest(hospital) == before


def test_missing_store_is_an_error_not_a_synthetic_fallback(tmp_path):
    with pytest.raises(FileNotFoundError, match="never falls back"):
        CardioDataModule(tmp_path / "nothing", modalities=["tabular"]).prepare_data()
    assert not (tmp_path / "nothing").exists()


def test_a_list_of_stores_refuses_a_cohort(tmp_path):
    with pytest.raises(ValueError, match="list of stores"):
        CardioDataModule([tmp_path / "a", tmp_path / "b"], cohort={"n": 10})


def test_appending_a_different_dictionary_is_refused(tmp_path, tiny_store):
    from nextgen_ml.data.store import StoreWriter

    d = DataDictionary.parse({"variables": {"x": {"kind": "numeric"}}, "labels": {"y": {"kind": "binary"}}})
    with pytest.raises(StoreError, match="dictionary differs"):
        StoreWriter(tiny_store, dictionary=d, append=True)
    assert np.isfinite(len(RecordStore(tiny_store, columns=["patient_id"])))


def test_ingest_writes_a_verified_start_and_end_audit_entry(hospital):
    from nextgen_ml.governance.audit import AuditLog

    log = AuditLog(hospital.parent / "audit.jsonl")
    assert log.verify() == 2
    start, end = log.entries()
    assert (start["kind"], start["phase"], end["phase"]) == ("ingest", "start", "end")
    assert end["details"]["start_hash"] == start["hash"] and end["counts"]["records_written"] == 240
    assert start["details"]["dictionary"] == RecordStore(hospital, columns=["patient_id"]).dictionary.fingerprint()
