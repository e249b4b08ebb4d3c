"""Named prediction columns per task: the model's ``task.predict(logits)`` → DataFrame columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES

#: class names of the label vocabularies (for column names of multi-output tasks).
_VOCABULARIES: dict[str, tuple[str, ...]] = {"diagnosis": DIAGNOSIS_CLASSES, "findings": FINDING_CLASSES}


def _per_class(task: Any, k: int) -> list[str]:
    names = _VOCABULARIES.get(task.target, ())
    names = names if len(names) == k else tuple(str(i) for i in range(k))
    return [f"{task.target}_p_{n}" for n in names]


#: task class name → column names of ``task.predict(logits)`` (``(B,)`` → one column, ``(B, K)`` → K columns).
PREDICTION_COLUMNS: dict[str, Callable[[Any], list[str]]] = {
    "BinaryTask": lambda task: [f"{task.target}_probability"],
    "MulticlassTask": lambda task: _per_class(task, task.num_classes),
    "MultilabelTask": lambda task: _per_class(task, task.num_labels),
    "RegressionTask": lambda task: [f"{task.target}_predicted"],
    "SurvivalTask": lambda task: ["risk_score"],
}


def prediction_columns(task: Any) -> list[str]:
    """Column names for ``task.predict`` outputs, e.g. ``["mace_probability"]``."""
    name = type(task).__name__
    if name not in PREDICTION_COLUMNS:
        raise ValueError(f"task: no prediction columns known for {name}; known {sorted(PREDICTION_COLUMNS)}")
    return PREDICTION_COLUMNS[name](task)
