"""Clinical CSV tables (one row per patient) → declared ``tabular`` variables and ``labels`` (pandas).

The manifest maps each CSV column to a variable of the data dictionary (declared, or known to the catalogue),
with the unit of its values, a value map (``"1": typical``) and missing codes (``missing: [0]``); labels map to
declared labels (``disease: {column: grade, values: {"0": 0, "1": 1}}``, ``death: {time: days, event: died}``).

Nothing is dropped silently: a value that is a missing code becomes null; a value outside the value map or the
categories, unparseable, in an unconvertible unit or outside the plausible range becomes null and is reported
(file, row, column, value) as a warning; the patient stays, unless the variable is declared ``required``. A
patient without a label stays in the store, unlabelled. ``birth_year``/``birth_date`` columns give ``age`` with
``visit_date`` or the manifest's ``reference_year``; the birth date itself never enters the record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nextgen_ml.data.dictionary import DataDictionary, Label, Variable
from nextgen_ml.ingest.clinical import normalise_sex
from nextgen_ml.ingest.deid import sha256_files, year_of
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import CsvSource
from nextgen_ml.ingest.provenance import Converted
from nextgen_ml.ingest.units import to_record_unit


@dataclass
class ValueIssue:
    """A value made null (and why): ``where`` is ``row N.column``."""

    patient: str
    where: str
    value: str
    reason: str


@dataclass
class CsvResult:
    """Per patient id: the ``tabular`` struct (as a :class:`Converted`), the labels, errors and value issues."""

    tabular: dict[str, Converted] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, IngestError] = field(default_factory=dict)
    issues: list[ValueIssue] = field(default_factory=list)


def _is_missing(value: Any, codes: list[str]) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    text = str(value).strip()
    return text == "" or text in codes or _number_in(text, codes)


def _number_in(text: str, codes: list[str]) -> bool:
    """``"0.0"`` matches the code ``0``."""
    try:
        x = float(text)
    except ValueError:
        return False
    for code in codes:
        try:
            if float(code) == x:
                return True
        except ValueError:
            continue
    return False


class _Row:
    """Converts one CSV row; problems become :class:`ValueIssue` entries (value → null)."""

    def __init__(self, pid: str, where: str, dictionary: DataDictionary, issues: list[ValueIssue]) -> None:
        self.pid, self.where, self.dictionary, self.issues = pid, where, dictionary, issues

    def issue(self, column: str, value: Any, reason: str) -> None:
        self.issues.append(ValueIssue(self.pid, f"{self.where}.{column}", str(value), reason))

    def variable(self, column: str, var: Variable, spec: dict[str, Any], raw: Any) -> Any:
        value_map = {str(k): v for k, v in (spec.get("values") or {}).items()}
        text = str(raw).strip()
        if var.is_numeric:
            mapped = value_map.get(text, text)
            try:
                number = float(mapped)
            except (TypeError, ValueError):
                self.issue(column, raw, f"not a number for {var.kind} variable {var.name!r}")
                return None
            try:
                number = to_record_unit(var.name, number, spec.get("unit"), var.unit or "1")
            except ValueError as err:
                self.issue(column, raw, f"unit: {err}")
                return None
            problem = var.check(round(number, 6))
            if problem is not None:
                self.issue(column, raw, problem)
                return None
            return round(number, 4)
        if value_map and text not in value_map:
            self.issue(column, raw, f"{text!r} is not in the value map {sorted(value_map)}")
            return None
        category = value_map.get(text, text)
        category = normalise_sex(category) or category if var.name == "sex" else category
        if category not in var.categories:
            self.issue(column, raw, f"{category!r} is not a category of {var.name!r} {list(var.categories)}")
            return None
        return category

    def label(self, label: Label, spec: dict[str, Any], row: dict[str, Any]) -> Any:
        missing = [str(m) for m in spec.get("missing") or []]
        if label.kind == "survival":
            time = self._label_value(label, spec["time"], row[spec["time"]], {}, missing, "regression")
            event_map = {str(k): v for k, v in (spec.get("event_values") or {}).items()}
            event = self._label_value(label, spec["event"], row[spec["event"]], event_map, missing, "binary")
            if time is None or event is None:
                return None
            if spec.get("time_unit") and spec["time_unit"] != label.time_unit:
                time = to_record_unit(label.name, time, spec["time_unit"], label.time_unit or "a")
            return {"time": time, "event": event}
        value_map = {str(k): v for k, v in (spec.get("values") or {}).items()}
        return self._label_value(label, spec["column"], row[spec["column"]], value_map, missing, label.kind, spec)

    def _label_value(
        self, label: Label, column: str, raw: Any, value_map: dict[str, Any], missing: list[str], kind: str,
        spec: dict[str, Any] | None = None,
    ) -> Any:
        if _is_missing(raw, missing):
            return None
        text = str(raw).strip()
        if value_map and text not in value_map:
            self.issue(column, raw, f"label {label.name!r}: {text!r} is not in the value map {sorted(value_map)}")
            return None
        value = value_map.get(text, text)
        try:
            if kind == "binary":
                value = int(float(value))
            elif kind == "regression":
                value = float(value)
                if spec and spec.get("unit") and label.unit and spec["unit"] != label.unit:
                    value = to_record_unit(label.name, value, spec["unit"], label.unit)
            elif kind == "multilabel":
                value = [v.strip() for v in str(value).split("|") if v.strip()]
        except (TypeError, ValueError) as err:
            self.issue(column, raw, f"label {label.name!r}: {err}")
            return None
        problem = label.check(value) if kind == label.kind else _survival_part_problem(kind, value)
        if problem is not None:
            self.issue(column, raw, f"label {label.name!r}: {problem}")
            return None
        return value


def _survival_part_problem(kind: str, value: Any) -> str | None:
    """Why a survival label's time (parsed as ``"regression"``) or event (``"binary"``) value is invalid."""
    if kind == "binary":
        return None if value in (0, 1) else f"event must be 0 or 1, got {value!r}"
    return None if math.isfinite(value) else "not a finite number"


