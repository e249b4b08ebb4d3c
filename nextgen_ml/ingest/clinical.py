"""Clinical codes → the record's ``tabular`` variables (shared by the FHIR and CSV readers).

* Observations: LOINC code → variable (the codes of ``schema.TABULAR_VARIABLES`` plus common alternates), the
  value converted to the record's UCUM unit (:mod:`nextgen_ml.ingest.units`); the latest observation wins.
* Conditions (SNOMED CT / ICD-10) → ``diabetes``; medications (ATC codes or ingredient names) → ``statin``,
  ``beta_blocker``, ``ace_inhibitor``, ``anticoagulant``.
* ``age`` from the birth year and the visit year (exact birth dates never enter the record).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nextgen_ml.data.schema import TABULAR_BY_NAME, TABULAR_VARIABLES
from nextgen_ml.ingest.units import to_record_unit

#: LOINC code → record variable: the schema's own codes plus alternates for the same quantity.
LOINC_TO_VARIABLE: dict[str, str] = {
    **{v.code.split(":", 1)[1]: v.name for v in TABULAR_VARIABLES if v.code.startswith("LOINC:")},
    "13457-7": "ldl",  # LDL-C calculated
    "2089-1": "ldl",  # LDL-C measured (mass/volume)
    "18262-6": "ldl",  # LDL-C direct assay
    "59261-8": "hba1c",  # HbA1c IFCC (mmol/mol)
    "17856-6": "hba1c",  # HbA1c by HPLC
    "4548-4": "hba1c",
    "8480-6": "sbp",
    "39156-5": "bmi",
    "72166-2": "smoking",
    "21612-7": "age",  # age reported
}
#: SNOMED CT smoking-status answers → record category.
SMOKING_SNOMED: dict[str, str] = {
    "266919005": "never", "8517006": "former", "77176002": "current", "449868002": "current",
    "428041000124106": "current", "428071000124103": "current", "428061000124105": "current",
}  # fmt: skip
#: Conditions: SNOMED CT codes and ICD-10 prefixes that mean diabetes mellitus.
DIABETES_SNOMED: frozenset[str] = frozenset({"73211009", "44054006", "46635009", "190330002", "11530004"})
DIABETES_ICD10: tuple[str, ...] = ("E10", "E11", "E12", "E13", "E14")
#: Medication class → (ATC code prefixes, ingredient-name regex).
MEDICATION_CLASSES: dict[str, tuple[tuple[str, ...], str]] = {
    "statin": (("C10AA", "C10BA", "C10BX"), r"\b\w*vastatin\b"),
    "beta_blocker": (("C07",), r"\b\w+olol\b|\bcarvedilol\b|\blabetalol\b"),
    "ace_inhibitor": (("C09",), r"\b\w+pril\b|\b\w+sartan\b"),
    "anticoagulant": (
        ("B01AA", "B01AE", "B01AF"),
        r"\bwarfarin\b|\bphenprocoumon\b|\bacenocoumarol\b|\b\w+xaban\b|\bdabigatran\b",
    ),
}
_SEX_VALUES = {"female": "female", "f": "female", "male": "male", "m": "male"}


def medication_classes(codes: list[tuple[str, str]], text: str) -> set[str]:
    """Medication classes named by ATC ``codes`` (``(system, code)`` pairs) or by ingredient names in ``text``."""
    found = set()
    for name, (atc_prefixes, pattern) in MEDICATION_CLASSES.items():
        by_code = any("atc" in system.lower() and code.upper().startswith(atc_prefixes) for system, code in codes)
        if by_code or re.search(pattern, text, flags=re.IGNORECASE):
            found.add(name)
    return found


def is_diabetes(codes: list[tuple[str, str]], text: str = "") -> bool:
    """True when a condition coding (SNOMED CT or ICD-10) or its text means diabetes mellitus."""
    for system, code in codes:
        sys = system.lower()
        if "snomed" in sys and code in DIABETES_SNOMED:
            return True
        if "icd-10" in sys.replace("icd10", "icd-10") and code.upper().startswith(DIABETES_ICD10):
            return True
    return bool(re.search(r"\bdiabetes mellitus\b|\btype [12] diabetes\b", text, flags=re.IGNORECASE))


def normalise_sex(value: Any) -> str | None:
    """``"female"``/``"male"`` from FHIR gender or common CSV spellings; other values (unknown/other) → None."""
    return _SEX_VALUES.get(str(value).strip().lower()) if value not in (None, "") else None


@dataclass
class TabularBuilder:
    """Collect clinical facts for one patient, then emit the ``tabular`` struct.

    Args:
        absent_means_no: conditions/medications not found count as ``"no"`` (the source is taken as the
            complete problem and medication list); False leaves them missing.
    """

    absent_means_no: bool = True
    values: dict[str, Any] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    birth_year: int | None = None
    visit_year: int | None = None

    def set_numeric(self, variable: str, value: float, unit: str | None, date: str | None = None) -> None:
        """Record a numeric value in ``unit``; converted to the record unit; a later ``date`` replaces an earlier one.

        Raises:
            ValueError: unknown variable or unconvertible unit (message names the variable).
        """
        var = TABULAR_BY_NAME.get(variable)
        if var is None or var.kind != "numeric":
            raise ValueError(f"tabular.{variable}: not a numeric record variable")
        try:
            converted = to_record_unit(variable, float(value), unit, var.unit)
        except ValueError as err:
            raise ValueError(f"tabular.{variable}: {err}") from None
        self._keep(variable, round(converted, 4), date)

    def set_category(self, variable: str, value: str | None, date: str | None = None) -> None:
        """Record a categorical value (already a record category, or None)."""
        if value is not None:
            self._keep(variable, value, date)

    def _keep(self, variable: str, value: Any, date: str | None) -> None:
        previous = self.dates.get(variable)
        if variable not in self.values or (date or "") >= (previous or ""):
            self.values[variable] = value
            self.dates[variable] = date or ""

    def flag(self, name: str) -> None:
        """Mark a yes/no variable (``diabetes``, ``statin``, ...) as present."""
        self.flags.add(name)

    def see_date(self, date: str | None) -> None:
        """Note a clinical date; the latest year seen is the visit year for ``age``."""
        if date and re.match(r"\d{4}", date):
            year = int(date[:4])
            self.visit_year = max(self.visit_year or year, year)

    def to_tabular(self) -> dict[str, Any]:
        """The ``tabular`` struct: every variable of the schema, None where unknown."""
        out: dict[str, Any] = {v.name: None for v in TABULAR_VARIABLES}
        out.update(self.values)
        if out["age"] is None and self.birth_year is not None and self.visit_year is not None:
            out["age"] = float(self.visit_year - self.birth_year)
        for name in ("diabetes", *MEDICATION_CLASSES):
            if name in self.flags:
                out[name] = "yes"
            elif out[name] is None and self.absent_means_no:
                out[name] = "no"
        return out


def merge_tabular(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    """Merge two ``tabular`` structs of one patient: known values fill unknown ones, ``"yes"`` beats ``"no"``."""
    if first is None or second is None:
        return first if second is None else second
    out = dict(first)
    for name, value in second.items():
        if out.get(name) is None or (out[name] == "no" and value == "yes"):
            out[name] = value
    return out
