"""FHIR R4 Bundles (JSON) → ``tabular`` and ``text`` via ``fhir.resources`` (R4B models, wire-compatible with R4).

Read resources: Patient (sex, birth year only), Observation (LOINC code, UCUM ``valueQuantity``, smoking status
``valueCodeableConcept``, blood-pressure panel components), Condition (diabetes), MedicationStatement /
MedicationRequest (drug classes), DocumentReference (plain-text notes, base64 ``attachment.data``). Names,
addresses, identifiers and exact dates are never copied; notes are scrubbed of the patient's name parts and
full dates, of the Patient's identifiers, telecom and address, and of pattern PHI (:mod:`nextgen_ml.ingest.phi`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.ingest.clinical import (
    LOINC_TO_VARIABLE,
    SMOKING_SNOMED,
    TabularBuilder,
    is_diabetes,
    medication_classes,
    normalise_sex,
)
from nextgen_ml.ingest.deid import Pseudonymiser, sha256_files, year_of
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.fhir_declared import declared_values
from nextgen_ml.ingest.json_guard import load_json
from nextgen_ml.ingest.phi import scrub_note
from nextgen_ml.ingest.provenance import Converted

_INACTIVE = {"inactive", "resolved", "remission", "entered-in-error", "stopped", "completed", "not-taken"}


def _codings(concept: Any) -> list[tuple[str, str]]:
    return [(c.system or "", c.code or "") for c in (getattr(concept, "coding", None) or [])]


def _concept_text(concept: Any) -> str:
    parts = [getattr(concept, "text", None) or ""]
    parts += [c.display or "" for c in (getattr(concept, "coding", None) or [])]
    return " ".join(p for p in parts if p)


def _status(resource: Any, attr: str) -> str:
    value = getattr(resource, attr, None)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.lower()
    return " ".join(code for _, code in _codings(value)).lower()


def _date(resource: Any) -> str | None:
    for attr in ("effectiveDateTime", "issued", "recordedDate", "onsetDateTime", "date", "authoredOn"):
        value = getattr(resource, attr, None)
        if value is not None:
            return value.isoformat() if hasattr(value, "isoformat") else str(value)
    period = getattr(resource, "effectivePeriod", None)
    start = getattr(period, "start", None) if period is not None else None
    return start.isoformat() if start is not None else None


def _observation(obs: Any, builder: TabularBuilder, path: Path) -> None:
    date = _date(obs)
    builder.see_date(date)
    items = [(obs.code, obs)] + [(c.code, c) for c in (obs.component or [])]
    for code, holder in items:
        variable = next(
            (LOINC_TO_VARIABLE[c] for s, c in _codings(code) if "loinc" in s and c in LOINC_TO_VARIABLE), None
        )
        if variable is None:
            continue
        quantity = getattr(holder, "valueQuantity", None)
        concept = getattr(holder, "valueCodeableConcept", None)
        if variable == "smoking" and concept is not None:
            answer = next((SMOKING_SNOMED[c] for _, c in _codings(concept) if c in SMOKING_SNOMED), None)
            builder.set_category("smoking", answer, date)
        elif quantity is not None and quantity.value is not None:
            unit = quantity.code or quantity.unit
            try:
                builder.set_numeric(variable, float(quantity.value), unit, date)
            except ValueError as err:
                raise IngestError(path, f"Observation/{obs.id or '?'}.valueQuantity", str(err)) from None


def patient_identifiers(patient: Any) -> list[str]:
    """What a FHIR Patient says identifies it: identifier values, telecom values, address lines, city, postcode."""
    values = [i.value for i in (patient.identifier or [])] + [t.value for t in (patient.telecom or [])]
    for address in patient.address or []:
        values += [*(address.line or []), address.city, address.postalCode]
    return [str(v) for v in values if v]


def _note(doc: Any) -> str | None:
    for content in doc.content or []:
        att = content.attachment
        if att is not None and att.data and (att.contentType or "text/plain").startswith("text/"):
            return att.data.decode("utf-8", errors="replace")
    return None


def read_fhir_bundle(
    path: str | os.PathLike,
    pseudo: Pseudonymiser,
    uri: str = "",
    absent_means_no: bool = True,
    max_bytes: int = 64 << 20,
    max_depth: int = 64,
    dictionary: DataDictionary | None = None,
) -> tuple[Converted, Converted | None] | tuple[Converted, Converted | None, Converted | None]:
    """Convert a FHIR R4 Bundle of one patient into ``tabular`` (and ``text`` when it holds notes).

    Args:
        path: Bundle JSON file.
        pseudo: unused (FHIR ids are dropped, not pseudonymised); kept for a uniform reader signature.
        uri: path to record in provenance.
        absent_means_no: conditions/medications absent from the bundle count as ``"no"``.
        max_bytes: larger files are refused before parsing.
        max_depth: JSON nested deeper is refused before parsing (no ``RecursionError``).
        dictionary: the store's data dictionary: its coded variables and labels are read too
            (:mod:`nextgen_ml.ingest.fhir_declared`); None reads the catalogue's variables only.

    Returns:
        ``(tabular, text or None)``, and with a ``dictionary`` a third item: the ``labels`` read (or None).
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    del pseudo
    path = Path(path)
    raw = load_json(path, max_bytes, max_depth)
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise IngestError(path, where or "<bundle>", f"not a valid FHIR R4 Bundle: {first.get('msg')}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # e.g. an unknown resourceType
        raise IngestError(
            path, "Bundle.entry.resource", f"not a valid FHIR R4 Bundle ({type(err).__name__}: {err})"
        ) from None
    resources = [e.resource for e in (bundle.entry or []) if e.resource is not None]
    by_type: dict[str, list[Any]] = {}
    for r in resources:
        by_type.setdefault(r.get_resource_type(), []).append(r)
    patients = by_type.get("Patient", [])
    if len(patients) != 1:
        raise IngestError(path, "Bundle.entry.Patient", f"expected one Patient resource, found {len(patients)}")
    patient = patients[0]
    builder = TabularBuilder(absent_means_no=absent_means_no)
    builder.set_category("sex", normalise_sex(patient.gender))
    builder.birth_year = year_of(str(patient.birthDate) if patient.birthDate else None)
    for obs in by_type.get("Observation", []):
        if _status(obs, "status") not in ("entered-in-error", "cancelled"):
            _observation(obs, builder, path)
    for cond in by_type.get("Condition", []):
        builder.see_date(_date(cond))
        if not _INACTIVE & set(_status(cond, "clinicalStatus").split()) and is_diabetes(
            _codings(cond.code), _concept_text(cond.code)
        ):
            builder.flag("diabetes")
    for kind in ("MedicationStatement", "MedicationRequest"):
        for med in by_type.get(kind, []):
            if _status(med, "status") in _INACTIVE:
                continue
            concept = getattr(med, "medicationCodeableConcept", None)
            for name in medication_classes(_codings(concept), _concept_text(concept)):
                builder.flag(name)
    names = [part for n in (patient.name or []) for part in [*(n.given or []), n.family or ""]]
    known = patient_identifiers(patient)
    notes = [scrub_note(t, known, names) for t in (_note(d) for d in by_type.get("DocumentReference", [])) if t]
    counts = {k: len(v) for k, v in sorted(by_type.items())}
    meta = {
        "fhir_version": "R4",
        "resource_counts": counts,
        "birth_year_known": builder.birth_year is not None,
        "visit_year": builder.visit_year,
    }
    sha = sha256_files([path])
    values = builder.to_tabular()
    labels = None
    if dictionary is not None:
        values = {k: v for k, v in values.items() if k in dictionary.variables}
        try:
            extra, found = declared_values(
                dictionary, by_type, set(values), absent_means_no, _codings, _date,
                lambda c: not _INACTIVE & set(_status(c, "clinicalStatus").split()),
            )
        except ValueError as err:  # a unit that cannot be converted to the declared one
            raise IngestError(path, "Observation.valueQuantity", str(err)) from None
        values.update(extra)
        labels = Converted("labels", found, "fhir", uri or str(path), sha, {"labels": sorted(found)}) if found else None
    tabular = Converted("tabular", values, "fhir", uri or str(path), sha, meta)
    text = None
    if notes:
        text = Converted("text", "\n\n".join(notes), "fhir", uri or str(path), sha, {"n_notes": len(notes)})
    return (tabular, text) if dictionary is None else (tabular, text, labels)
