"""Named prediction columns per task: the model's ``task.predict(logits)`` → DataFrame columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES

#: class names of bundles from before data dictionaries (their tasks carry no ``class_names``).
_VOCABULARIES: dict[str, tuple[str, ...]] = {"diagnosis": DIAGNOSIS_CLASSES, "findings": FINDING_CLASSES}


def _per_class(task: Any, k: int) -> list[str]:
    names = tuple(getattr(task, "class_names", ()) or ()) or _VOCABULARIES.get(task.target, ())
    names = names if len(names) == k else tuple(str(i) for i in range(k))
    return [f"{task.target}_p_{n}" for n in names]


#: task kind → column names of ``task.predict(logits)`` (``(B,)`` → one column, ``(B, K)`` → K columns).
PREDICTION_COLUMNS: dict[str, Callable[[Any], list[str]]] = {
    "binary": lambda task: [f"{task.target}_probability"],
    "multiclass": lambda task: _per_class(task, task.num_classes),
    "multilabel": lambda task: _per_class(task, task.num_labels),
    "regression": lambda task: [f"{task.target}_predicted"],
    "survival": lambda task: ["risk_score"],
}


def prediction_columns(task: Any) -> list[str]:
    """Column names for ``task.predict`` outputs, e.g. ``["mace_probability"]``."""
    name = getattr(task, "kind", type(task).__name__)
    if name not in PREDICTION_COLUMNS:
        raise ValueError(f"task: no prediction columns known for {name}; known {sorted(PREDICTION_COLUMNS)}")
    return PREDICTION_COLUMNS[name](task)
