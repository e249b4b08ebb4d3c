"""FiLM inside the encoders (Perez et al., 2018): a conditioning modality scales and shifts the channels of other
modalities' encoder feature maps at every stage; the encodings are then fused by an ordinary fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import check_in_dims
from nextgen_ml.registry import create_fusion, register_fusion


class FiLMEncodersFusion(nn.Module):
    """Per target modality ``t`` and stage ``s`` of its encoder: ``h_s ← (1 + γ_s(c)) ⊙ h_s + β_s(c)`` with
    ``[γ_s, β_s] = W_{t,s} c + b_{t,s}``, ``c`` the conditioner's encoder embedding ``(B, D_c)``. ``W, b`` start at
    zero (the identity modulation). Rows whose conditioner is absent get ``γ = β = 0`` (their placeholder embedding
    is zeroed first, so it never reaches a value or a gradient); rows whose target is absent are modulated but then
    masked by the ``combine`` fusion like any absent row.

    :class:`~nextgen_ml.models.multimodal.MultimodalNet` reads :attr:`conditions_encoders`, encodes the
    conditioner first and runs each target's encoder with :meth:`film_params` hooked onto its ``stages``
    (:mod:`nextgen_ml.models.conditioning`). The fused output is the ``combine`` fusion of the (conditioned)
    encodings, so ``forward`` is that fusion's forward.

    Args:
        in_dims: modality → encoder output width ``D_m``.
        embed_dim: output width (passed to ``combine``).
        conditioner: the conditioning modality (if not among ``in_dims``, nothing is conditioned).
        targets: modalities whose encoder feature maps are modulated (those among ``in_dims``).
        stage_channels: modality → channels of each encoder stage (``build_multimodal_net`` passes the encoders'
            ``stage_channels``; ``None`` for an encoder without stages). Without it (``create_fusion`` alone)
            nothing is conditioned and the module is its ``combine`` fusion.
        combine: the fusion of the encodings (any registered fusion but this one).
        combine_kwargs: keyword arguments of ``combine``.

    Shapes: ``features[m] (B, D_m)`` (or tokens, as ``combine`` wants), ``mask[m] (B,)`` → ``(B, out_dim)``.
    """

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        conditioner: str = "tabular",
        targets: Sequence[str] = ("ecg", "image"),
        stage_channels: Mapping[str, Sequence[int] | None] | None = None,
        combine: str = "concat",
        combine_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.in_dims = check_in_dims(in_dims)
        if combine == "film_encoders":
            raise ValueError("combine must be another fusion than 'film_encoders'")
        self.combine = create_fusion(combine, in_dims=self.in_dims, embed_dim=embed_dim, **dict(combine_kwargs or {}))
        self.out_dim, self.uses_tokens = self.combine.out_dim, bool(self.combine.uses_tokens)
        if hasattr(self.combine, "forward_with_aux"):  # e.g. combine="subspace": its ELBO still reaches the loss
            self.forward_with_aux = self.combine.forward_with_aux
        self.conditioner = conditioner
        active = [] if conditioner not in self.in_dims or stage_channels is None else \
            [t for t in sorted(set(targets)) if t in self.in_dims and t != conditioner]
        no_stages = [t for t in active if not (stage_channels or {}).get(t)]
        if no_stages:
            raise ValueError(f"stage_channels: the encoders of {no_stages} expose no feature-map stages, so "
                             "film_encoders cannot condition them (see nextgen_ml.models.conditioning)")
        d_c = self.in_dims.get(conditioner, 1)
        self.film = nn.ModuleDict({
            t: nn.ModuleList(nn.Linear(d_c, 2 * int(c)) for c in stage_channels[t]) for t in active  # type: ignore[index]
        })
        for stage_layers in self.film.values():
            for layer in stage_layers:  # identity modulation at init
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    @property
    def conditions_encoders(self) -> dict[str, Any] | None:
        """``{"conditioner": name, "targets": (names...)}``, or None when nothing is conditioned."""
        if not len(self.film):
            return None
        return {"conditioner": self.conditioner, "targets": tuple(self.film)}

    def film_params(self, cond: Tensor, present: Tensor, modality: str) -> list[tuple[Tensor, Tensor]]:
        """``(γ_s, β_s)`` per stage of ``modality``'s encoder.

        Args:
            cond: the conditioner's embedding ``(B, D_c)``.
            present: ``(B,)`` bool, True where the conditioner is present (elsewhere ``γ = β = 0``).
            modality: a target modality.

        Returns:
            One ``(gamma (B, C_s), beta (B, C_s))`` per stage.
        """
        if modality not in self.film:
            raise ValueError(f"modality {modality!r} is not conditioned; targets: {list(self.film)}")
        keep = present.view(-1, 1)  # (B, 1)
        cond = torch.where(keep, cond, torch.zeros_like(cond))  # absent placeholders never reach a value or grad
        gate = keep.to(cond.dtype)
        out = []
        for layer in self.film[modality]:
            gamma, beta = layer(cond).chunk(2, dim=1)  # 2 x (B, C_s)
            out.append((gamma * gate, beta * gate))
        return out

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        return self.combine(features, mask)


@register_fusion
def film_encoders(
    in_dims: Mapping[str, int] | None = None,
    embed_dim: int = 128,
    conditioner: str = "tabular",
    targets: Sequence[str] = ("ecg", "image"),
    stage_channels: Mapping[str, Sequence[int] | None] | None = None,
    combine: str = "concat",
    combine_kwargs: Mapping[str, Any] | None = None,
) -> FiLMEncodersFusion:
    """FiLM of the image and ECG encoders' feature maps by another modality (see :class:`FiLMEncodersFusion`)."""
    return FiLMEncodersFusion(check_in_dims(in_dims), embed_dim, conditioner, tuple(targets), stage_channels,
                              combine, combine_kwargs)
