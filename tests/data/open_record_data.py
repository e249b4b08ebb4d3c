"""A hospital-style diagnostic table and the manifest of issue 15, written into a folder for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST = """
site: {site}
dictionary:
  variables:
    chest_pain: {{kind: categorical, categories: [typical, atypical, non_anginal, asymptomatic]}}
    st_depression: {{kind: numeric, unit: mm, range: [-5, 10]}}
    max_hr: {{kind: numeric, unit: "/min", code: "LOINC:8867-4", range: [40, 250]}}
  labels:
    disease: {{kind: binary}}
    severity: {{kind: multiclass, classes: [none, mild, moderate, severe]}}
    ef: {{kind: regression, unit: "%"}}
    death: {{kind: survival, time_unit: d}}
clinical_csv:
  - path: table.csv
    id_column: id
    columns:
      age_years: {{variable: age, unit: a}}
      angina_type:
        {{variable: chest_pain, values: {{"1": typical, "2": atypical, "3": non_anginal, "4": asymptomatic}}}}
      st_dep: {{variable: st_depression, unit: mm}}
      hr_peak: {{variable: max_hr, unit: "/min", missing: [0]}}
      bp_rest: {{variable: sbp, unit: "{bp_unit}", missing: [0]}}
    labels:
      disease: {{column: grade, values: {{"0": 0, "1": 1, "2": 1, "3": 1}}}}
      severity: {{column: grade, values: {{"0": none, "1": mild, "2": moderate, "3": severe}}}}
      ef: {{column: lvef}}
      death: {{time: days, event: died}}
"""


def write_table(folder: Path, n: int = 240, seed: int = 1, site: str = "cleveland", bp_unit: str = "mm[Hg]") -> Path:
    """``table.csv`` + ``manifest.yaml`` in ``folder``; returns the manifest path.

    Rows 3, 5 and 7 carry a category outside the value map, a missing label and an implausible heart rate;
    about 10 % of ``hr_peak`` are ``0`` (= not measured).
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 80, n)
    angina = rng.integers(1, 5, n)
    st = np.round(rng.gamma(1.5, 0.7, n) - 0.3, 1)
    hr = rng.integers(90, 200, n)
    hr[rng.random(n) < 0.1] = 0
    bp = rng.integers(100, 180, n)
    risk = 0.05 * (age - 55) + 0.8 * (angina == 4) + 0.9 * st - 0.02 * (hr - 150) * (hr > 0) + rng.normal(0, 0.7, n)
    grade = np.digitize(risk, [0.2, 1.0, 1.8])
    lvef = np.round(62 - 5 * grade + rng.normal(0, 3, n), 1)
    days = np.round(rng.exponential(2000 / np.exp(0.6 * grade), n)).astype(int) + 1
    died = (days < 1500).astype(int)
    bp_values = bp.astype(float) if bp_unit == "mm[Hg]" else np.round(bp * 0.133322, 2)  # kPa
    frame = pd.DataFrame({
        "id": [f"P{i:04d}" for i in range(n)], "age_years": age, "angina_type": angina.astype(str), "st_dep": st,
        "hr_peak": hr, "bp_rest": bp_values, "grade": grade.astype(str), "lvef": lvef,
        "days": np.minimum(days, 1500), "died": died,
    })  # fmt: skip
    frame.loc[3, "angina_type"] = "9"
    frame.loc[5, "grade"] = ""
    frame.loc[7, "hr_peak"] = 900
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "table.csv", index=False)
    path = folder / "manifest.yaml"
    path.write_text(MANIFEST.format(site=site, bp_unit=bp_unit))
    return path
