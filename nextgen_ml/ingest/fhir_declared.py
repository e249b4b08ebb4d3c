"""FHIR resources → the variables and labels a data dictionary declares with a code.

The FHIR reader knows the catalogue's variables by their LOINC/SNOMED codes (:mod:`nextgen_ml.ingest.clinical`).
A dataset's own declarations are read by code too:

* a numeric/integer variable with a ``LOINC:`` code takes the latest Observation with that code (its
  ``valueQuantity`` converted to the declared unit; out-of-range values are dropped and reported by validation);
* a binary variable with a ``SNOMED:`` or ``ICD10:`` code is ``yes`` when an active Condition carries the code
  (``no`` otherwise when absent conditions count as ``no``);
* a binary label with a ``SNOMED:``/``ICD10:`` code is 1 when an active Condition carries it; its absence from
  one bundle is no evidence of no outcome, so the label is then left unknown (a CSV or the manifest may set it);
  a regression label with a ``LOINC:`` code takes the latest Observation value.

Codes match exactly (SNOMED CT, LOINC) or as an ICD-10 prefix (``ICD10:I21`` matches ``I21.4``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.ingest.units import to_record_unit

_SYSTEMS = {"LOINC": "loinc", "SNOMED": "snomed", "ICD10": "icd"}


def _matches(code: str, codings: Iterable[tuple[str, str]]) -> bool:
    system, _, value = code.partition(":")
    key = _SYSTEMS.get(system)
    if key is None:
        return False
    prefix = system == "ICD10"
    return any(
        key in sys_url.lower().replace("-", "") and (c == value or (prefix and c.upper().startswith(value.upper())))
        for sys_url, c in codings
    )


def _latest_quantity(code: str, observations: Iterable[Any], codings: Callable, date_of: Callable) -> Any:
    best = None
    for obs in observations:
        for concept, holder in [(obs.code, obs)] + [(c.code, c) for c in (obs.component or [])]:
            quantity = getattr(holder, "valueQuantity", None)
            if quantity is None or quantity.value is None or not _matches(code, codings(concept)):
                continue
            date = date_of(obs) or ""
            if best is None or date >= best[0]:
                best = (date, float(quantity.value), quantity.code or quantity.unit)
    return best


def declared_values(
    dictionary: DataDictionary,
    by_type: dict[str, list[Any]],
    known: set[str],
    absent_means_no: bool,
    codings: Callable[[Any], list[tuple[str, str]]],
    date_of: Callable[[Any], str | None],
    active: Callable[[Any], bool],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tabular values, label values)`` for the coded declarations the catalogue reader does not fill.

    Args:
        dictionary: the store's data dictionary.
        by_type: the bundle's resources by resource type.
        known: variable names the catalogue reader already fills (skipped).
        absent_means_no: a binary variable without a matching Condition is ``"no"`` (else missing).
        codings / date_of / active: the FHIR reader's helpers (``(system, code)`` pairs, date, active status).
    """
    observations = by_type.get("Observation", [])
    conditions = [c for c in by_type.get("Condition", []) if active(c)]
    tabular: dict[str, Any] = {}
    for var in dictionary.variables.values():
        if var.name in known or not var.code:
            continue
        if var.is_numeric:
            found = _latest_quantity(var.code, observations, codings, date_of)
            if found is not None:
                tabular[var.name] = round(to_record_unit(var.name, found[1], found[2], var.unit or "1"), 4)
        elif var.kind == "binary":
            present = any(_matches(var.code, codings(c.code)) for c in conditions)
            if present or absent_means_no:
                tabular[var.name] = var.categories[1] if present else var.categories[0]
    labels: dict[str, Any] = {}
    for lab in dictionary.labels.values():
        if not lab.code:
            continue
        if lab.kind == "binary" and any(_matches(lab.code, codings(c.code)) for c in conditions):
            labels[lab.name] = 1
        elif lab.kind == "regression":
            found = _latest_quantity(lab.code, observations, codings, date_of)
            if found is not None:
                labels[lab.name] = to_record_unit(lab.name, found[1], found[2], lab.unit or "1")
    return tabular, labels
