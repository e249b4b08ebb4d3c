"""Fine-tuning from pretrained encoders: ``model.init_from`` + ``model.finetune`` (``full | frozen | linear_probe``).

:func:`finetune_net` builds the run's :class:`~nextgen_ml.models.multimodal.MultimodalNet` through
:class:`~nextgen_ml.models.spec.ModelSpec`, loads the pretrained encoders (and the pretrained fusion when it fits
the run) and freezes what the mode says:

* ``full``: everything trains, starting from the pretrained weights;
* ``frozen``: the loaded encoders are frozen (``requires_grad=False``; GroupNorm/LayerNorm only, so no norm
  statistics move), fusion and head train;
* ``linear_probe``: the loaded encoders are frozen and the head is linear (``model.head_hidden=[]``). A pretrained
  fusion that fits the run is loaded and frozen too; otherwise the fusion becomes ``late`` with linear
  per-modality maps and a masked mean (``{name: late, hidden_dims: [], combine: mean}``), so the trainable part is
  linear in the frozen encoder vectors. These config changes are written back to the run config (checkpoints,
  eval.py and bundles rebuild the same net).

Checks: a shared modality whose encoder (name, kwargs, ``embed_dim``), modality spec or parameter names/shapes
differ raises ``ValueError`` naming it; a run modality the file lacks stays randomly initialised and trainable
(warning); a file modality the run lacks is ignored (log line); fitted preprocessing that differs from the
pretraining run's is a warning (the same store and seed give the same).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.models.spec import ModelSpec
from nextgen_ml.pretraining.artifact import read_pretrained

log = logging.getLogger(__name__)

FINETUNE_MODES: tuple[str, ...] = ("full", "frozen", "linear_probe")

#: the fusion a linear probe uses when no pretrained fusion fits: linear per-modality maps, masked mean.
LINEAR_FUSION: dict[str, Any] = {"name": "late", "hidden_dims": [], "combine": "mean"}


def _encoder_spec(model: Mapping[str, Any], modality: str) -> Any:
    """The encoder's architecture: name and kwargs, without ``lr_scale`` (an optimizer setting that a fine-tuning
    run may change, e.g. a smaller rate for the pretrained encoder)."""
    from nextgen_ml.modalities import modality_spec

    spec = ModelSpec.from_config(model)
    enc = spec.encoders.get(modality) or modality_spec(modality).default_encoder
    enc = {"name": enc} if isinstance(enc, str) else dict(enc)
    return {k: v for k, v in enc.items() if k != "lr_scale"}


def _same_fusion(pre: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
    keys = ("fusion", "embed_dim")
    return all(pre.get(k) == run.get(k) for k in keys)


def check_compatible(pretrained: Mapping[str, Any], model: Mapping[str, Any], modalities: Sequence[str],
                     modality_specs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The run modalities whose encoders can load from ``pretrained``; raises ``ValueError`` on a mismatch.

    Raises:
        ValueError: a shared modality's encoder name/kwargs, ``embed_dim`` or modality spec differs.
    """
    shared = sorted(set(modalities) & set(pretrained["encoders"]))
    missing = sorted(set(modalities) - set(pretrained["encoders"]))
    extra = sorted(set(pretrained["encoders"]) - set(modalities))
    if missing:
        log.warning("model.init_from: no pretrained encoder for %s: they start from random weights", missing)
    if extra:
        log.info("model.init_from: pretrained encoders for %s are not used by this run", extra)
    if not shared:
        raise ValueError(f"model.init_from: the file holds encoders for {sorted(pretrained['encoders'])}, none of "
                         f"this run's modalities {sorted(modalities)}")
    pre_model = pretrained["model"]
    if int(pre_model.get("embed_dim", 128)) != int(model.get("embed_dim", 128)):
        raise ValueError(f"model.embed_dim: the pretrained encoders have embed_dim={pre_model.get('embed_dim')}, "
                         f"this run {model.get('embed_dim')}")
    for m in shared:
        pre_enc, run_enc = _encoder_spec(pre_model, m), _encoder_spec(model, m)
        if pre_enc != run_enc:
            raise ValueError(f"model.encoder.{m}: pretrained with {pre_enc!r}, this run builds {run_enc!r}")
        pre_spec, run_spec = dict(pretrained["modality_specs"].get(m) or {}), dict(modality_specs.get(m) or {})
        if pre_spec != run_spec:
            diff = sorted(k for k in set(pre_spec) | set(run_spec) if pre_spec.get(k) != run_spec.get(k))
            theirs, ours = {k: pre_spec.get(k) for k in diff}, {k: run_spec.get(k) for k in diff}
            raise ValueError(f"model.init_from: modality {m!r}: the modality spec differs in {diff} (pretrained "
                             f"{theirs}, this run {ours})")
    return shared


