"""Opacus's per-sample-gradient hooks and ``DPOptimizer`` for a net and its optimizer (no module wrapping).

The optimizer is Opacus's class for the clipping mode with one change, :func:`secure_add_noise`: the Gaussian
noise of noisy step ``t`` comes from the secure generator's stream ``t``
(:class:`~nextgen_ml.privacy.randomness.DPRandomness`, ChaCha20), never from a ``torch.Generator``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from opacus.grad_sample.utils import prepare_module
from opacus.optimizers import DPOptimizer, get_optimizer_class
from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed
from torch import nn

from nextgen_ml.privacy.compat import assert_dp_compatible
from nextgen_ml.privacy.config import DPConfig
from nextgen_ml.privacy.randomness import DPRandomness

_SECURE_CLASSES: dict[type, type] = {}


def secure_add_noise(self: DPOptimizer) -> None:
    """``DPOptimizer.add_noise`` with N(0, σ²C²) from ``self.randomness.noise(self.noise_step)``.

    Same contract as Opacus's (every subclass's ``add_noise`` has this body): ``p.grad = summed_grad + noise``
    for every parameter, in parameter order, from one stream per step; then ``noise_step`` advances.
    """
    std = getattr(self, "_adjusted_noise_multiplier", self.noise_multiplier) * self.max_grad_norm  # adaptive σ
    stream = self.randomness.noise(self.noise_step)
    for p in self.params:
        _check_processed_flag(p.summed_grad)
        summed = p.summed_grad
        noise = stream.normal(summed.shape, std, summed.device, summed.dtype) if std else torch.zeros_like(summed)
        p.grad = (summed + noise).view_as(p)
        _mark_as_processed(p.summed_grad)
    self.noise_step += 1


def secure_optimizer_class(base: type[DPOptimizer]) -> type[DPOptimizer]:
    """``base`` (an Opacus DP optimizer class) drawing its noise with :func:`secure_add_noise`."""
    if base not in _SECURE_CLASSES:
        _SECURE_CLASSES[base] = type(f"Secure{base.__name__}", (base,), {"add_noise": secure_add_noise})
    return _SECURE_CLASSES[base]


def make_private_parts(net: nn.Module, optimizer: torch.optim.Optimizer, config: DPConfig, noise_multiplier: float,
                       expected_batch_size: float, randomness: DPRandomness | None = None,
                       first_step: int = 0) -> tuple[Any, DPOptimizer]:
    """Attach Opacus hooks to ``net`` and wrap ``optimizer`` for DP-SGD.

    Hooks run with ``loss_reduction="sum"`` (per-sample gradients of each record's own loss); the optimizer
    clips (flat: total norm ≤ C; per-layer: C / sqrt(L) per parameter tensor), adds N(0, σ²C²) and divides by
    ``expected_batch_size`` (q·N).

    Args:
        net: the network (checked with :func:`~nextgen_ml.privacy.compat.assert_dp_compatible`).
        optimizer: the optimizer over ``net``'s parameters.
        config: DP settings (mode, clipping, C).
        noise_multiplier: σ.
        expected_batch_size: q·N, the mean Poisson batch size.
        randomness: the secure generator of the noise (None = a fresh one, key from OS entropy).
        first_step: index of the next noisy step on this budget (a resumed run continues the noise streams).

    Returns:
        ``(hooks, dp_optimizer)``; ``hooks.cleanup()`` detaches Opacus from ``net``.
    """
    assert_dp_compatible(net)
    hook_kwargs: dict[str, Any] = {"batch_first": True, "loss_reduction": "sum"}
    if config.grad_sample_mode == "ghost":
        hook_kwargs["max_grad_norm"] = config.max_grad_norm
    hooks = prepare_module(net, grad_sample_mode=config.grad_sample_mode, wrap_model=False, **hook_kwargs)
    params = [p for p in net.parameters() if p.requires_grad]
    max_norm: float | list[float] = config.max_grad_norm
    if config.clipping == "per_layer":
        max_norm = [config.max_grad_norm / math.sqrt(len(params))] * len(params)
    optim_cls = secure_optimizer_class(get_optimizer_class(clipping=config.clipping, distributed=False,
                                                           grad_sample_mode=config.grad_sample_mode))
    dp_optimizer = optim_cls(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_norm,
                             expected_batch_size=expected_batch_size, loss_reduction="mean")
    dp_optimizer.randomness = randomness or DPRandomness()
    dp_optimizer.noise_step = int(first_step)
    return hooks, dp_optimizer


def fill_missing_grads(dp_optimizer: DPOptimizer, rows: int, ghost: bool) -> None:
    """Materialise zero per-sample gradients for parameters that saw no data this step.

    An empty Poisson batch, or a modality absent from every row, leaves some parameters without
    ``grad_sample`` (hooks/functorch) or ``grad`` (ghost); their per-sample gradient is 0 and Opacus needs it to
    clip, sum and add the noise all the same.
    """
    for p in dp_optimizer.params:
        if ghost:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        elif p.grad_sample is None:
            p.grad_sample = torch.zeros((rows, *p.shape), device=p.device, dtype=p.dtype)
