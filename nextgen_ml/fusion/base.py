"""Helpers shared by every fusion: input validation, presence matrices, learned embeddings, masked softmax.

Learned vectors (missing-modality embeddings, CLS/bottleneck tokens, "no data" embeddings) are looked up from
``nn.Embedding`` tables with a per-row index instead of being bare ``nn.Parameter`` s, so that Opacus computes
their per-sample gradients with its built-in Embedding grad sampler.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

#: Small default so ``create_fusion(name)`` works without arguments.
DEFAULT_IN_DIMS: dict[str, int] = {"ecg": 64, "tabular": 64}


def check_in_dims(in_dims: Mapping[str, int] | None) -> dict[str, int]:
    """Validate ``in_dims`` and return it as a dict sorted by modality name.

    Args:
        in_dims: modality → feature width; ``None`` gives :data:`DEFAULT_IN_DIMS`.
    """
    dims = dict(DEFAULT_IN_DIMS if in_dims is None else in_dims)
    if not dims:
        raise ValueError("in_dims must name at least one modality")
    bad = {m: d for m, d in dims.items() if not isinstance(d, int) or isinstance(d, bool) or d <= 0}
    if bad:
        raise ValueError(f"in_dims values must be positive ints, got {bad}")
    return {m: dims[m] for m in sorted(dims)}


def prepare_inputs(
    features: Mapping[str, Tensor], mask: Mapping[str, Tensor], in_dims: Mapping[str, int], tokens: bool
) -> tuple[dict[str, Tensor], Tensor]:
    """Validate fusion inputs and neutralise the placeholder rows of absent modalities.

    Args:
        features: modality → ``(B, D_m)`` (``tokens=False``) or ``(B, T_m, D_m)`` (``tokens=True``).
        mask: modality → ``(B,)`` bool, True where the modality is present.
        in_dims: the fusion's modality → width.
        tokens: whether features are token sequences.

    Returns:
        ``(clean, present)``: ``clean`` holds the given modalities in sorted order with absent rows set to 0
        (so no NaN/Inf placeholder can reach a gradient; fusions still never read those rows as data);
        ``present`` is ``(B, M)`` bool over **all** modalities of ``in_dims`` in sorted order (a modality not in
        ``features`` is absent for every row).
    """
    unknown = sorted(set(features) - set(in_dims))
    if unknown:
        raise ValueError(f"features has unknown modalities {unknown}; this fusion was built for {sorted(in_dims)}")
    if not features:
        raise ValueError("features is empty: pass at least one modality (with an all-False mask if absent)")
    no_mask = sorted(set(features) - set(mask))
    if no_mask:
        raise ValueError(f"mask is missing for modalities {no_mask}")
    ndim = 3 if tokens else 2
    layout = "(B, T, D)" if tokens else "(B, D)"
    batch = next(iter(features.values())).shape[0]
    clean: dict[str, Tensor] = {}
    for m in sorted(features):
        x, keep = features[m], mask[m]
        if x.ndim != ndim or x.shape[-1] != in_dims[m]:
            raise ValueError(f"features[{m!r}] must be {layout} with D={in_dims[m]}, got shape {tuple(x.shape)}")
        if x.shape[0] != batch:
            raise ValueError(f"features[{m!r}] has batch size {x.shape[0]}, expected {batch}")
        if keep.dtype != torch.bool or tuple(keep.shape) != (batch,):
            raise ValueError(
                f"mask[{m!r}] must be a bool tensor of shape ({batch},), got {keep.dtype} {tuple(keep.shape)}"
            )
        rows = keep.view(batch, *([1] * (x.ndim - 1)))  # (B, 1[, 1])
        clean[m] = torch.where(rows, x, torch.zeros_like(x))
    device = next(iter(features.values())).device
    absent = torch.zeros(batch, dtype=torch.bool, device=device)
    present = torch.stack([mask[m] if m in features else absent for m in in_dims], dim=1)  # (B, M)
    return clean, present


class LearnedVectors(nn.Module):
    """``n`` learned vectors of width ``dim``, returned per row as ``(B, n, dim)`` (or ``(B, dim)`` if n == 1).

    Args:
        n: number of vectors.
        dim: vector width.
        std: init standard deviation.
    """

    def __init__(self, n: int, dim: int, std: float = 0.02) -> None:
        super().__init__()
        self.n = n
        self.table = nn.Embedding(n, dim)
        nn.init.normal_(self.table.weight, std=std)

    def forward(self, batch: int, device: torch.device) -> Tensor:
        idx = torch.arange(self.n, device=device).expand(batch, self.n)  # (B, n)
        out = self.table(idx)  # (B, n, dim)
        return out[:, 0] if self.n == 1 else out


def masked_softmax(logits: Tensor, present: Tensor) -> Tensor:
    """Softmax over the present entries only; absent entries and all-absent rows get weight 0.

    Shapes: ``logits (B, M)``, ``present (B, M)`` bool → ``(B, M)``.
    """
    any_present = present.any(dim=1, keepdim=True)  # (B, 1)
    masked = logits.masked_fill(~present, float("-inf"))
    masked = torch.where(any_present, masked, torch.zeros_like(masked))  # avoid softmax over all -inf
    weights = masked.softmax(dim=1)
    return torch.where(present, weights, torch.zeros_like(weights))


def fill_empty_rows(out: Tensor, present: Tensor, no_data: Tensor) -> Tensor:
    """Replace the rows that have no modality at all by the learned "no data" embedding.

    Shapes: ``out (B, D)``, ``present (B, M)`` bool, ``no_data (B, D)`` → ``(B, D)``.
    """
    return torch.where(present.any(dim=1, keepdim=True), out, no_data)