def load_encoder(encoder: nn.Module, state: Mapping[str, torch.Tensor], modality: str) -> None:
    """Load ``state`` into ``encoder`` after checking every parameter's name and shape (``ValueError`` naming it)."""
    own = encoder.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"model.init_from: encoder {modality!r}: parameters missing from the file {missing[:5]}, "
                         f"unexpected in the file {unexpected[:5]}")
    for name, value in own.items():
        if tuple(state[name].shape) != tuple(value.shape):
            raise ValueError(f"model.init_from: encoder {modality!r}: parameter {name!r} has shape "
                             f"{tuple(state[name].shape)} in the file, {tuple(value.shape)} in this run")
    encoder.load_state_dict(dict(state))


def _freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


def finetune_net(model: Mapping[str, Any], modalities: Sequence[str],
                 modality_specs: Mapping[str, Mapping[str, Any]], num_outputs: int,
                 transforms: Mapping[str, Any] | None = None) -> tuple[MultimodalNet, dict[str, Any]]:
    """The run's net initialised from ``model["init_from"]`` and frozen per ``model["finetune"]``.

    Args:
        model: the resolved ``model`` config node (``init_from``, ``finetune``, encoders, fusion, ...).
        modalities: the run's modalities.
        modality_specs: the run's data-derived encoder kwargs.
        num_outputs: head outputs.
        transforms: the run's fitted transform states (compared with the pretraining run's; warning if they
            differ).

    Returns:
        ``(net, changes)``: ``changes`` are the ``model`` config keys the mode changed (``linear_probe``:
        ``head_hidden`` and possibly ``fusion``), to write back into the run config.
    """
    mode = model.get("finetune") or "full"
    if mode not in FINETUNE_MODES:
        raise ValueError(f"model.finetune must be one of {FINETUNE_MODES}, got {mode!r}")
    pretrained = read_pretrained(model["init_from"])
    shared = check_compatible(pretrained, model, modalities, modality_specs)
    fusion_fits = (pretrained.get("fusion") is not None and _same_fusion(pretrained["model"], model)
                   and sorted(pretrained["encoders"]) == sorted(modalities))
    changes: dict[str, Any] = {}
    if mode == "linear_probe":
        changes["head_hidden"] = []
        if not fusion_fits:
            changes["fusion"] = dict(LINEAR_FUSION)
            log.info("model.finetune=linear_probe: no pretrained fusion fits this run; fusion=%s", LINEAR_FUSION)
    net = ModelSpec.from_config({**model, **changes}).build(modalities, modality_specs, num_outputs)
    for m in shared:
        load_encoder(net.encoders[m], pretrained["encoders"][m], m)
        if transforms is not None and m in (pretrained.get("transforms") or {}) and m in transforms \
                and pretrained["transforms"][m] != transforms[m]:
            log.warning("model.init_from: modality %r: this run's fitted preprocessing differs from the pretraining "
                        "run's (other store, split or transform settings?)", m)
    if fusion_fits and "fusion" not in changes:
        try:
            net.fusion.load_state_dict(pretrained["fusion"])
        except RuntimeError as err:
            raise ValueError(f"model.init_from: the pretrained fusion does not fit this run's: {err}") from None
        log.info("model.init_from: pretrained fusion loaded")
    if mode in ("frozen", "linear_probe"):
        for m in shared:
            _freeze(net.encoders[m])
        if mode == "linear_probe" and fusion_fits:
            _freeze(net.fusion)
    log.info("model.init_from=%s: encoders %s loaded, finetune=%s", model["init_from"], shared, mode)
    return net, changes
