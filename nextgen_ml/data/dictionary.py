"""The data dictionary: what a dataset declares about its own variables and labels.

A store carries its dictionary in ``_metadata.json``; the record's ``tabular`` and ``labels`` structs are
derived from it (:func:`nextgen_ml.data.schema.record_schema`), and every component downstream (tabular
transform, targets, task kind, metrics, plots, validation) reads it. The package's known variables
(:mod:`nextgen_ml.data.catalogue`) only supply defaults for names and codes it knows; they are not the limit.

Variable kinds and their Arrow storage in ``tabular``:

==============  ========  ==============================================================
kind            Arrow     meaning
==============  ========  ==============================================================
numeric         float32   a measurement in ``unit`` (UCUM)
integer         float32   a count or score (stored exactly up to 2**24)
categorical     string    one of ``categories`` (unordered)
ordinal         string    one of ``categories`` (ordered, first = lowest)
binary          string    one of ``categories`` (default ``["no", "yes"]``)
==============  ========  ==============================================================

Label kinds and their storage in ``labels``: ``binary`` int8 (0/1), ``multiclass`` string (one of
``classes``), ``multilabel`` list of strings (subset of ``classes``), ``regression`` float32 (in ``unit``),
``survival`` struct ``{time: float32 (time_unit), event: int8 (1 = event, 0 = censored)}``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

VariableKind = Literal["numeric", "integer", "categorical", "ordinal", "binary"]
LabelKind = Literal["binary", "multiclass", "multilabel", "regression", "survival"]

#: Coding systems a ``code`` may name (``SYSTEM:code``).
CODE_SYSTEMS: tuple[str, ...] = ("LOINC", "SNOMED", "OMOP", "ICD10", "ATC", "HPO", "MONDO", "LOCAL")
_CODE = re.compile(r"^(?P<system>[A-Z0-9]+):(?P<code>\S+)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
DICTIONARY_FORMAT = "1.0"


class DictionaryError(ValueError):
    """A data dictionary is invalid or two dictionaries conflict; the message names the variable or label."""


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} name {name!r} must be snake_case (a-z, 0-9, _; starting with a letter)")
    return name


def _check_code(code: str | None) -> str | None:
    if code is None:
        return None
    m = _CODE.match(code)
    if m is None or m["system"] not in CODE_SYSTEMS:
        raise ValueError(f"code {code!r} must be SYSTEM:code with SYSTEM one of {list(CODE_SYSTEMS)}")
    return code


class Variable(BaseModel):
    """One clinical variable of the ``tabular`` struct.

    Args:
        name: column name inside ``tabular`` (snake_case).
        kind: numeric, integer, categorical, ordinal or binary.
        unit: UCUM unit of the stored values (numeric/integer; ``"1"`` = unitless).
        code: ``LOINC:8867-4``, ``SNOMED:73211009``, ``OMOP:3027018``, ...; stores meet by code.
        description: human-readable meaning.
        categories: allowed values (categorical, ordinal in order, binary: default ``no``, ``yes``).
        missing: raw source values that mean "not measured" (become null at ingest).
        range: plausible ``[min, max]`` (numeric/integer); values outside are reported and stored as null.
        required: a record without this variable is quarantined at ingest.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: VariableKind
    unit: str | None = None
    code: str | None = None
    description: str = ""
    categories: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    range: tuple[float, float] | None = None
    required: bool = False

    _name = field_validator("name")(lambda cls, v: _check_name(v, "variable"))
    _code = field_validator("code")(lambda cls, v: _check_code(v))

    @field_validator("missing", mode="before")
    @classmethod
    def _missing_as_strings(cls, v: Any) -> Any:
        return tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else v

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        if self.is_numeric:
            if self.categories:
                raise ValueError(f"variable {self.name!r}: a {self.kind} variable has no categories")
            if self.range is not None and not self.range[0] < self.range[1]:
                raise ValueError(f"variable {self.name!r}: range {list(self.range)} needs min < max")
            if self.unit is None:
                object.__setattr__(self, "unit", "1")
        else:
            if self.kind == "binary" and not self.categories:
                object.__setattr__(self, "categories", ("no", "yes"))
            if self.kind == "binary" and len(self.categories) != 2:
                raise ValueError(f"variable {self.name!r}: a binary variable has exactly 2 categories")
            if len(self.categories) < 2:
                raise ValueError(f"variable {self.name!r}: a {self.kind} variable needs at least 2 categories")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"variable {self.name!r}: duplicate categories {list(self.categories)}")
            if self.range is not None:
                raise ValueError(f"variable {self.name!r}: range applies to numeric variables only")
        return self

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("numeric", "integer")

    def arrow_field(self) -> pa.Field:
        """The field inside ``tabular``; unit, code, kind and description travel as field metadata."""
        meta = {"kind": self.kind, "unit": self.unit or "", "code": self.code or "", "description": self.description}
        if self.categories:
            meta["categories"] = json.dumps(list(self.categories))
        if self.range is not None:
            meta["range"] = json.dumps(list(self.range))
        return pa.field(self.name, pa.float32() if self.is_numeric else pa.string(), nullable=True, metadata=meta)

    def check(self, value: Any) -> str | None:
        """Why ``value`` (already in ``unit``) is not a valid stored value, or None when it is."""
        if value is None:
            return None
        if self.is_numeric:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                return f"not a number: {value!r}"
            if self.kind == "integer" and float(value) != int(value):
                return f"not an integer: {value!r}"
            if self.range is not None and not self.range[0] <= value <= self.range[1]:
                return f"{value} {self.unit} outside the plausible range {list(self.range)}"
            return None
        return None if value in self.categories else f"{value!r} not in {list(self.categories)}"


