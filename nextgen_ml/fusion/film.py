"""FiLM-style conditioning (Perez et al., 2018, "FiLM: Visual Reasoning with a General Conditioning Layer") of
each modality's embedding by another modality, at the level of the encoders' output vectors."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, prepare_inputs
from nextgen_ml.layers import masked_mean
from nextgen_ml.registry import register_fusion


class FiLMFusion(nn.Module):
    """``h_m = W_m x_m``; a context ``c_m`` modulates it channel-wise: ``h'_m = (1 + γ_m(c_m)) ⊙ h_m + β_m(c_m)``.
    With ``conditioner=None`` the context of ``m`` is the mean of the other **present** modalities' ``h``; with
    ``conditioner="tabular"`` it is the tabular embedding, which modulates every other modality (the tabular
    embedding itself passes unmodulated). Where the context is absent, ``γ = β = 0`` (identity). The output is the
    LayerNorm-ed mean of ``h'_m`` over present modalities; rows with no modality get a learned "no data" embedding.

    This conditions the encoders' **output** vectors. FiLM inside the encoders' feature maps (a modality scaling
    image or ECG channels at every stage) needs hooks in the encoders and is not implemented here.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: width of ``h_m`` (= ``out_dim``).
        conditioner: the modality that conditions the others (None: each is conditioned by the others' mean).

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(self, in_dims: Mapping[str, int], embed_dim: int = 128, conditioner: str | None = None) -> None:
        super().__init__()
        self.in_dims = check_in_dims(in_dims)
        if conditioner is not None and conditioner not in self.in_dims:
            raise ValueError(f"conditioner must be one of {list(self.in_dims)} or None, got {conditioner!r}")
        self.out_dim, self.conditioner = embed_dim, conditioner
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.film = nn.ModuleDict({m: nn.Linear(embed_dim, 2 * embed_dim) for m in self.in_dims if m != conditioner})
        for layer in self.film.values():  # start at the identity modulation
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.norm = nn.LayerNorm(embed_dim)
        self.no_data = LearnedVectors(1, embed_dim)

    def _context(self, m: str, h: dict[str, Tensor], present: Tensor) -> tuple[Tensor, Tensor]:
        """Context ``(B, E)`` for modality ``m`` and whether it exists ``(B, 1)``."""
        names = list(self.in_dims)
        sources = [self.conditioner] if self.conditioner is not None else [n for n in h if n != m]
        sources = [n for n in sources if n in h]
        if not sources:
            return torch.zeros_like(h[m]), present.new_zeros(present.shape[0], 1)
        stacked = torch.stack([h[n] for n in sources], dim=1)  # (B, S, E)
        keep = present[:, [names.index(n) for n in sources]]  # (B, S)
        return masked_mean(stacked, keep), keep.any(dim=1, keepdim=True)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch, device = present.shape[0], present.device
        names = list(self.in_dims)
        h = {m: self.proj[m](x) for m, x in clean.items()}  # m -> (B, E)
        modulated = []
        for m in h:
            if m == self.conditioner:
                modulated.append(h[m])
                continue
            context, has = self._context(m, h, present)
            gamma, beta = self.film[m](context).chunk(2, dim=1)  # 2 x (B, E)
            film = (1.0 + gamma) * h[m] + beta
            modulated.append(torch.where(has, film, h[m]))  # (B, E)
        keep = present[:, [names.index(m) for m in h]]  # (B, M')
        out = self.norm(masked_mean(torch.stack(modulated, dim=1), keep))  # (B, M', E) -> (B, E)
        return fill_empty_rows(out, present, self.no_data(batch, device))


@register_fusion
def film(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> FiLMFusion:
    """FiLM-style channel-wise conditioning of modality embeddings by another modality (see :class:`FiLMFusion`)."""
    return FiLMFusion(check_in_dims(in_dims), embed_dim, **kwargs)
