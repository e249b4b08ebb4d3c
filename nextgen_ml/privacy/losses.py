"""Per-sample losses: the task losses written as ``(B,)`` vectors so DP-SGD can sum them exactly.

The tasks average their loss over the rows that have a label; DP-SGD needs one loss per record. For every task
here, ``per_sample_loss(...).sum() / n_labelled`` equals ``task.loss(...)`` when labels are complete (rows without
a label contribute 0). Multilabel rows average over their labelled entries. The Cox partial likelihood (survival)
couples the records of a batch through its risk sets, so it has no per-sample decomposition and is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nextgen_ml.tasks.tasks import BinaryTask, MulticlassTask, MultilabelTask, RegressionTask, SurvivalTask

PerSampleLoss = Callable[[Any, Tensor, Mapping[str, Tensor]], Tensor]


def _binary(task: BinaryTask, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    y = targets[task.target]
    valid = ~torch.isnan(y)
    weight = None if task.pos_weight is None else torch.tensor(task.pos_weight, device=logits.device)
    per = F.binary_cross_entropy_with_logits(logits[:, 0], torch.where(valid, y, torch.zeros_like(y)).to(logits.dtype),
                                             pos_weight=weight, reduction="none")  # (B,)
    return torch.where(valid, per, torch.zeros_like(per))


def _multiclass(task: MulticlassTask, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    y = targets[task.target].long()
    valid = y >= 0
    per = F.cross_entropy(logits, torch.where(valid, y, torch.zeros_like(y)), reduction="none")  # (B,)
    return torch.where(valid, per, torch.zeros_like(per))


def _multilabel(task: MultilabelTask, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    y = targets[task.target]
    valid = ~torch.isnan(y)  # (B, K)
    entries = F.binary_cross_entropy_with_logits(logits, torch.where(valid, y, torch.zeros_like(y)).to(logits.dtype),
                                                 reduction="none")  # (B, K)
    entries = torch.where(valid, entries, torch.zeros_like(entries))
    return entries.sum(1) / valid.sum(1).clamp_min(1)  # (B,): mean over the row's labelled entries


def _regression(task: RegressionTask, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    y = targets[task.target]
    valid = ~torch.isnan(y)
    z = (torch.where(valid, y, torch.full_like(y, task.loc)).to(logits.dtype) - task.loc) / task.scale
    per = (logits[:, 0] - z) ** 2  # (B,): MSE on the standardised target
    return torch.where(valid, per, torch.zeros_like(per))


def _survival(task: SurvivalTask, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    raise ValueError("privacy=dp cannot train a survival task: the Cox partial likelihood couples the records of a "
                     "batch (risk sets), so it has no per-sample loss and clipping would not bound one patient's "
                     "influence. Use a binary/regression target (e.g. task=mace) under DP.")


#: task class → per-sample loss (registry, no if-chains on names).
PER_SAMPLE_LOSSES: dict[type, PerSampleLoss] = {
    BinaryTask: _binary,
    MulticlassTask: _multiclass,
    MultilabelTask: _multilabel,
    RegressionTask: _regression,
    SurvivalTask: _survival,
}


def per_sample_loss_fn(task: Any) -> PerSampleLoss:
    """The per-sample loss of ``task``; raises ``ValueError`` for tasks DP-SGD cannot train (survival, unknown)."""
    fn = PER_SAMPLE_LOSSES.get(type(task))
    if fn is None:
        raise ValueError(f"privacy=dp: no per-sample loss for task {type(task).__name__}; "
                         f"supported: {[c.__name__ for c in PER_SAMPLE_LOSSES if c is not SurvivalTask]}")
    if fn is _survival:
        fn(task, torch.zeros(0, 1), {})
    return fn


def per_sample_loss(task: Any, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    """``(B,)`` loss of each record (0 where the label is missing).

    Args:
        task: a task from :mod:`nextgen_ml.tasks.tasks`.
        logits: ``(B, K)`` head output.
        targets: the batch's targets.
    """
    return per_sample_loss_fn(task)(task, logits, targets)
