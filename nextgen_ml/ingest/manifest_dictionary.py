"""The manifest's data dictionary: declared inline (``dictionary:``) or in a file (``dictionary: vars.yaml``).

The store's dictionary is what the manifest declares, plus catalogue entries for known variables that CSV
columns map to without declaring them (``age``, ``sbp``, ...), plus the variables the FHIR reader emits when
FHIR files are listed. A manifest without a ``dictionary`` keeps the synthetic cohort's variables and labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nextgen_ml.data.catalogue import DERIVED_COLUMNS, KNOWN_VARIABLES, SYNTHETIC_DICTIONARY
from nextgen_ml.data.dictionary import DataDictionary, DictionaryError

_COLUMN_KEYS = frozenset({"variable", "unit", "values", "missing", "required"})
_LABEL_KEYS = frozenset({"column", "values", "missing", "unit", "time", "event", "time_unit", "event_values"})


def _mapping(obj: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ValueError(f"manifest {where}: expected a mapping, got {type(obj).__name__}")
    return obj


def check_csv_spec(columns: Any, labels: Any, where: str) -> None:
    """Shape checks of a ``clinical_csv`` entry's ``columns`` and ``labels`` (errors name the key path)."""
    for col, spec in _mapping(columns, f"{where}.columns").items():
        spec = _mapping(spec, f"{where}.columns.{col}")
        if not isinstance(spec.get("variable"), str):
            raise ValueError(f"manifest {where}.columns.{col}.variable: required (the variable this column fills)")
        unknown = sorted(set(spec) - _COLUMN_KEYS)
        if unknown:
            known = sorted(_COLUMN_KEYS)
            raise ValueError(f"manifest {where}.columns.{col}.{unknown[0]}: unknown key (known: {known})")
        if spec.get("values") is not None:
            _mapping(spec["values"], f"{where}.columns.{col}.values")
        if spec.get("missing") is not None and not isinstance(spec["missing"], list):
            raise ValueError(f"manifest {where}.columns.{col}.missing: expected a list of values")
    for name, spec in _mapping(labels, f"{where}.labels").items():
        spec = _mapping(spec, f"{where}.labels.{name}")
        unknown = sorted(set(spec) - _LABEL_KEYS)
        if unknown:
            raise ValueError(f"manifest {where}.labels.{name}.{unknown[0]}: unknown key (known: {sorted(_LABEL_KEYS)})")
        survival = "time" in spec or "event" in spec
        if survival and not (isinstance(spec.get("time"), str) and isinstance(spec.get("event"), str)):
            raise ValueError(f"manifest {where}.labels.{name}: a survival label needs both `time` and `event` columns")
        if not survival and not isinstance(spec.get("column"), str):
            raise ValueError(f"manifest {where}.labels.{name}.column: required (or `time` + `event` for survival)")


def _declared(raw: Any, base: Path) -> DataDictionary | None:
    if raw is None:
        return None
    if isinstance(raw, str):  # a dictionary file next to the manifest
        path = Path(raw) if Path(raw).is_absolute() else base / raw
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"manifest dictionary: cannot read {raw!r} ({type(err).__name__})") from None
    try:
        return DataDictionary.parse(raw, where="manifest dictionary")
    except DictionaryError as err:
        raise ValueError(str(err)) from None


def manifest_dictionary(
    raw: Any, csvs: Sequence[Any], patients: Sequence[Any], base: Path, has_fhir: bool
) -> DataDictionary:
    """The dictionary of the store this manifest writes (see the module docstring).

    Raises:
        ValueError: a CSV column maps to a variable that is neither declared nor known, or a CSV label is not
            declared; the message names the key path.
    """
    declared = _declared(raw, base)
    dic = declared if declared is not None else SYNTHETIC_DICTIONARY
    added = {}
    for i, source in enumerate(csvs):
        for col, spec in source.columns.items():
            var = spec["variable"]
            if var in ("birth_year", "birth_date"):
                var = "age"
            if var in dic.variables or var in added or var in DERIVED_COLUMNS:
                continue
            if var not in KNOWN_VARIABLES:
                raise ValueError(
                    f"manifest clinical_csv[{i}].columns.{col}.variable: {var!r} is neither declared in "
                    f"`dictionary.variables` nor a known variable (known: {sorted(KNOWN_VARIABLES)})"
                )
            added[var] = KNOWN_VARIABLES[var]
        for name in source.labels:
            if name not in dic.labels:
                raise ValueError(
                    f"manifest clinical_csv[{i}].labels.{name}: not declared in `dictionary.labels` "
                    f"(declared: {list(dic.labels)})"
                )
    if has_fhir:  # the FHIR reader fills the catalogue's synthetic-cohort variables
        added.update({n: v for n, v in SYNTHETIC_DICTIONARY.variables.items() if n not in dic.variables})
    if not added:
        return dic
    try:
        return dic.with_entries(variables=added)
    except ValueError as err:
        raise ValueError(f"manifest dictionary: {err}") from None
