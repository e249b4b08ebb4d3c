"""``pretrained_encoders.pt``: the pretrained encoders of a run, and reading them from any source.

The file is ``torch.save`` of a dict::

    {"format": "nextgen_ml.pretrained_encoders/1", "encoders": {modality: state_dict},
     "fusion": state_dict | None, "model": <resolved model config>, "modality_specs": {...},
     "modalities": [...], "objective": <pretrain config>, "transforms": {modality: fitted state},
     "config": <resolved run config>, "version": nextgen_ml.__version__}

``fusion`` is saved when an objective trained it (masked-modality modelling). Sources accepted by
:func:`read_pretrained`: such a file, a pretraining run's Lightning ``.ckpt`` (its ``net.encoders.*`` weights and
the run info every checkpoint holds) or a bundle directory written by
:func:`nextgen_ml.bundle.export_pretrained`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

import nextgen_ml

log = logging.getLogger(__name__)

FORMAT = "nextgen_ml.pretrained_encoders/1"
ENCODERS_FILE = "pretrained_encoders.pt"


def _cpu(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def pretrained_payload(encoders: nn.ModuleDict, fusion: nn.Module | None, model: Mapping[str, Any],
                       modality_specs: Mapping[str, Any], objective: Mapping[str, Any],
                       transforms: Mapping[str, Any] | None, config: Mapping[str, Any]) -> dict[str, Any]:
    """The dict :func:`write_pretrained` saves (see the module docstring)."""
    return {
        "format": FORMAT,
        "encoders": {m: _cpu(e.state_dict()) for m, e in sorted(encoders.items())},
        "fusion": None if fusion is None else _cpu(fusion.state_dict()),
        "model": dict(model),
        "modality_specs": dict(modality_specs),
        "modalities": sorted(encoders),
        "objective": dict(objective),
        "transforms": dict(transforms or {}),
        "config": dict(config),
        "version": nextgen_ml.__version__,
    }


def write_pretrained(path: str | Path, payload: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Save ``payload`` at ``path``; an existing file is replaced only with ``overwrite``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (the message names the file).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pretraining never overwrites pretrained encoders: choose "
                              "another paths.output_dir or pass pretrain.overwrite=true")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(dict(payload), tmp)
    tmp.replace(path)
    return path


def _from_checkpoint(path: Path, ckpt: dict[str, Any]) -> dict[str, Any]:
    from nextgen_ml.training.train import CHECKPOINT_KEY

    info = ckpt.get(CHECKPOINT_KEY)
    state = ckpt.get("state_dict") or {}
    if info is None or not any(k.startswith("net.encoders.") for k in state):
        raise ValueError(f"model.init_from: {path} is not a checkpoint of a nextgen_ml run with encoders")
    config = info["config"]
    if config.get("pretrain") is None:
        log.warning("model.init_from: %s is a supervised checkpoint; only its encoders are used", path)
    encoders: dict[str, dict[str, torch.Tensor]] = {}
    fusion: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("net.encoders."):
            modality, name = key.removeprefix("net.encoders.").split(".", 1)
            encoders.setdefault(modality, {})[name] = value
        elif key.startswith("net.fusion.") and (config.get("pretrain") or {}).get("objectives", {}).get(
                "masked_modality"):
            fusion[key.removeprefix("net.fusion.")] = value
    dm_state = ckpt.get("CardioDataModule") or {}
    return {"format": FORMAT, "encoders": encoders, "fusion": fusion or None, "model": config["model"],
            "modality_specs": info["modality_specs"], "modalities": sorted(encoders),
            "objective": config.get("pretrain") or {}, "transforms": dm_state.get("transforms") or {},
            "config": config, "version": info.get("version")}


def read_pretrained(source: str | Path) -> dict[str, Any]:
    """The pretrained-encoders dict of ``source`` (a ``pretrained_encoders.pt``, a run's ``.ckpt`` or a bundle
    directory holding pretrained encoders).

    Raises:
        ValueError: ``source`` does not exist or holds no pretrained encoders (the message names it).
    """
    path = Path(source)
    if path.is_dir():
        from nextgen_ml.bundle.encoders import read_pretrained_bundle

        return read_pretrained_bundle(path)
    if not path.is_file():
        raise ValueError(f"model.init_from: no file or bundle directory at {path}")
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(obj, dict):
        raise ValueError(f"model.init_from: {path} holds a {type(obj).__name__}, not pretrained encoders")
    if "format" in obj:
        if str(obj["format"]) != FORMAT:
            raise ValueError(f"model.init_from: {path} has format {obj['format']!r}; this nextgen_ml reads {FORMAT}")
        return obj
    if "state_dict" in obj:
        return _from_checkpoint(path, obj)
    raise ValueError(f"model.init_from: {path} is neither a {ENCODERS_FILE} nor a Lightning checkpoint")
