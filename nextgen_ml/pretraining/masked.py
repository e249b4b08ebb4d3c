"""Masked-modality modelling: hide one present modality per row and predict its embedding from the others.

For every row with at least two present modalities, one of them (uniformly at random) is hidden; the fusion sees
the row's other present modalities, a per-modality predictor maps the fused vector to the hidden modality's
embedding space, and the loss is ``1 − cos(prediction, stop_grad(target))`` with the target the hidden modality's
own L2-normalised projected embedding. Rows with fewer than two present modalities take no part (loss 0).

Collapse safeguard: the target is detached (stop-gradient) and reached through a separate predictor (SimSiam /
BYOL style), so the encoders are never pulled towards the trivial constant solution by the target side; run with
the contrastive objective (``pretrain=clip_masked``), whose in-batch negatives rule the constant solution out. Run
alone (e.g. under DP-SGD, where no batch statistic may enter the loss) it relies on the stop-gradient only; the
module logs ``<stage>/embedding_std`` (per-dimension SD of the embeddings across the batch, → 0 on collapse).

Each row's loss depends on that row's inputs only (encoders and fusions are per-sample: GroupNorm/LayerNorm, no
batch statistics), so the objective has the per-sample form DP-SGD needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def choose_hidden(mask: Mapping[str, Tensor], modalities: Sequence[str],
                  generator: torch.Generator | None = None) -> Tensor:
    """For each row, the index (into ``modalities``) of the present modality to hide, or -1.

    Args:
        mask: modality → ``(B,)`` bool presence.
        modalities: the candidate modalities, in the order the index refers to.
        generator: CPU generator of the draw (None = torch's global one); a fixed one gives a fixed draw.

    Returns:
        ``(B,)`` long on the masks' device; -1 where the row has fewer than two present modalities.
    """
    present = torch.stack([mask[m] for m in modalities], dim=1)  # (B, M)
    scores = torch.rand(present.shape, generator=generator).to(present.device)  # (B, M) uniform
    pick = scores.masked_fill(~present, -1.0).argmax(dim=1)  # (B,) a present modality, uniformly
    return torch.where(present.sum(dim=1) >= 2, pick, torch.full_like(pick, -1))


def context_mask(mask: Mapping[str, Tensor], modalities: Sequence[str], hidden: Tensor) -> dict[str, Tensor]:
    """The presence masks the fusion sees: each row's hidden modality switched off.

    Shapes: ``mask[m] (B,)``, ``hidden (B,)`` → ``{m: (B,)}``.
    """
    return {m: mask[m] & (hidden != j) for j, m in enumerate(modalities)}


def masked_modality_per_sample(pred: Tensor, z: Mapping[str, Tensor], modalities: Sequence[str],
                               hidden: Tensor) -> Tensor:
    """``(B,)`` loss of each row: ``1 − cos(pred[i, h_i], stop_grad(z[h_i][i]))``, 0 where ``h_i = -1``.

    Args:
        pred: ``(B, M, D)`` each modality's prediction from the fused context (the row's hidden one is used).
        z: modality → ``(B, D)`` L2-normalised embeddings (the targets; detached here).
        modalities: order of ``M`` (and of ``hidden``'s indices).
        hidden: ``(B,)`` hidden modality index per row, -1 = none.
    """
    target = torch.stack([z[m].detach() for m in modalities], dim=1)  # (B, M, D)
    rows = hidden.clamp(min=0)
    idx = rows.view(-1, 1, 1).expand(-1, 1, pred.shape[-1])  # (B, 1, D)
    p = pred.gather(1, idx).squeeze(1)  # (B, D)
    t = target.gather(1, idx).squeeze(1)  # (B, D)
    t = torch.where((hidden >= 0).unsqueeze(1), t, torch.ones_like(t))  # rows without a hidden one: finite, unused
    loss = 1.0 - F.cosine_similarity(p, t, dim=1)  # (B,)
    return torch.where(hidden >= 0, loss, torch.zeros_like(loss))


def masked_modality_loss(pred: Tensor, z: Mapping[str, Tensor], modalities: Sequence[str],
                         hidden: Tensor) -> tuple[Tensor, int]:
    """``(mean loss over rows with a hidden modality, their count)``; a 0 with the graph when there is none."""
    per = masked_modality_per_sample(pred, z, modalities, hidden)  # (B,)
    n = int((hidden >= 0).sum())
    return per.sum() / max(n, 1), n
