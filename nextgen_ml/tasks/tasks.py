"""Task definitions: one small class per label kind, each owning its loss (and the per-sample form DP-SGD
needs), torchmetrics, prediction transform and monitor.

Every task has ``kind``, ``num_outputs``, ``main_metric``, ``monitor_mode``, ``per_sample_loss(logits, targets)``
(``(B,)``, 0 where unlabelled), ``loss(logits, targets)``, ``metrics()``, ``update(metrics, logits, targets)`` and
``predict(logits)``. For every kind but survival, ``loss = per_sample_loss.sum() / n_labelled``: one formula, so
the DP objective and the plain loss cannot drift apart. Rows whose label is missing (NaN for float targets,
``-1`` for multiclass) are left out of both loss and metrics. :func:`task_for_label` picks the task from a
label's declaration in the data dictionary.
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

from nextgen_ml.data.dictionary import Label
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


def _mean_over_labelled(per: Tensor, n_labelled: Tensor, logits: Tensor) -> Tensor:
    """``per.sum() / n_labelled`` (the task loss from its per-sample form); graph-keeping zero when none."""
    return per.sum() / n_labelled if bool(n_labelled > 0) else _no_label_loss(logits)


@dataclass
class BinaryTask:
    """Binary classification from one logit (e.g. ``mace``); metrics auroc, auprc, accuracy, f1.

    Args:
        target: key in ``targets``; ``(B,)`` float 0/1, NaN = missing.
        pos_weight: optional BCE weight of positives (class imbalance).
    """

    target: str = "mace"
    pos_weight: float | None = None
    kind: ClassVar[str] = "binary"
    main_metric: ClassVar[str] = "auroc"
    monitor_mode: ClassVar[str] = "max"
    num_outputs: ClassVar[int] = 1

    def _valid(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        y = _target(targets, self.target, (batch,))
        keep = ~torch.isnan(y)
        return logits[:, 0][keep], y[keep]

    def per_sample_loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """``(B,)`` binary cross-entropy per record, 0 where unlabelled."""
        y = _target(targets, self.target, (_check_logits(logits, 1),))
        valid = ~torch.isnan(y)
        weight = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
        y0 = torch.where(valid, y, torch.zeros_like(y)).to(logits.dtype)
        per = F.binary_cross_entropy_with_logits(logits[:, 0], y0, pos_weight=weight, reduction="none")  # (B,)
        return torch.where(valid, per, torch.zeros_like(per))

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        per = self.per_sample_loss(logits, targets)
        return _mean_over_labelled(per, (~torch.isnan(targets[self.target])).sum(), logits)

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
    class_names: tuple[str, ...] = ()
    kind: ClassVar[str] = "multiclass"
    main_metric: ClassVar[str] = "f1"
    monitor_mode: ClassVar[str] = "max"

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

    def per_sample_loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """``(B,)`` cross-entropy per record, 0 where unlabelled."""
        self._valid(logits, targets)  # shape and class-id checks
        y = targets[self.target].long()
        valid = y >= 0
        per = F.cross_entropy(logits, torch.where(valid, y, torch.zeros_like(y)), reduction="none")  # (B,)
        return torch.where(valid, per, torch.zeros_like(per))

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        per = self.per_sample_loss(logits, targets)
        return _mean_over_labelled(per, (targets[self.target] >= 0).sum(), logits)

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
    class_names: tuple[str, ...] = ()
    kind: ClassVar[str] = "multilabel"
    main_metric: ClassVar[str] = "auroc"
    monitor_mode: ClassVar[str] = "max"

    @property
    def num_outputs(self) -> int:
        return self.num_labels

    def _labels(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, self.num_labels)
        y = _target(targets, self.target, (batch, self.num_labels))
        return y, ~torch.isnan(y)

    def per_sample_loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """``(B,)`` per record: binary cross-entropy averaged over its labelled entries (0 where none)."""
        y, valid = self._labels(logits, targets)
        y0 = torch.where(valid, y, torch.zeros_like(y)).to(logits.dtype)
        per_entry = F.binary_cross_entropy_with_logits(logits, y0, reduction="none")  # (B, K)
        per_entry = torch.where(valid, per_entry, torch.zeros_like(per_entry))
        return per_entry.sum(1) / valid.sum(1).clamp_min(1)  # (B,)

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """Mean binary cross-entropy over every labelled entry of the batch (with complete labels this is
        ``per_sample_loss(...).mean()``; with partial labels a row weighs by its number of labelled entries)."""
        _, valid = self._labels(logits, targets)
        per_row = self.per_sample_loss(logits, targets) * valid.sum(1)  # (B,): sum over the row's entries
        return _mean_over_labelled(per_row, valid.sum(), logits)

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
    kind: ClassVar[str] = "regression"
    main_metric: ClassVar[str] = "mae"
    monitor_mode: ClassVar[str] = "min"
    num_outputs: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    def _valid(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        y = _target(targets, self.target, (batch,))
        keep = ~torch.isnan(y)
        return self.predict(logits)[keep], y[keep]

    def per_sample_loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """``(B,)`` squared error on the standardised target, 0 where unlabelled."""
        y = _target(targets, self.target, (_check_logits(logits, 1),))
        valid = ~torch.isnan(y)
        z = (torch.where(valid, y, torch.full_like(y, self.loc)).to(logits.dtype) - self.loc) / self.scale
        per = (logits[:, 0] - z) ** 2  # (B,)
        return torch.where(valid, per, torch.zeros_like(per))

    def loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        per = self.per_sample_loss(logits, targets)
        return _mean_over_labelled(per, (~torch.isnan(targets[self.target])).sum(), logits)

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
        target: key of the survival label, ``(B, 2)`` float: ``[:, 0]`` event/censoring time, ``[:, 1]`` event
            indicator 0/1; NaN = missing.
    """

    target: str = "time_to_mace"
    time_unit: str = "a"
    kind: ClassVar[str] = "survival"
    main_metric: ClassVar[str] = "cindex"
    monitor_mode: ClassVar[str] = "max"
    num_outputs: ClassVar[int] = 1

    def _parts(self, logits: Tensor, targets: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        batch = _check_logits(logits, 1)
        y = _target(targets, self.target, (batch, 2))
        t, e = y[:, 0], y[:, 1]
        valid = ~torch.isnan(t) & ~torch.isnan(e)
        return logits[:, 0], t, e, valid

    def per_sample_loss(self, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
        """Refused: the Cox partial likelihood couples a batch's records through its risk sets."""
        raise ValueError(
            "privacy=dp cannot train a survival task: the Cox partial likelihood couples the records of a batch "
            "(risk sets), so it has no per-sample loss and clipping would not bound one patient's influence. "
            "Use a binary or regression label under DP."
        )

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


#: task kind (= label kind) → class (for configs and the CLI; no if-chains on names).
TASKS: dict[str, type] = {
    cls.kind: cls for cls in (BinaryTask, MulticlassTask, MultilabelTask, RegressionTask, SurvivalTask)
}


def task_for_label(label: Label, **overrides: Any) -> Any:
    """The task for a declared label: its kind picks loss, metrics, monitor and plots.

    Args:
        label: the label's declaration in the data dictionary.
        overrides: task options (``pos_weight``, ``loc``/``scale`` for regression, ...).
    """
    kwargs: dict[str, Any] = {"target": label.name}
    if label.kind == "multiclass":
        kwargs.update(num_classes=len(label.classes), class_names=tuple(label.classes))
    if label.kind == "multilabel":
        kwargs.update(num_labels=len(label.classes), class_names=tuple(label.classes))
    if label.kind == "survival":
        kwargs.update(time_unit=label.time_unit)
    fields = set(TASKS[label.kind].__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"task: {unknown} are not options of a {label.kind} task (options: {sorted(fields)})")
    return TASKS[label.kind](**{**kwargs, **overrides})


def create_task(kind: str, **kwargs: Any) -> Any:
    """Build a task by kind (``"binary"``, ``"multiclass"``, ``"multilabel"``, ``"regression"``, ``"survival"``)."""
    if kind not in TASKS:
        raise ValueError(f"unknown task kind {kind!r}; available: {sorted(TASKS)}")
    return TASKS[kind](**kwargs)
