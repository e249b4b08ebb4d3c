"""Weighted decision-level fusion: per-modality heads whose decisions are combined with learned weights that are
renormalised over the modalities present in each row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, masked_softmax, prepare_inputs
from nextgen_ml.layers import MLP
from nextgen_ml.registry import register_fusion


class WeightedDecisionFusion(nn.Module):
    """Each modality's head (an MLP) gives a decision vector ``d_m`` of width ``embed_dim`` and, with
    ``confidence=True``, a scalar confidence logit ``c_m`` from the same input. The weight of modality ``m`` for
    output unit ``k`` is ``softmax_m(a_mk + c_m)`` taken over the modalities **present** in the row, where ``a`` is a
    learned ``(M, embed_dim)`` table (per-unit modality reliabilities); the output is ``Σ_m w_mk d_mk``. Unlike
    :class:`~nextgen_ml.fusion.late.LateFusion` the weights differ per output unit and, with ``confidence``, per
    sample (a noisy recording can be down-weighted). With a linear task head this is a weighted combination of
    per-modality decisions. Rows with no modality get a learned "no data" embedding.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: decision width (= ``out_dim``).
        hidden_dims: hidden widths of each per-modality head.
        confidence: add a per-sample confidence logit from each modality's own input.
        dropout: dropout inside the heads.

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        hidden_dims: Sequence[int] = (),
        confidence: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.confidence = embed_dim, confidence
        extra = 1 if confidence else 0
        self.heads = nn.ModuleDict(
            {m: MLP(d, tuple(hidden_dims), embed_dim + extra, dropout) for m, d in self.in_dims.items()}
        )
        self.weight_logits = LearnedVectors(len(self.in_dims), embed_dim, std=0.0)
        self.no_data = LearnedVectors(1, embed_dim)

    def weights(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        """Combination weights ``(B, M, embed_dim)``: 0 for absent modalities, summing to 1 over ``M`` on rows with
        any modality (sorted modality order)."""
        return self._decide(features, mask)[1]

    def _decide(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch, device = present.shape[0], present.device
        logits = self.weight_logits(batch, device)  # (B, M, E)
        if len(self.in_dims) == 1:
            logits = logits[:, None]  # (B, 1, E)
        decisions, confidences = [], []
        for i, m in enumerate(self.in_dims):
            width = self.out_dim + int(self.confidence)
            out = self.heads[m](clean[m]) if m in clean else logits.new_zeros(batch, width)  # (B, E [+ 1])
            conf = out[:, self.out_dim :] if self.confidence else out[:, :0]  # (B, 1) or (B, 0)
            confidences.append(torch.where(present[:, i : i + 1], conf, torch.zeros_like(conf)))
            decisions.append(out[:, : self.out_dim])  # (B, E)
        if self.confidence:
            logits = logits + torch.stack(confidences, dim=1)  # (B, M, E) + (B, M, 1): c_m on modality m's row
        stacked = torch.stack(decisions, dim=1)  # (B, M, E)
        keep = present[:, :, None].expand_as(logits)  # (B, M, E)
        w = masked_softmax(
            logits.transpose(1, 2).reshape(-1, logits.shape[1]), keep.transpose(1, 2).reshape(-1, logits.shape[1])
        )  # (B*E, M)
        w = w.view(batch, self.out_dim, -1).transpose(1, 2)  # (B, M, E)
        return stacked, w, present

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        decisions, w, present = self._decide(features, mask)
        out = (w * decisions).sum(dim=1)  # (B, E)
        return fill_empty_rows(out, present, self.no_data(present.shape[0], present.device))


@register_fusion
def weighted_decision(
    in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs
) -> WeightedDecisionFusion:
    """Decision-level fusion with learned, mask-renormalised per-unit weights (see :class:`WeightedDecisionFusion`)."""
    return WeightedDecisionFusion(check_in_dims(in_dims), embed_dim, **kwargs)
