"""Gated multimodal unit (GMU; Arevalo et al., 2017) generalised to any number of modalities."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, masked_softmax, prepare_inputs
from nextgen_ml.registry import register_fusion


def _softmax_gates(logits: Tensor, present: Tensor) -> Tensor:
    return masked_softmax(logits, present)


def _sigmoid_gates(logits: Tensor, present: Tensor) -> Tensor:
    z = torch.where(present, torch.sigmoid(logits), torch.zeros_like(logits))  # (B, M)
    return z / z.sum(dim=1, keepdim=True).clamp_min(1e-12)


#: gate name → ``(logits (B, M), present (B, M)) -> weights (B, M)`` (absent → 0, rows renormalised).
GATES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"softmax": _softmax_gates, "sigmoid": _sigmoid_gates}


class GatedFusion(nn.Module):
    """``h_m = tanh(W_m x_m)``; gates ``z = gate(W_z [x_1; ...; x_M])`` over modalities, zero for absent ones and
    renormalised over the present ones; output ``Σ_m z_m h_m``. In the gate input an absent modality is replaced
    by a learned missing vector (never by its placeholder). Rows with no modality get a learned "no data"
    embedding.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: width of ``h_m`` (= ``out_dim``).
        gate: ``"softmax"`` or ``"sigmoid"`` (sigmoid gates renormalised to sum to 1).

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(self, in_dims: Mapping[str, int], embed_dim: int = 128, gate: str = "softmax") -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {sorted(GATES)}, got {gate!r}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.gate = embed_dim, gate
        self.hidden = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.missing = nn.ModuleDict({m: LearnedVectors(1, d) for m, d in self.in_dims.items()})
        self.gate_proj = nn.Linear(sum(self.in_dims.values()), len(self.in_dims))
        self.no_data = LearnedVectors(1, embed_dim)
        self.last_gates: Tensor | None = None  # (B, M), detached, from the latest forward

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch, device = present.shape[0], present.device
        gate_in = []
        for i, m in enumerate(self.in_dims):
            filler = self.missing[m](batch, device)  # (B, D_m)
            gate_in.append(torch.where(present[:, i : i + 1], clean[m], filler) if m in clean else filler)
        z = GATES[self.gate](self.gate_proj(torch.cat(gate_in, dim=1)), present)  # (B, M)
        self.last_gates = z.detach()
        names = list(self.in_dims)
        out = 0.0
        for m in clean:
            i = names.index(m)
            out = out + z[:, i : i + 1] * torch.tanh(self.hidden[m](clean[m]))  # (B, E)
        return fill_empty_rows(out, present, self.no_data(batch, device))


@register_fusion
def gated(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> GatedFusion:
    """Gated multimodal unit (see :class:`GatedFusion`)."""
    return GatedFusion(check_in_dims(in_dims), embed_dim, **kwargs)
