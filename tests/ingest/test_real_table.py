"""A real cardiology table we did not design (WHAS500, shipped by scikit-survival) through the documented path:
CSV → manifest with declared variables and labels → `nextgen-ml ingest` → store (issue 15)."""

from __future__ import annotations

import pytest

from nextgen_ml.cli import main as cli_main
from nextgen_ml.data.store import RecordStore

MANIFEST = """
site: worcester
dictionary:
  variables:
    heart_rate: {kind: numeric, code: "LOINC:8867-4"}
    cardiogenic_shock: {kind: binary, code: "SNOMED:89138009"}
    mi_type: {kind: categorical, categories: [non_q_wave, q_wave]}
  labels:
    death: {kind: survival, time_unit: d}
    died: {kind: binary}
clinical_csv:
  - path: whas500.csv
    id_column: patient
    columns:
      age: {variable: age, unit: a}
      gender: {variable: sex, values: {"0": male, "1": female}}
      hr: {variable: heart_rate, unit: "/min"}
      sysbp: {variable: sbp, unit: "mm[Hg]"}
      diasbp: {variable: dbp, unit: "mm[Hg]"}
      sho: {variable: cardiogenic_shock, values: {"0": "no", "1": "yes"}}
      mitype: {variable: mi_type, values: {"0": non_q_wave, "1": q_wave}}
    labels:
      death: {time: lenfol, event: fstat}
      died: {column: fstat}
"""


def test_whas500_ingests_whole_with_its_quirks_reported(tmp_path, monkeypatch):
    datasets = pytest.importorskip("sksurv.datasets")
    X, y = datasets.load_whas500()
    table = X.copy()
    for col in table.select_dtypes("category"):
        table[col] = table[col].astype(str)
    table.insert(0, "patient", [f"WHAS{i:04d}" for i in range(len(table))])
    table["lenfol"], table["fstat"] = y["lenfol"].astype(int), y["fstat"].astype(int)
    table.to_csv(tmp_path / "whas500.csv", index=False)
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    monkeypatch.setenv("NEXTGEN_ML_INGEST_KEY", "0123456789abcdef-test-key")
    assert cli_main(["ingest", str(tmp_path / "manifest.yaml"), "--out", str(tmp_path / "store"), "--no-progress"]) == 0

    store = RecordStore(tmp_path / "store")
    assert len(store) == 500
    labels = store.column("labels").to_pylist()
    assert sum(lab["died"] for lab in labels) == int(y["fstat"].sum())
    assert [lab["death"]["time"] for lab in labels] == [float(t) for t in y["lenfol"]]
    tab = store.column("tabular").to_pylist()
    # blood pressures outside the catalogue's plausible ranges are nulled, one per offending value
    dbp_out = (X["diasbp"] < 20) | (X["diasbp"] > 160)
    sbp_out = (X["sysbp"] < 60) | (X["sysbp"] > 260)
    out_of_range = int(dbp_out.sum() + sbp_out.sum())
    nulled = sum(t["dbp"] is None for t in tab) + sum(t["sbp"] is None for t in tab)
    assert nulled == out_of_range > 0
    assert {t["sex"] for t in tab} == {"male", "female"}