def _row_to_record(
    row: dict[str, Any], source: CsvSource, dictionary: DataDictionary, pid: str, where: str, issues: list[ValueIssue]
) -> tuple[dict[str, Any], dict[str, Any]]:
    conv = _Row(pid, where, dictionary, issues)
    tabular: dict[str, Any] = {}
    birth_year, visit_year = None, source.reference_year
    for column, spec in source.columns.items():
        raw = row.get(column)
        name = spec["variable"]
        var = dictionary.variables.get(name)
        codes = [str(m) for m in (spec.get("missing") or [])] + list(var.missing if var else ())
        if _is_missing(raw, codes):
            continue
        if name in ("birth_year", "birth_date"):
            birth_year = year_of(str(raw))
        elif name == "visit_date":
            visit_year = year_of(str(raw)) or visit_year
        else:
            tabular[name] = conv.variable(column, var, spec, raw)
    if tabular.get("age") is None and birth_year is not None and visit_year is not None:
        tabular["age"] = conv.variable("birth_year", dictionary.variables["age"], {}, float(visit_year - birth_year))
    for name, var in dictionary.variables.items():
        if var.required and tabular.get(name) is None:
            raise IngestError(source.path, f"{where}.{name}", f"required variable {name!r} is missing or invalid")
    labels = {name: conv.label(dictionary.labels[name], spec, row) for name, spec in source.labels.items()}
    return tabular, labels


def read_clinical_csv(source: CsvSource, dictionary: DataDictionary) -> CsvResult:
    """Convert every row of a clinical CSV.

    Args:
        source: the manifest's CSV description.
        dictionary: the store's data dictionary (every mapped variable and label is declared in it).

    Returns:
        A :class:`CsvResult`; rows that failed (a duplicate id, a required variable missing) are errors that the
        pipeline quarantines per patient; values made null are issues it reports.

    Raises:
        IngestError: unreadable CSV, or a mapped/id column absent from the header.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(source.path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise IngestError(source.path, "<file>", f"unreadable CSV ({type(err).__name__}: {err})") from None
    needed = [source.id_column, *source.columns]
    for spec in source.labels.values():
        needed += [spec[k] for k in ("column", "time", "event") if k in spec]
    for column in needed:
        if column not in frame.columns:
            raise IngestError(source.path, column, "column named in the manifest is not in the CSV header")
    sha = sha256_files([source.path])
    out = CsvResult()
    for i, row in enumerate(frame.to_dict(orient="records")):
        pid = str(row[source.id_column]).strip()
        where = f"row {i + 2}"
        if not pid:
            out.issues.append(ValueIssue("<no id>", f"{where}.{source.id_column}", "", "row without a patient id"))
            continue
        if pid in out.tabular or pid in out.errors:
            out.errors[pid] = IngestError(source.path, f"{where}.{source.id_column}", "patient appears in two rows")
            out.tabular.pop(pid, None)
            out.labels.pop(pid, None)
            continue
        try:
            tab, labels = _row_to_record(row, source, dictionary, pid, where, out.issues)
        except IngestError as err:
            out.errors[pid] = err
            continue
        meta = {"row": i + 2, "columns": sorted(source.columns)}
        out.tabular[pid] = Converted("tabular", tab, "csv", source.raw_path or str(source.path), sha, meta)
        out.labels[pid] = labels
    return out


def csv_patient_ids(source: CsvSource) -> list[str]:
    """The patient ids of a CSV, in row order (for CSV-only cohorts); unreadable files give none."""
    import pandas as pd

    try:
        frame = pd.read_csv(source.path, dtype=str, keep_default_na=False, usecols=[source.id_column])
    except (OSError, ValueError, pd.errors.ParserError):
        return []
    seen: dict[str, None] = {}
    for pid in frame[source.id_column].tolist():
        if str(pid).strip():
            seen.setdefault(str(pid).strip(), None)
    return list(seen)