class Label(BaseModel):
    """One outcome of the ``labels`` struct.

    Args:
        name: field name inside ``labels``.
        kind: binary, multiclass, multilabel, regression or survival.
        classes: class names (multiclass, multilabel); required for those kinds.
        unit: UCUM unit (regression).
        time_unit: UCUM unit of the survival time (``d``, ``mo``, ``a``).
        code: optional SNOMED/LOINC/OMOP code of the outcome.
        description: human-readable meaning.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: LabelKind
    classes: tuple[str, ...] = ()
    unit: str | None = None
    time_unit: str | None = None
    code: str | None = None
    description: str = ""

    _name = field_validator("name")(lambda cls, v: _check_name(v, "label"))
    _code = field_validator("code")(lambda cls, v: _check_code(v))

    @model_validator(mode="after")
    def _consistent(self) -> Label:
        if self.kind in ("multiclass", "multilabel"):
            if len(self.classes) < 2:
                raise ValueError(f"label {self.name!r}: a {self.kind} label needs at least 2 classes")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"label {self.name!r}: duplicate classes {list(self.classes)}")
        elif self.classes:
            raise ValueError(f"label {self.name!r}: a {self.kind} label has no classes")
        if self.kind == "survival" and self.time_unit is None:
            object.__setattr__(self, "time_unit", "a")
        if self.kind != "survival" and self.time_unit is not None:
            raise ValueError(f"label {self.name!r}: time_unit applies to survival labels only")
        return self

    def arrow_type(self) -> pa.DataType:
        return {
            "binary": pa.int8(),
            "multiclass": pa.string(),
            "multilabel": pa.list_(pa.string()),
            "regression": pa.float32(),
            "survival": pa.struct([pa.field("time", pa.float32()), pa.field("event", pa.int8())]),
        }[self.kind]

    def arrow_field(self) -> pa.Field:
        meta = {"kind": self.kind, "description": self.description}
        meta.update({k: v for k, v in (("unit", self.unit), ("time_unit", self.time_unit)) if v})
        if self.classes:
            meta["classes"] = json.dumps(list(self.classes))
        return pa.field(self.name, self.arrow_type(), nullable=True, metadata=meta)

    def check(self, value: Any) -> str | None:
        """Why ``value`` is not a valid stored label value, or None when it is (None = unlabelled)."""
        if value is None:
            return None
        if self.kind == "binary":
            return None if value in (0, 1) else f"must be 0 or 1, got {value!r}"
        if self.kind == "multiclass":
            return None if value in self.classes else f"{value!r} not in {list(self.classes)}"
        if self.kind == "multilabel":
            bad = [v for v in value if v not in self.classes]
            return None if not bad else f"{bad[0]!r} not in {list(self.classes)}"
        if self.kind == "regression":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            return None if ok else f"not a finite number: {value!r}"
        time, event = value.get("time"), value.get("event")
        if time is None and event is None:
            return None
        if time is None or event is None:
            return "survival needs both time and event"
        if not (isinstance(time, (int, float)) and math.isfinite(time) and time >= 0):
            return f"time must be a finite number >= 0, got {time!r}"
        return None if event in (0, 1) else f"event must be 0 or 1, got {event!r}"


def _named(entries: Any, what: str) -> dict[str, dict[str, Any]]:
    """``{name: spec}`` or ``[spec with name]`` → ``{name: spec with name}``."""
    if entries is None:
        return {}
    if isinstance(entries, list):
        entries = {str((e or {}).get("name")): e for e in entries}
    if not isinstance(entries, Mapping):
        raise DictionaryError(f"{what}: expected a mapping of name → declaration, got {type(entries).__name__}")
    out = {}
    for name, spec in entries.items():
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise DictionaryError(f"{what}.{name}: expected a mapping, got {type(spec).__name__}")
        out[str(name)] = {**spec, "name": str(name)}
    return out


class DataDictionary(BaseModel):
    """Every variable and label a dataset declares (versioned; stored with the store).

    Args:
        name: dataset name.
        version: the dictionary's own version (the steward bumps it when declarations change).
        variables: name → :class:`Variable` (insertion order is the tabular column order).
        labels: name → :class:`Label`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "dataset"
    version: str = "1.0.0"
    format: str = Field(default=DICTIONARY_FORMAT)
    variables: dict[str, Variable] = Field(default_factory=dict)
    labels: dict[str, Label] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_match(self) -> DataDictionary:
        for key, var in self.variables.items():
            if key != var.name:
                raise ValueError(f"variables.{key}: name {var.name!r} differs from its key")
        for key, lab in self.labels.items():
            if key != lab.name:
                raise ValueError(f"labels.{key}: name {lab.name!r} differs from its key")
        codes: dict[str, str] = {}
        for var in self.variables.values():
            if var.code and var.code in codes:
                raise ValueError(f"variables {codes[var.code]!r} and {var.name!r} share code {var.code}")
            if var.code:
                codes[var.code] = var.name
        return self

    # ------------------------------------------------------------------ construction
    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str = "dictionary", defaults: bool = True) -> DataDictionary:
        """A dictionary from its YAML/JSON form; known names and codes take catalogue defaults.

        Raises:
            DictionaryError: naming the entry (``dictionary.variables.max_hr.range: ...``).
        """
        if not isinstance(raw, Mapping):
            raise DictionaryError(f"{where}: expected a mapping, got {type(raw).__name__}")
        variables = _named(raw.get("variables"), f"{where}.variables")
        if defaults:
            from nextgen_ml.data.catalogue import with_defaults

            variables = {k: with_defaults(v) for k, v in variables.items()}
        body = {**raw, "variables": variables, "labels": _named(raw.get("labels"), f"{where}.labels")}
        try:
            return cls.model_validate(body)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise DictionaryError(f"{where}.{loc}: {first['msg']}") from None

    @classmethod
    def from_json(cls, text: str) -> DataDictionary:
        return cls.parse(json.loads(text), defaults=False)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_defaults=False)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    # ------------------------------------------------------------------ derived
    def tabular_type(self) -> pa.StructType:
        return pa.struct([v.arrow_field() for v in self.variables.values()])

    def labels_type(self) -> pa.StructType:
        return pa.struct([lab.arrow_field() for lab in self.labels.values()])

    def label(self, name: str) -> Label:
        """The declared label ``name``; the error lists the declared ones."""
        if name not in self.labels:
            declared = list(self.labels)
            raise DictionaryError(f"label {name!r} is not declared in the data dictionary; declared: {declared}")
        return self.labels[name]

    def variable(self, name: str) -> Variable:
        if name not in self.variables:
            raise DictionaryError(
                f"variable {name!r} is not declared in the data dictionary; declared: {list(self.variables)}"
            )
        return self.variables[name]

    def by_code(self) -> dict[str, Variable]:
        return {v.code: v for v in self.variables.values() if v.code}

    def with_entries(
        self, variables: Mapping[str, Variable] | None = None, labels: Mapping[str, Label] | None = None
    ) -> DataDictionary:
        """A copy with these variables/labels added (or replaced)."""
        return DataDictionary(
            name=self.name,
            version=self.version,
            variables={**self.variables, **dict(variables or {})},
            labels={**self.labels, **dict(labels or {})},
        )

    @cached_property
    def _fingerprint(self) -> str:
        import hashlib

        declared = self.as_dict()
        body = json.dumps({"v": declared["variables"], "l": declared["labels"]}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """A short hash of the declarations (two stores with the same fingerprint have the same record shape);
        computed once per dictionary (it is frozen)."""
        return self._fingerprint
