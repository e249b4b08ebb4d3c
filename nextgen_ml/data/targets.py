"""Stored label values → model targets, by the label's declared kind (one encoder per kind).

=============  =======================  ==============================
kind           target                   missing
=============  =======================  ==============================
binary         ``()`` float32 0/1       NaN
multiclass     ``()`` int64 class id    -1
multilabel     ``(K,)`` float32 0/1     NaN (whole row)
regression     ``()`` float32           NaN
survival       ``(2,)`` float32         NaN: ``[time, event]``
=============  =======================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nextgen_ml.data.dictionary import DataDictionary, Label

_NAN = np.float32(np.nan)


def _binary(label: Label, v: Any) -> np.ndarray:
    return np.float32(_NAN if v is None else v)


def _multiclass(label: Label, v: Any) -> np.ndarray:
    return np.int64(-1 if v is None else label.classes.index(v))


def _multilabel(label: Label, v: Any) -> np.ndarray:
    out = np.full(len(label.classes), _NAN, dtype=np.float32)
    if v is not None:
        out[:] = 0.0
        out[[label.classes.index(c) for c in v]] = 1.0
    return out


def _survival(label: Label, v: Any) -> np.ndarray:
    if v is None or v.get("time") is None or v.get("event") is None:
        return np.full(2, _NAN, dtype=np.float32)
    return np.array([v["time"], v["event"]], dtype=np.float32)


TARGET_ENCODERS: dict[str, Callable[[Label, Any], np.ndarray]] = {
    "binary": _binary,
    "multiclass": _multiclass,
    "multilabel": _multilabel,
    "regression": _binary,  # a float, NaN when missing
    "survival": _survival,
}


class TargetEncoder:
    """``labels`` struct of one record → ``{label: target}`` for every declared label.

    Args:
        dictionary: the store's data dictionary.
    """

    def __init__(self, dictionary: DataDictionary) -> None:
        self.labels = list(dictionary.labels.values())

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def __call__(self, labels: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
        labels = labels or {}
        return {lab.name: TARGET_ENCODERS[lab.kind](lab, labels.get(lab.name)) for lab in self.labels}


def strata(label: Label, values: list[Any], bins: int = 5) -> list[Any]:
    """Stratification key per record for ``label``'s stored ``values`` (None = unlabelled, its own stratum).

    Classification labels stratify on the class (multilabel: the set of positive classes), survival labels on
    the event indicator, regression labels on quantile bins (``bins``).
    """
    if label.kind in ("binary", "multiclass"):
        return list(values)
    if label.kind == "multilabel":
        return [None if v is None else "|".join(sorted(v)) for v in values]
    if label.kind == "survival":
        return [None if v is None or v.get("event") is None else int(v["event"]) for v in values]
    x = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    known = x[~np.isnan(x)]
    if known.size == 0:
        return [None] * len(values)
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
    return [None if np.isnan(v) else int(np.searchsorted(edges, v)) for v in x]
