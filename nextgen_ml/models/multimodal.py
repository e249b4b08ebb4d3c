"""``MultimodalNet``: per-modality encoders → fusion → head, composed (not subclassed)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.models.conditioning import feature_stages, modulated_stages


class MultimodalNet(nn.Module):
    """Encoders (one per modality) → fusion → head, with named outputs.

    Args:
        encoders: modality → encoder with ``out_dim``, ``forward(x) -> (B, D)`` and
            ``forward_tokens(x) -> (B, T, D)``.
        fusion: fusion with ``uses_tokens`` and ``forward(features, mask) -> (B, E)``.
        head: ``(B, E) -> (B, K)``.

    Shapes: ``inputs[m]`` as in the batch contract, ``mask[m] (B,)`` bool →
    ``{"logits": (B, K), "embedding": (B, E)}``, plus ``"aux_loss": (B,)`` in training mode when the fusion has
    ``forward_with_aux`` (a per-row auxiliary loss, e.g. the subspace fusion's ELBO terms, which
    :class:`~nextgen_ml.tasks.module.MultimodalModule` adds to the training loss).
    """

    def __init__(self, encoders: nn.ModuleDict, fusion: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoders, self.fusion, self.head = encoders, fusion, head

    def encode(self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Encode the given modalities (sorted order) as vectors ``(B, D)`` or tokens ``(B, T, D)`` as the fusion
        expects.

        A fusion with ``conditions_encoders = {"conditioner": c, "targets": (...)}`` (``film_encoders``) gets the
        conditioner encoded first; each target's encoder then runs with ``fusion.film_params(embedding_c,
        mask[c], target)`` applied to its stages (:mod:`nextgen_ml.models.conditioning`). ``mask`` (modality →
        ``(B,)`` bool) tells where the conditioner is present; without it, everywhere.
        """
        unknown = sorted(set(inputs) - set(self.encoders))
        if unknown:
            raise ValueError(f"inputs has modalities without an encoder: {unknown}; encoders: {sorted(self.encoders)}")
        tokens = bool(self.fusion.uses_tokens)
        out: dict[str, Tensor] = {}
        film: dict[str, list] = {}
        conditioning = getattr(self.fusion, "conditions_encoders", None)
        if conditioning and conditioning["conditioner"] in inputs:
            c = conditioning["conditioner"]
            out[c] = self._encode_one(c, inputs[c], tokens)
            cond = out[c].mean(1) if tokens else out[c]  # (B, D_c)
            present = mask[c] if mask is not None else torch.ones(cond.shape[0], dtype=torch.bool,
                                                                  device=cond.device)
            film = {t: self.fusion.film_params(cond, present, t) for t in conditioning["targets"] if t in inputs}
        for m in sorted(inputs):
            if m in out:
                continue
            if m in film:
                stages, _ = feature_stages(self.encoders[m], m)
                with modulated_stages(stages, film[m], where=f"encoders[{m!r}]"):
                    out[m] = self._encode_one(m, inputs[m], tokens)
            else:
                out[m] = self._encode_one(m, inputs[m], tokens)
        return {m: out[m] for m in sorted(out)}

    def _encode_one(self, m: str, x: Tensor, tokens: bool) -> Tensor:
        enc = self.encoders[m]
        return enc.forward_tokens(x) if tokens else enc(x)

    def forward(self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> dict[str, Tensor]:
        missing = sorted(set(inputs) - set(mask))
        if missing:
            raise ValueError(f"mask is missing for modalities {missing}")
        if not inputs:  # Collate leaves out a modality absent from every row: here every modality was
            raise ValueError(f"no row of this batch has any of the modalities {sorted(mask) or sorted(self.encoders)}:"
                             " nothing to encode; use a larger batch size or keep only records that have at least"
                             " one of them")
        mask = {m: mask[m] for m in sorted(inputs)}
        features = self.encode(inputs, mask)
        if self.training and hasattr(self.fusion, "forward_with_aux"):  # e.g. subspace: its ELBO terms per row
            embedding, aux = self.fusion.forward_with_aux(features, mask)  # (B, E), {"loss": (B,), ...}
            return {"logits": self.head(embedding), "embedding": embedding, "aux_loss": aux["loss"]}
        embedding = self.fusion(features, mask)  # (B, E)
        return {"logits": self.head(embedding), "embedding": embedding}
