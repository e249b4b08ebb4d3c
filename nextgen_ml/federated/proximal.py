"""FedProx's proximal term as a decoupled step, so it also works under DP-SGD.

FedProx adds ``μ/2·‖w − w_global‖²`` to each site's loss. Under DP-SGD that term cannot be part of the loss:
Opacus computes per-sample gradients of the per-record loss only, so a parameter-only term would be dropped (or
clipped and noised as if it were data). Its gradient ``μ·(w − w_global)`` depends on no record, so applying it
as a separate step after every optimizer step, ``w ← w − lr·μ·(w − w_global)``, is the same proximal pull and
is post-processing of the private update (no privacy cost).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch


class ProximalStep(pl.Callback):
    """Pull every trainable parameter toward the round's global weights after each optimizer step.

    Args:
        mu: the FedProx coefficient μ (>= 0; 0 makes the callback a no-op).
    """

    def __init__(self, mu: float) -> None:
        if mu < 0:
            raise ValueError(f"proximal_mu must be >= 0, got {mu}")
        self.mu = mu
        self.anchor: dict[str, torch.Tensor] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Snapshot the global weights the site received this round."""
        self.anchor = {n: p.detach().clone() for n, p in pl_module.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.mu == 0 or not self.anchor:
            return
        lr = float(trainer.optimizers[0].param_groups[0]["lr"])
        for name, param in pl_module.named_parameters():
            anchor = self.anchor.get(name)
            if anchor is not None:
                param.sub_(lr * self.mu * (param - anchor))
