"""The DP-SGD training objective: the exact sum of per-sample losses (and ghost clipping's two passes).

Opacus hooks run with ``loss_reduction="sum"``, so each per-sample gradient is the gradient of that record's own
loss; the ``DPOptimizer`` clips, sums, adds noise N(0, σ²C²) and divides by the expected batch size q·N (its
``loss_reduction="mean"``). That is the standard DP-SGD estimator, exact whatever the rows without labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nextgen_ml.privacy.losses import per_sample_loss_fn


class DPObjective:
    """``(logits, targets) -> scalar`` that :class:`~nextgen_ml.tasks.module.MultimodalModule` backpropagates in
    training instead of the task's mean loss.

    Args:
        task: the module's task (its per-sample loss comes from :mod:`nextgen_ml.privacy.losses`).
        params: the trainable parameters under DP.
        ghost: Opacus's ghost-clipping hooks object (``grad_sample_mode="ghost"``), else None.

    With ghost clipping, calling the objective runs the first backward pass (per-sample gradient norms only),
    turns the norms into clipping coefficients ``c_i = min(1, C / ||g_i||)``, and returns ``Σ c_i · loss_i``, whose
    ordinary backward gives the sum of clipped gradients.
    """

    def __init__(self, task: Any, params: Iterable[nn.Parameter], ghost: Any | None = None) -> None:
        self.task, self.loss_fn = task, per_sample_loss_fn(task)
        self.params, self.ghost = list(params), ghost

    def __call__(self, logits: Tensor, targets: Mapping[str, Tensor], aux: Tensor | None = None) -> Tensor:
        """The objective; ``aux`` ``(B,)`` is a per-row auxiliary loss (a fusion's, e.g. the subspace ELBO) added to
        each row's loss, so its gradient is clipped and noised with the row's."""
        per = self.loss_fn(self.task, logits, targets)  # (B,)
        if aux is not None:
            per = per + aux
        if self.ghost is None:
            return per.sum()
        return self._ghost_clipped(per)

    def _ghost_clipped(self, per: Tensor) -> Tensor:
        rows = per.shape[0]
        for p in self.params:  # parameters unused by this batch (absent modality) have zero per-sample norm
            p._norm_sample = torch.zeros(rows, device=p.device, dtype=p.dtype)
        per.sum().backward(retain_graph=True)
        coeff = self.ghost.get_clipping_coef().detach()  # (B,)
        for p in self.params:
            p.grad = None
        self.ghost.disable_hooks()  # re-enabled by DPCallback before the next forward
        return (coeff.to(per.dtype) * per).sum()

    def empty_batch_loss(self) -> Tensor:
        """A zero loss over the parameters, for an empty Poisson batch (the noisy step must still happen)."""
        return sum((p.sum() for p in self.params), torch.zeros(())) * 0.0
