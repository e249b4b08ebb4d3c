"""``MultimodalNet``: per-modality encoders → fusion → head, composed (not subclassed)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn


class MultimodalNet(nn.Module):
    """Encoders (one per modality) → fusion → head, with named outputs.

    Args:
        encoders: modality → encoder with ``out_dim``, ``forward(x) -> (B, D)`` and
            ``forward_tokens(x) -> (B, T, D)``.
        fusion: fusion with ``uses_tokens`` and ``forward(features, mask) -> (B, E)``.
        head: ``(B, E) -> (B, K)``.

    Shapes: ``inputs[m]`` as in the batch contract, ``mask[m] (B,)`` bool →
    ``{"logits": (B, K), "embedding": (B, E)}``.
    """

    def __init__(self, encoders: nn.ModuleDict, fusion: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoders, self.fusion, self.head = encoders, fusion, head

    def encode(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Encode the given modalities (sorted order) as vectors ``(B, D)`` or tokens ``(B, T, D)`` as the fusion
        expects."""
        unknown = sorted(set(inputs) - set(self.encoders))
        if unknown:
            raise ValueError(f"inputs has modalities without an encoder: {unknown}; encoders: {sorted(self.encoders)}")
        tokens = bool(self.fusion.uses_tokens)
        out = {}
        for m in sorted(inputs):
            enc = self.encoders[m]
            out[m] = enc.forward_tokens(inputs[m]) if tokens else enc(inputs[m])
        return out

    def forward(self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> dict[str, Tensor]:
        missing = sorted(set(inputs) - set(mask))
        if missing:
            raise ValueError(f"mask is missing for modalities {missing}")
        if not inputs:  # Collate leaves out a modality absent from every row: here every modality was
            raise ValueError(f"no row of this batch has any of the modalities {sorted(mask) or sorted(self.encoders)}:"
                             " nothing to encode; use a larger batch size or keep only records that have at least"
                             " one of them")
        mask = {m: mask[m] for m in sorted(inputs)}
        embedding = self.fusion(self.encode(inputs), mask)  # (B, E)
        return {"logits": self.head(embedding), "embedding": embedding}
