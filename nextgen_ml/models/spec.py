"""``ModelSpec``: the typed description of a multimodal model, shared by train.py, the benchmark and bundles.

A spec holds what the ``model`` config node holds (encoders per modality, fusion, width, head); ``build`` turns it
into a :class:`~nextgen_ml.models.multimodal.MultimodalNet` for the modalities and data-derived encoder arguments
of a run. Every caller builds through it, so none needs to fake a config dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nextgen_ml.models.builder import build_multimodal_net
from nextgen_ml.models.multimodal import MultimodalNet


@dataclass(frozen=True)
class ModelSpec:
    """Encoders, fusion and head of a model.

    Args:
        encoders: modality → encoder registry name or ``{"name": ..., **kwargs}``; a modality without an entry
            gets its modality spec's default encoder.
        fusion: fusion registry name or ``{"name": ..., **kwargs}``.
        embed_dim: width of every encoder and of the fusion.
        head_hidden: hidden widths of the head (empty = linear).
        dropout: head dropout.
    """

    encoders: Mapping[str, Any] = field(default_factory=dict)
    fusion: Any = "concat"
    embed_dim: int = 128
    head_hidden: tuple[int, ...] = ()
    dropout: float = 0.0

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ModelSpec:
        """From a resolved ``model`` config node (``encoder``, ``fusion``, ``embed_dim``, ``head_hidden``,
        ``dropout``)."""
        return cls(
            encoders=dict(node.get("encoder") or {}),
            fusion=node["fusion"],
            embed_dim=int(node.get("embed_dim", 128)),
            head_hidden=tuple(node.get("head_hidden") or ()),
            dropout=float(node.get("dropout", 0.0)),
        )

    def build(
        self,
        modalities: Sequence[str],
        modality_specs: Mapping[str, Mapping[str, Any]],
        num_outputs: int,
    ) -> MultimodalNet:
        """The net for ``modalities`` (encoder kwargs from ``modality_specs``) with ``num_outputs`` head outputs."""
        from nextgen_ml.modalities import modality_spec

        encoders = {m: self.encoders.get(m) or modality_spec(m).default_encoder for m in modalities}
        return build_multimodal_net(
            encoders=encoders,
            fusion=self.fusion,
            num_outputs=num_outputs,
            embed_dim=self.embed_dim,
            modality_specs=modality_specs,
            head_hidden=self.head_hidden,
            dropout=self.dropout,
        )
