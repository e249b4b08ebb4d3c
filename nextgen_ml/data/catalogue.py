"""The package's catalogue of known clinical variables: defaults by name and by code, never the limit.

A dataset's dictionary may declare any variable. When a declared variable (or a CSV column mapped to an
undeclared one) has a name or a code the catalogue knows, the catalogue fills what the declaration leaves out
(kind, UCUM unit, code, description, categories, plausible range). The synthetic cohort's dictionary
(:data:`SYNTHETIC_DICTIONARY`) is built from the same entries.

Ranges are broad physiological limits (see ``shared/clinical-reference.md``): a value outside them is a unit
or entry mistake, not a rare patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nextgen_ml.data.dictionary import DataDictionary, Label, Variable

_YES_NO = ("no", "yes")

#: Known variables, by record name. Codes are LOINC (observations) or SNOMED CT (conditions, drug classes).
KNOWN_VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(name="age", kind="numeric", unit="a", code="LOINC:30525-0", description="Age at visit, years",
                 range=(18, 110)),
        Variable(name="sex", kind="categorical", code="LOINC:76689-9", description="Sex assigned at birth",
                 categories=("female", "male")),
        Variable(name="bmi", kind="numeric", unit="kg/m2", code="LOINC:39156-5", description="Body mass index",
                 range=(12, 70)),
        Variable(name="sbp", kind="numeric", unit="mm[Hg]", code="LOINC:8480-6",
                 description="Systolic blood pressure", range=(60, 260)),
        Variable(name="ldl", kind="numeric", unit="mmol/L", code="LOINC:18262-6", description="LDL cholesterol",
                 range=(0.2, 15)),
        Variable(name="hba1c", kind="numeric", unit="%", code="LOINC:4548-4",
                 description="Haemoglobin A1c (NGSP)", range=(3, 20)),
        Variable(name="smoking", kind="categorical", code="LOINC:72166-2", description="Tobacco smoking status",
                 categories=("never", "former", "current")),
        Variable(name="diabetes", kind="binary", code="SNOMED:73211009", description="Diabetes mellitus",
                 categories=_YES_NO),
        Variable(name="statin", kind="binary", code="SNOMED:96302009",
                 description="On a statin (HMG-CoA reductase inhibitor)", categories=_YES_NO),
        Variable(name="beta_blocker", kind="binary", code="SNOMED:33252009", description="On a beta-blocker",
                 categories=_YES_NO),
        Variable(name="ace_inhibitor", kind="binary", code="SNOMED:41549009",
                 description="On an ACE inhibitor or ARB", categories=_YES_NO),
        Variable(name="anticoagulant", kind="binary", code="SNOMED:81839001",
                 description="On an oral anticoagulant", categories=_YES_NO),
        # common cardiology variables beyond the synthetic cohort
        Variable(name="dbp", kind="numeric", unit="mm[Hg]", code="LOINC:8462-4",
                 description="Diastolic blood pressure", range=(20, 160)),
        Variable(name="heart_rate", kind="numeric", unit="/min", code="LOINC:8867-4", description="Heart rate",
                 range=(20, 250)),
        Variable(name="total_cholesterol", kind="numeric", unit="mmol/L", code="LOINC:2093-3",
                 description="Total cholesterol", range=(1, 20)),
        Variable(name="hdl", kind="numeric", unit="mmol/L", code="LOINC:2085-9", description="HDL cholesterol",
                 range=(0.1, 5)),
        Variable(name="creatinine", kind="numeric", unit="umol/L", code="LOINC:2160-0",
                 description="Serum creatinine", range=(10, 2000)),
        Variable(name="nt_probnp", kind="numeric", unit="pg/mL", code="LOINC:33762-6",
                 description="NT-proBNP", range=(0, 100000)),
        Variable(name="lvef_echo", kind="numeric", unit="%", code="LOINC:10230-1",
                 description="Left ventricular ejection fraction", range=(5, 90)),
        Variable(name="fasting_glucose", kind="numeric", unit="mmol/L", code="LOINC:1558-6",
                 description="Fasting glucose", range=(1, 40)),
        Variable(name="hypertension", kind="binary", code="SNOMED:38341003", description="Hypertension",
                 categories=_YES_NO),
    )
}  # fmt: skip
KNOWN_BY_CODE: dict[str, Variable] = {v.code: v for v in KNOWN_VARIABLES.values() if v.code}
#: names a CSV column may map to without a declaration: derived at ingest, never stored
DERIVED_COLUMNS: frozenset[str] = frozenset({"birth_year", "birth_date", "visit_date"})

#: The synthetic cohort's outcome vocabularies.
DIAGNOSIS_CLASSES: tuple[str, ...] = (
    "normal",
    "coronary_artery_disease",
    "heart_failure",
    "cardiomyopathy",
    "arrhythmia",
)
FINDING_CLASSES: tuple[str, ...] = (
    "atrial_fibrillation",
    "lvh",
    "prior_infarction",
    "reduced_ef",
    "long_qt",
    "conduction_delay",
)

#: The first twelve catalogue variables: the synthetic cohort's tabular columns, in order.
SYNTHETIC_VARIABLES: tuple[str, ...] = tuple(list(KNOWN_VARIABLES)[:12])

SYNTHETIC_DICTIONARY: DataDictionary = DataDictionary(
    name="nextgen_ml synthetic cardiology cohort",
    version="2.0.0",
    variables={n: KNOWN_VARIABLES[n] for n in SYNTHETIC_VARIABLES},
    labels={
        lab.name: lab
        for lab in (
            Label(name="mace", kind="binary", description="Major adverse cardiac event within follow-up"),
            Label(name="diagnosis", kind="multiclass", classes=DIAGNOSIS_CLASSES,
                  description="Primary cardiac diagnosis"),
            Label(name="findings", kind="multilabel", classes=FINDING_CLASSES, description="Cardiac findings"),
            Label(name="lvef", kind="regression", unit="%", code="LOINC:10230-1",
                  description="Left ventricular ejection fraction"),
            Label(name="time_to_mace", kind="survival", time_unit="a",
                  description="Years to MACE (event = 1) or censoring (event = 0)"),
        )
    },
)  # fmt: skip


def with_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A variable declaration with the catalogue's defaults filled in (by code first, then by name).

    What the declaration states always wins; a declared code that the catalogue knows under another name keeps
    the declared name (``max_hr`` with ``LOINC:8867-4`` takes heart rate's range and description).
    """
    known = KNOWN_BY_CODE.get(spec.get("code") or "") or KNOWN_VARIABLES.get(str(spec.get("name")))
    if known is None:
        return dict(spec)
    if spec.get("kind") is not None and spec["kind"] != known.kind:
        # a declared kind that differs: only the code and description are borrowed
        base = {"code": known.code, "description": known.description}
    else:
        base = known.model_dump(exclude={"name", "missing", "required"}, exclude_none=True)
        if spec.get("unit") not in (None, known.unit):
            base.pop("range", None)  # the catalogue's range is in the catalogue's unit
    if spec.get("code") and spec.get("code") != known.code:
        base.pop("code", None)
    return {**base, **{k: v for k, v in spec.items() if v is not None}}


def known_variable(name: str) -> Variable | None:
    """The catalogue entry for a record variable name (None when unknown)."""
    return KNOWN_VARIABLES.get(name)
