"""``PretrainNet``: the supervised model's encoders and fusion plus projection heads, predictors and a temperature.

The encoders and the fusion are those of a :class:`~nextgen_ml.models.multimodal.MultimodalNet` built through
:class:`~nextgen_ml.models.spec.ModelSpec` (same builders, widths and modality specs as supervised training), so
their weights load into a fine-tuning run's net unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextgen_ml.layers import MLP
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.models.spec import ModelSpec
from nextgen_ml.pretraining.contrastive import LogitScale
from nextgen_ml.pretraining.masked import choose_hidden, context_mask


class PretrainNet(nn.Module):
    """Encoders → per-modality projections (and, for masked-modality modelling, fusion → predictors).

    Args:
        encoders: modality → encoder (``out_dim``, ``forward``, ``forward_tokens``).
        fusion: the fusion of the supervised model (kept for masked-modality modelling only).
        proj_dim: width ``P`` of the shared embedding space.
        predictors: build a predictor per modality (masked-modality modelling).
        temperature: build the learnable logit scale (contrastive).

    Shapes: ``forward(inputs, mask) -> {"z": {m: (B, P)} L2-normalised, "pred": (B, M, P), "hidden": (B,)}``
    (``pred``/``hidden`` only when predictors exist and ``masked=True``); ``M`` = the batch's modalities, sorted.
    """

    def __init__(self, encoders: nn.ModuleDict, fusion: nn.Module, proj_dim: int = 128, predictors: bool = False,
                 temperature: bool = True) -> None:
        super().__init__()
        if predictors and getattr(fusion, "conditions_encoders", None):
            raise ValueError(f"model.fusion: {type(fusion).__name__} conditions the encoders' feature maps; "
                             "masked-modality pretraining needs a fusion over encoder outputs (e.g. cross_attention)")
        self.encoders = encoders
        self.fusion = fusion if predictors else None  # contrastive alone never uses it (nor must DDP see it)
        self.proj = nn.ModuleDict({m: MLP(int(e.out_dim), [int(e.out_dim)], proj_dim) for m, e in encoders.items()})
        self.predictors = nn.ModuleDict(
            {m: MLP(int(fusion.out_dim), [int(fusion.out_dim)], proj_dim) for m in encoders} if predictors else {})
        self.logit_scale = LogitScale() if temperature else None

    @classmethod
    def from_spec(cls, spec: ModelSpec, modalities: Sequence[str], modality_specs: Mapping[str, Mapping[str, Any]],
                  **kwargs: Any) -> PretrainNet:
        """Encoders and fusion of ``spec.build(modalities, modality_specs, num_outputs=1)`` (its head is dropped)."""
        net: MultimodalNet = spec.build(modalities, modality_specs, num_outputs=1)
        return cls(net.encoders, net.fusion, **kwargs)

    def forward(self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor], masked: bool = False,
                generator: torch.Generator | None = None, hidden: Tensor | None = None) -> dict[str, Any]:
        """Embeddings (and, with ``masked``, predictions of each row's hidden modality).

        Args:
            inputs / mask: the batch's ``inputs`` and ``mask``.
            masked: run the masked-modality branch (needs predictors).
            generator: draws the hidden modalities (None = torch's global generator).
            hidden: ``(B,)`` the hidden modality per row (index into the sorted batch modalities, -1 = none), instead
                of drawing it.
        """
        mods = sorted(inputs)
        vectors = {m: self.encoders[m](inputs[m]) for m in mods}  # {m: (B, D)}
        out: dict[str, Any] = {"z": {m: F.normalize(self.proj[m](v), dim=-1) for m, v in vectors.items()}}
        if masked and self.fusion is not None and mods:
            hidden = choose_hidden(mask, mods, generator) if hidden is None else hidden  # (B,)
            feats = {m: self.encoders[m].forward_tokens(inputs[m]) for m in mods} if self.fusion.uses_tokens \
                else vectors  # token fusions need the encoders' tokens (a second pass)
            fused = self.fusion(feats, context_mask(mask, mods, hidden))  # (B, E)
            out["pred"] = torch.stack([self.predictors[m](fused) for m in mods], dim=1)  # (B, M, P)
            out["hidden"] = hidden
        return out
