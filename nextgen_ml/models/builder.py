"""``build_multimodal_net``: the one builder Hydra model configs target."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from nextgen_ml.models.conditioning import feature_stages
from nextgen_ml.models.heads import build_head
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.registry import create_encoder, create_fusion, encoder_accepts, fusion_accepts


def _name_and_kwargs(spec: str | Mapping[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``{"name": ..., **kwargs}`` → ``(name, kwargs)``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        kwargs = dict(spec)
        name = kwargs.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(f"{what} spec {dict(spec)!r} needs a 'name' key holding a registered builder name")
        return name, kwargs
    raise ValueError(f"{what} must be a registry name or a mapping with 'name', got {type(spec).__name__}")


def _lr_scale(value: Any, modality: str) -> float | None:
    """A validated ``lr_scale`` (None = the run's learning rate)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"encoders[{modality!r}].lr_scale must be a positive number, got {value!r}")
    return float(value)


def build_encoder(modality: str, spec: str | Mapping[str, Any] | nn.Module, embed_dim: int,
                  modality_spec: Mapping[str, Any] | None = None) -> nn.Module:
    """One encoder from a registry name, ``{"name": ..., **kwargs}`` or a ready module.

    Keyword arguments are merged as ``{"embed_dim": embed_dim} | modality_spec | spec kwargs`` (later wins).
    ``embed_dim`` and the data-derived ``modality_spec`` are offered: only the keys the builder accepts are passed
    (a PRS encoder has no use for ``gene_index``); the spec's own kwargs are always passed, so typos fail loudly.
    The reserved key ``lr_scale`` (a positive number) is not passed to the builder: it becomes the encoder's
    ``lr_scale`` attribute, and the optimizer trains the encoder at that multiple of the run's learning rate
    (:mod:`nextgen_ml.tasks.param_groups`).
    """
    if isinstance(spec, nn.Module):
        encoder = spec
    else:
        name, kwargs = _name_and_kwargs(spec, f"encoders[{modality!r}]")
        lr_scale = _lr_scale(kwargs.pop("lr_scale", None), modality)
        accepts = encoder_accepts(name)
        offered = {k: v for k, v in {"embed_dim": embed_dim, **dict(modality_spec or {})}.items()
                   if accepts is None or k in accepts}
        encoder = create_encoder(name, **{**offered, **kwargs})
        if lr_scale is not None:
            encoder.lr_scale = lr_scale
    if not isinstance(getattr(encoder, "out_dim", None), int):
        raise ValueError(f"encoders[{modality!r}] ({type(encoder).__name__}) has no int attribute out_dim")
    return encoder


def _stage_channels(encoder: nn.Module) -> tuple[int, ...] | None:
    """The encoder's feature-map stage widths, or None if it exposes no stages."""
    try:
        return feature_stages(encoder)[1]
    except ValueError:
        return None


def build_multimodal_net(
    encoders: Mapping[str, str | Mapping[str, Any] | nn.Module],
    fusion: str | Mapping[str, Any] | nn.Module,
    num_outputs: int,
    embed_dim: int = 128,
    modality_specs: Mapping[str, Mapping[str, Any]] | None = None,
    head_hidden: Sequence[int] = (),
    dropout: float = 0.0,
) -> MultimodalNet:
    """Build encoders, fusion and head and compose them into a :class:`MultimodalNet`.

    Args:
        encoders: modality → encoder registry name (``"ecg_xresnet1d_small"``), ``{"name": ..., **kwargs}`` or an
            ``nn.Module``.
        fusion: fusion registry name (``"cross_attention"``), ``{"name": ..., **kwargs}`` or a ready module
            (which must accept the encoders' ``out_dim`` s).
        num_outputs: head outputs ``K`` (e.g. ``task.num_outputs``).
        embed_dim: width passed to every encoder and to the fusion.
        modality_specs: modality → data-dependent encoder kwargs (``{"in_channels": 12}``,
            ``{"vocab_size": 1234}``, ...), e.g. ``CardioDataModule.modality_specs``; extra modalities are ignored.
        head_hidden: hidden widths of the head (empty = Linear).
        dropout: head dropout.

    Returns:
        ``MultimodalNet`` with ``forward(inputs, mask) -> {"logits": (B, K), "embedding": (B, E)}``.
    """
    if not encoders:
        raise ValueError("encoders must name at least one modality")
    specs = modality_specs or {}
    built = nn.ModuleDict({m: build_encoder(m, encoders[m], embed_dim, specs.get(m)) for m in sorted(encoders)})
    if isinstance(fusion, nn.Module):
        fusion_module = fusion
    else:
        name, kwargs = _name_and_kwargs(fusion, "fusion")
        in_dims = {m: int(enc.out_dim) for m, enc in built.items()}
        offered: dict[str, Any] = {"in_dims": in_dims, "embed_dim": embed_dim}
        if "stage_channels" in (fusion_accepts(name) or ()):  # a fusion that conditions inside the encoders
            offered["stage_channels"] = {m: _stage_channels(enc) for m, enc in built.items()}
        fusion_module = create_fusion(name, **{**offered, **kwargs})
    head = build_head(fusion_module.out_dim, num_outputs, head_hidden, dropout)
    return MultimodalNet(built, fusion_module, head)
