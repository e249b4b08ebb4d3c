"""Per-sample losses for DP-SGD: each task owns its ``per_sample_loss`` (:mod:`nextgen_ml.tasks.tasks`).

For every task kind but survival, ``task.loss == task.per_sample_loss(...).sum() / n_labelled`` by construction
(rows without a label contribute 0). The Cox partial likelihood (survival) couples the records of a batch
through its risk sets, so it has no per-sample decomposition and its task refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

PerSampleLoss = Callable[[Any, Tensor, Mapping[str, Tensor]], Tensor]


def _call(task: Any, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    return task.per_sample_loss(logits, targets)


def per_sample_loss_fn(task: Any) -> PerSampleLoss:
    """The per-sample loss of ``task``; raises ``ValueError`` for tasks DP-SGD cannot train (survival, unknown)."""
    if not callable(getattr(task, "per_sample_loss", None)):
        raise ValueError(f"privacy=dp: task {type(task).__name__} has no per_sample_loss")
    if getattr(task, "kind", None) == "survival":
        task.per_sample_loss(torch.zeros(0, 1), {})  # raises the task's own refusal
    return _call


def per_sample_loss(task: Any, logits: Tensor, targets: Mapping[str, Tensor]) -> Tensor:
    """``(B,)`` loss of each record (0 where the label is missing).

    Args:
        task: a task from :mod:`nextgen_ml.tasks.tasks`.
        logits: ``(B, K)`` head output.
        targets: the batch's targets.
    """
    return per_sample_loss_fn(task)(task, logits, targets)
