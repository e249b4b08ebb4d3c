"""The cohort question a discovery site answers, validated strictly, and its coarsening to the site's age bins."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES, MODALITIES, TABULAR_BY_NAME

GRANULARITIES: tuple[str, ...] = ("boolean", "count")
LABEL_NAMES = frozenset(DIAGNOSIS_CLASSES) | frozenset(FINDING_CLASSES)
#: Ages outside this range are refused as input errors.
AGE_LIMITS: tuple[float, float] = (0.0, 150.0)


def _check_age(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of years, got {value!r}")
    if not AGE_LIMITS[0] <= value <= AGE_LIMITS[1]:
        raise ValueError(f"{name} must lie in {list(AGE_LIMITS)}, got {value!r}")


def _strings(name: str, values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a list of strings, got {values!r}")
    return tuple(values)


@dataclass(frozen=True)
class CohortQuery:
    """A cohort question; all criteria must hold (diagnoses: any of them).

    Args:
        modalities: modalities that must all be present (``"ecg"``, ``"image"``, ``"genomics"``, ...).
        age_min: minimum ``tabular.age`` in years (inclusive).
        age_max: maximum ``tabular.age`` in years (inclusive).
        sex: ``"female"`` or ``"male"``.
        diagnoses: record label names (``"heart_failure"``, ``"atrial_fibrillation"``) or MONDO CURIEs; a record
            matches when its ``labels.diagnosis``/``labels.findings`` (mapped to MONDO) fall under any of them.
        variant: a panel variant id the patient carries (dosage ≥ 1).
        granularity: ``"boolean"`` or ``"count"``.
    """

    modalities: tuple[str, ...] = ()
    age_min: float | None = None
    age_max: float | None = None
    sex: str | None = None
    diagnoses: tuple[str, ...] = ()
    variant: str | None = None
    granularity: str = "count"

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(sorted(set(_strings("modalities", self.modalities)))))
        object.__setattr__(self, "diagnoses", tuple(sorted(set(_strings("diagnoses", self.diagnoses)))))
        bad = set(self.modalities) - set(MODALITIES)
        if bad:
            raise ValueError(f"modalities: {sorted(bad)} not in {list(MODALITIES)}")
        if self.sex is not None and self.sex not in TABULAR_BY_NAME["sex"].categories:
            raise ValueError(f"sex must be one of {list(TABULAR_BY_NAME['sex'].categories)}, got {self.sex!r}")
        _check_age("age_min", self.age_min)
        _check_age("age_max", self.age_max)
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is greater than age_max ({self.age_max})")
        for term in self.diagnoses:
            if term not in LABEL_NAMES and not term.startswith("MONDO:"):
                raise ValueError(f"diagnoses: {term!r} is neither a MONDO CURIE nor one of {sorted(LABEL_NAMES)}")
        if self.variant is not None and not isinstance(self.variant, str):
            raise ValueError(f"variant must be a panel variant id (string), got {self.variant!r}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {self.granularity!r}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["modalities"], out["diagnoses"] = list(self.modalities), list(self.diagnoses)
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CohortQuery:
        """Build from request parameters; unknown parameters are refused (ValueError naming them)."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"query: requestParameters must be an object, got {type(obj).__name__}")
        unknown = set(obj) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"query: unknown parameters {sorted(unknown)}; allowed {sorted(cls.__dataclass_fields__)}")
        return cls(**obj)


@dataclass(frozen=True)
class AgeBins:
    """Whole age bins of ``width`` years: a range is widened to the bins it touches, upper end exclusive.

    Args:
        width: bin width in years; 0 keeps ranges as asked (inclusive).
    """

    width: float

    def widen(self, query: CohortQuery) -> tuple[CohortQuery, bool]:
        """``(query with widened ages, whether age_max is now exclusive)``.

        ``age_min`` becomes the start of its bin and ``age_max`` the end (exclusive) of its bin, so 61–64 and
        60–69 ask the same question ``[60, 70)`` for ``width=10``.
        """
        if self.width <= 0 or (query.age_min is None and query.age_max is None):
            return query, False
        lo = None if query.age_min is None else math.floor(query.age_min / self.width) * self.width
        hi = None if query.age_max is None else (math.floor(query.age_max / self.width) + 1) * self.width
        return replace(query, age_min=lo, age_max=hi), hi is not None


def canonical_key(query: CohortQuery) -> str:
    """The identity of a (coarsened) question regardless of granularity and spelling."""
    import json

    params = {k: v for k, v in query.to_dict().items() if k != "granularity"}
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
