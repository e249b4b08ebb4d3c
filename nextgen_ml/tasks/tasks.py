"""Task definitions: one small class per task, each owning its loss, torchmetrics and prediction transform.

Every task has ``num_outputs``, ``main_metric``, ``loss(logits, targets)``, ``metrics()``,
``update(metrics, logits, targets)`` and ``predict(logits)``. Rows whose label is missing (NaN for float
targets, ``-1`` for ``diagnosis``) are left out of both loss and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
    MultilabelAUROC,
    MultilabelAveragePrecision,
    MultilabelF1Score,
)

from nextgen_ml.tasks.losses import cox_ph_loss
from nextgen_ml.tasks.metrics import ConcordanceIndex


def _target(targets: Mapping[str, Tensor], key: str, shape: tuple[int, ...]) -> Tensor:
    if key not in targets:
        raise ValueError(f"targets has no {key!r}; got {sorted(targets)}")
    y = targets[key]
    if tuple(y.shape) != shape:
        raise ValueError(f"targets[{key!r}] must have shape {shape}, got {tuple(y.shape)}")
    return y


def _check_logits(logits: Tensor, num_outputs: int) -> int:
    if logits.ndim != 2 or logits.shape[1] != num_outputs:
        raise ValueError(f"logits must be (B, {num_outputs}), got {tuple(logits.shape)}")
    return logits.shape[0]


def _no_label_loss(logits: Tensor) -> Tensor:
    """Zero loss that keeps the graph (a batch where every label is missing)."""
    return logits.sum() * 0.0


@dataclass
class BinaryTask:
    """Binary classification from one logit (e.g. ``mace``); metrics auroc, auprc, accuracy, f1.

    Args:
        target: key in ``targets``; ``(B,)`` float 0/1, NaN = missing.
        pos_weight: optional BCE weight of positives (class imbalance).
    """

    target: str = "mace"
    pos_weight: float | None = None
    main_metric: ClassVar[str] = "auroc"
    num_outputs: ClassVar[int] = 1

    def _valid(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        y = _target(targets, self.target, (batch,))
        keep = ~torch.isnan(y)
        return logits[:, 0][keep], y[keep]

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        score, y = self._valid(logits, targets)
        if y.numel() == 0:
            return _no_label_loss(logits)
        weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
        return F.binary_cross_entropy_with_logits(score, y.to(score.dtype), pos_weight=weight)

    def metrics(self) -> MetricCollection:
        return MetricCollection({"auroc": BinaryAUROC(), "auprc": BinaryAveragePrecision(),
                                 "accuracy": BinaryAccuracy(), "f1": BinaryF1Score()})

    def update(self, metrics: MetricCollection, logits: Tensor, targets: Mapping[str, Tensor]) -> None:
        score, y = self._valid(logits.detach(), targets)
        if y.numel():
            metrics.update(torch.sigmoid(score), y.long())

    def predict(self, logits: Tensor) -> Tensor:
        """Probability of the positive class, ``(B,)``."""
        return torch.sigmoid(logits[:, 0])


@dataclass
class MulticlassTask:
    """Single-label classification (e.g. ``diagnosis``); metrics accuracy, macro f1, macro auroc.

    Args:
        target: key in ``targets``; ``(B,)`` long class ids, ``-1`` = missing.
        num_classes: number of classes ``K``.
    """

    target: str = "diagnosis"
    num_classes: int = 5
    main_metric: ClassVar[str] = "f1"

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    def _valid(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, self.num_classes)
        y = _target(targets, self.target, (batch,)).long()
        keep = y >= 0
        if bool((y[keep] >= self.num_classes).any()):
            raise ValueError(f"targets[{self.target!r}] has class ids >= num_classes ({self.num_classes})")
        return logits[keep], y[keep]

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        scores, y = self._valid(logits, targets)
        return F.cross_entropy(scores, y) if y.numel() else _no_label_loss(logits)

    def metrics(self) -> MetricCollection:
        k = self.num_classes
        return MetricCollection({"accuracy": MulticlassAccuracy(k, average="micro"),
                                 "f1": MulticlassF1Score(k, average="macro"),
                                 "auroc": MulticlassAUROC(k, average="macro")})

    def update(self, metrics: MetricCollection, logits: Tensor, targets: Mapping[str, Tensor]) -> None:
        scores, y = self._valid(logits.detach(), targets)
        if y.numel():
            metrics.update(scores.softmax(dim=1), y)

    def predict(self, logits: Tensor) -> Tensor:
        """Class probabilities, ``(B, K)``."""
        return logits.softmax(dim=1)


@dataclass
class MultilabelTask:
    """Multi-label classification (e.g. ``findings``); metrics macro auroc, macro auprc, macro f1.

    Args:
        target: key in ``targets``; ``(B, K)`` float 0/1, NaN = missing (per label).
        num_labels: number of labels ``K``.
    """

    target: str = "findings"
    num_labels: int = 6
    main_metric: ClassVar[str] = "auroc"

    @property
    def num_outputs(self) -> int:
        return self.num_labels

    def _labels(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, self.num_labels)
        y = _target(targets, self.target, (batch, self.num_labels))
        return y, ~torch.isnan(y)

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        y, valid = self._labels(logits, targets)
        if not bool(valid.any()):
            return _no_label_loss(logits)
        y0 = torch.where(valid, y, torch.zeros_like(y)).to(logits.dtype)
        per_entry = F.binary_cross_entropy_with_logits(logits, y0, reduction="none")  # (B, K)
        return torch.where(valid, per_entry, torch.zeros_like(per_entry)).sum() / valid.sum()

    def metrics(self) -> MetricCollection:
        k = self.num_labels
        return MetricCollection({"auroc": MultilabelAUROC(k, average="macro", ignore_index=-1),
                                 "auprc": MultilabelAveragePrecision(k, average="macro", ignore_index=-1),
                                 "f1": MultilabelF1Score(k, average="macro", ignore_index=-1)})

    def update(self, metrics: MetricCollection, logits: Tensor, targets: Mapping[str, Tensor]) -> None:
        y, valid = self._labels(logits.detach(), targets)
        if bool(valid.any()):
            metrics.update(torch.sigmoid(logits.detach()), torch.where(valid, y, torch.full_like(y, -1)).long())

    def predict(self, logits: Tensor) -> Tensor:
        """Per-label probabilities, ``(B, K)``."""
        return torch.sigmoid(logits)


@dataclass
class RegressionTask:
    """Scalar regression (e.g. ``lvef``) with MSE on the standardised target; metrics mae, rmse, r2.

    The head predicts ``z``; the prediction is ``loc + scale * z`` (metrics are in the target's units).

    Args:
        target: key in ``targets``; ``(B,)`` float, NaN = missing.
        loc: target offset (e.g. the training mean).
        scale: target scale (e.g. the training standard deviation), > 0.
    """

    target: str = "lvef"
    loc: float = 0.0
    scale: float = 1.0
    main_metric: ClassVar[str] = "mae"
    num_outputs: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    def _valid(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        y = _target(targets, self.target, (batch,))
        keep = ~torch.isnan(y)
        return self.predict(logits)[keep], y[keep]

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        pred, y = self._valid(logits, targets)
        if y.numel() == 0:
            return _no_label_loss(logits)
        return F.mse_loss((pred - self.loc) / self.scale, (y.to(pred.dtype) - self.loc) / self.scale)

    def metrics(self) -> MetricCollection:
        return MetricCollection({"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False),
                                 "r2": R2Score()})

    def update(self, metrics: MetricCollection, logits: Tensor, targets: Mapping[str, Tensor]) -> None:
        pred, y = self._valid(logits.detach(), targets)
        if y.numel():
            metrics.update(pred, y.to(pred.dtype))

    def predict(self, logits: Tensor) -> Tensor:
        """Prediction in the target's units, ``(B,)``."""
        return self.loc + self.scale * logits[:, 0]


@dataclass
class SurvivalTask:
    """Time-to-event with a Cox proportional-hazards head (Breslow ties); metric Harrell's cindex.

    Args:
        time: key of the event/censoring time, ``(B,)`` float years, NaN = missing.
        event: key of the event indicator, ``(B,)`` float 0/1, NaN = missing.
    """

    time: str = "event_time"
    event: str = "event"
    main_metric: ClassVar[str] = "cindex"
    num_outputs: ClassVar[int] = 1

    def _parts(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        t, e = _target(targets, self.time, (batch,)), _target(targets, self.event, (batch,))
        valid = ~torch.isnan(t) & ~torch.isnan(e)
        return logits[:, 0], t, e, valid

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        risk, t, e, valid = self._parts(logits, targets)
        return cox_ph_loss(risk, t, e, valid)

    def metrics(self) -> MetricCollection:
        return MetricCollection({"cindex": ConcordanceIndex()})

    def update(self, metrics: MetricCollection, logits: Tensor, targets: Mapping[str, Tensor]) -> None:
        risk, t, e, valid = self._parts(logits.detach(), targets)
        if bool(valid.any()):
            metrics.update(risk[valid], t[valid], e[valid])

    def predict(self, logits: Tensor) -> Tensor:
        """Risk score (log hazard ratio; higher = earlier event), ``(B,)``."""
        return logits[:, 0]


#: task kind → class (for configs and the CLI; no if-chains on names).
TASKS: dict[str, type] = {
    "binary": BinaryTask,
    "multiclass": MulticlassTask,
    "multilabel": MultilabelTask,
    "regression": RegressionTask,
    "survival": SurvivalTask,
}


def create_task(kind: str, **kwargs: Any) -> Any:
    """Build a task by kind (``"binary"``, ``"multiclass"``, ``"multilabel"``, ``"regression"``, ``"survival"``)."""
    if kind not in TASKS:
        raise ValueError(f"unknown task kind {kind!r}; available: {sorted(TASKS)}")
    return TASKS[kind](**kwargs)
