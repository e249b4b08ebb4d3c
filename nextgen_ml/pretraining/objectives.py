"""Pretraining objectives by name (``register_objective`` / ``create_objective``) and their weighted sum.

An objective says whether its loss decomposes per sample (``per_sample``: the condition for DP-SGD) and what it
needs from the net (a temperature, predictors and a masked forward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from nextgen_ml.pretraining.contrastive import contrastive_loss, zero_loss
from nextgen_ml.pretraining.masked import masked_modality_loss, masked_modality_per_sample

#: ``(z, mask) -> (z, mask)`` over the rows of every process (DDP); identity on one process.
Gather = Callable[[dict[str, Tensor], dict[str, Tensor]], tuple[dict[str, Tensor], dict[str, Tensor]]]

_OBJECTIVES: dict[str, type] = {}


def register_objective(cls: type) -> type:
    """Class decorator: register an objective under ``cls.name``."""
    if cls.name in _OBJECTIVES:
        raise ValueError(f"objective {cls.name!r} is already registered")
    _OBJECTIVES[cls.name] = cls
    return cls


def list_objectives() -> list[str]:
    return sorted(_OBJECTIVES)


def create_objective(name: str, **kwargs: Any) -> Any:
    """The objective registered as ``name``."""
    if name not in _OBJECTIVES:
        raise ValueError(f"pretrain.objectives: unknown objective {name!r}; choose from {list_objectives()}")
    return _OBJECTIVES[name](**kwargs)


@register_objective
class Contrastive:
    """Symmetric InfoNCE over every modality pair (:func:`~nextgen_ml.pretraining.contrastive.contrastive_loss`)."""

    name: ClassVar[str] = "contrastive"
    per_sample: ClassVar[bool] = False
    why_not_per_sample: ClassVar[str] = (
        "InfoNCE with in-batch negatives couples the records of a batch (each record is a negative in every other "
        "record's loss), so DP-SGD's per-sample clipping does not bound one patient's influence on the update")
    needs_temperature: ClassVar[bool] = True
    needs_masking: ClassVar[bool] = False

    def loss(self, out: Mapping[str, Any], mask: Mapping[str, Tensor], logit_scale: Tensor | None,
             gather: Gather | None = None) -> tuple[Tensor, dict[str, float]]:
        z, m = dict(out["z"]), {k: mask[k] for k in out["z"]}
        if gather is not None:
            z, m = gather(z, m)
        loss, pairs = contrastive_loss(z, m, logit_scale)
        names = sorted(m)
        anchors = max((int((m[a] & m[b]).sum()) for i, a in enumerate(names) for b in names[i + 1:]), default=0)
        return loss, {"pairs": float(pairs), "anchors": float(anchors)}  # anchors: rows of the largest pair (all
        # processes' rows when negatives are gathered)


@register_objective
class MaskedModality:
    """Predict a hidden modality's embedding from the fused others (:mod:`nextgen_ml.pretraining.masked`)."""

    name: ClassVar[str] = "masked_modality"
    per_sample: ClassVar[bool] = True
    why_not_per_sample: ClassVar[str] = ""
    needs_temperature: ClassVar[bool] = False
    needs_masking: ClassVar[bool] = True

    def loss(self, out: Mapping[str, Any], mask: Mapping[str, Tensor], logit_scale: Tensor | None,
             gather: Gather | None = None) -> tuple[Tensor, dict[str, float]]:
        if "pred" not in out:
            ref = next(iter(out["z"].values()))
            return zero_loss(ref.new_zeros(()), *out["z"].values()), {"rows": 0.0}
        loss, n = masked_modality_loss(out["pred"], out["z"], sorted(out["z"]), out["hidden"])
        return loss, {"rows": float(n)}

    def per_sample_loss(self, out: Mapping[str, Any]) -> Tensor:
        z = out["z"]
        first = next(iter(z.values()))
        # 0·Σz keeps every encoder in the graph, so per-sample-gradient hooks fire for all (none left stale)
        anchor = sum((v.sum(dim=1) for v in z.values()), torch.zeros(first.shape[0], device=first.device)) * 0.0
        if "pred" not in out:
            return anchor
        return masked_modality_per_sample(out["pred"], z, sorted(z), out["hidden"]) + anchor  # (B,)


class PretrainObjective:
    """The weighted sum of the configured objectives; the pretraining module's ``task``.

    It is the ``task`` the :class:`~nextgen_ml.privacy.DPCallback` sees: ``per_sample_loss(out, mask) -> (B,)``
    exists only when every objective decomposes per sample (otherwise it raises the refusal).

    Args:
        weights: objective name → weight (> 0).
    """

    kind = "pretrain"

    def __init__(self, weights: Mapping[str, float]) -> None:
        if not weights:
            raise ValueError("pretrain.objectives: name at least one objective, e.g. {contrastive: 1.0}")
        bad = {k: w for k, w in weights.items() if not float(w) > 0}
        if bad:
            raise ValueError(f"pretrain.objectives: weights must be > 0, got {bad}")
        self.weights = {k: float(w) for k, w in sorted(weights.items())}
        self.objectives = {k: create_objective(k) for k in self.weights}

    @property
    def needs_temperature(self) -> bool:
        return any(o.needs_temperature for o in self.objectives.values())

    @property
    def needs_masking(self) -> bool:
        return any(o.needs_masking for o in self.objectives.values())

    def not_per_sample(self) -> dict[str, str]:
        """Objective name → why it has no per-sample form (empty when DP-SGD can train them all)."""
        return {k: o.why_not_per_sample for k, o in self.objectives.items() if not o.per_sample}

    def check_dp(self) -> None:
        """Raise ``ValueError`` naming the objectives that DP-SGD cannot train, and why."""
        refused = self.not_per_sample()
        if refused:
            reasons = "; ".join(f"{k}: {why}" for k, why in refused.items())
            raise ValueError(f"privacy=dp refuses pretraining objective(s) {sorted(refused)}: {reasons}. Per-sample "
                             "objectives (masked_modality) can run under DP-SGD: pretrain=masked")

    def loss(self, out: Mapping[str, Any], mask: Mapping[str, Tensor], logit_scale: Tensor | None,
             gather: Gather | None = None) -> tuple[Tensor, dict[str, Tensor | float]]:
        """``(Σ weight·loss, {name: loss, name/<stat>: value})``."""
        total, parts = None, {}
        for name, obj in self.objectives.items():
            value, stats = obj.loss(out, mask, logit_scale, gather)
            parts[name] = value.detach()
            parts.update({f"{name}/{k}": v for k, v in stats.items()})
            total = self.weights[name] * value if total is None else total + self.weights[name] * value
        return total, parts

    @property
    def per_sample_loss(self) -> Callable[[Mapping[str, Any], Mapping[str, Tensor]], Tensor]:
        """``(out, mask) -> (B,)`` weighted per-sample loss (the DP-SGD objective sums it).

        Reading the attribute refuses non-per-sample objectives, so ``DPCallback`` stops at ``setup``.
        """
        self.check_dp()
        return self._per_sample_loss

    def _per_sample_loss(self, out: Mapping[str, Any], mask: Mapping[str, Tensor]) -> Tensor:
        return sum(self.weights[k] * o.per_sample_loss(out) for k, o in self.objectives.items())
