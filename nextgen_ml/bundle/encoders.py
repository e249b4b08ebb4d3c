"""Pretrained encoders in a bundle directory, for notebook users: ``export_pretrained`` / ``load_pretrained_encoders``.

Two files, beside (or without) a supervised bundle's files::

    DIR/pretrained_encoders.json         format, versions, modalities, model config, modality specs, objective,
                                         the fitted preprocessing of the pretraining run, sha256 of the weights
    DIR/pretrained_encoders.safetensors  ``encoders.<modality>.<parameter>`` (and ``fusion.<parameter>``) tensors

``export_pretrained`` accepts a pretraining run directory, its ``pretrained_encoders.pt`` or a Lightning ``.ckpt``;
the target may be a new directory or an existing supervised bundle (its files are left as they are). See
docs/pretraining.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

import nextgen_ml
from nextgen_ml.bundle.files import MANIFEST, BundleError, read_json, write_json
from nextgen_ml.bundle.preprocess import Preprocessor, build_transform
from nextgen_ml.data.schema import SCHEMA_VERSION

ENCODERS_BUNDLE_FORMAT = "nextgen_ml.pretrained_encoders_bundle/1"
ENCODERS_MANIFEST = "pretrained_encoders.json"
ENCODERS_WEIGHTS = "pretrained_encoders.safetensors"


def _source_file(source: Path) -> Path:
    from nextgen_ml.pretraining.artifact import ENCODERS_FILE

    return source / ENCODERS_FILE if source.is_dir() else source


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / ENCODERS_MANIFEST).exists():
        if not overwrite:
            raise BundleError(f"out_dir: {out_dir} already holds pretrained encoders ({ENCODERS_MANIFEST}); pass "
                              "overwrite=True to replace them")
    elif out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise BundleError(f"out_dir: {out_dir} exists, is not empty and is not a bundle")
    out_dir.mkdir(parents=True, exist_ok=True)


def export_pretrained(source: str | Path, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write the pretrained encoders of ``source`` into the bundle directory ``out_dir``.

    Args:
        source: a pretraining run directory, its ``pretrained_encoders.pt`` or a run's Lightning ``.ckpt``.
        out_dir: a new directory, or an existing bundle to add the encoders to.
        overwrite: replace pretrained encoders already in ``out_dir``.

    Returns:
        ``out_dir``.
    """
    from safetensors.torch import save_file

    from nextgen_ml.bundle.load import sha256_file
    from nextgen_ml.pretraining.artifact import read_pretrained

    source, out_dir = Path(source), Path(out_dir)
    payload = read_pretrained(_source_file(source))
    weights = {f"encoders.{m}.{k}": v.detach().cpu().contiguous().clone()
               for m, state in payload["encoders"].items() for k, v in state.items()}
    weights.update({f"fusion.{k}": v.detach().cpu().contiguous().clone()
                    for k, v in (payload.get("fusion") or {}).items()})
    _prepare(out_dir, overwrite)
    save_file(weights, str(out_dir / ENCODERS_WEIGHTS), metadata={"format": "pt"})
    kwargs = ((payload.get("config") or {}).get("data") or {}).get("transforms") or {}
    manifest = {
        "format": ENCODERS_BUNDLE_FORMAT,
        "nextgen_ml_version": nextgen_ml.__version__,
        "trained_with_version": payload.get("version"),
        "schema_version": SCHEMA_VERSION,
        "modalities": sorted(payload["encoders"]),
        "model": payload["model"],
        "modality_specs": payload["modality_specs"],
        "objective": payload.get("objective") or {},
        "has_fusion": bool(payload.get("fusion")),
        "transforms": {m: {"kwargs": dict(kwargs.get(m) or {}), "state": state}
                       for m, state in (payload.get("transforms") or {}).items()},
        "weights_sha256": sha256_file(out_dir / ENCODERS_WEIGHTS),
        "source": source.name,
    }
    write_json(out_dir / ENCODERS_MANIFEST, manifest)
    return out_dir


def read_pretrained_bundle(path: str | Path) -> dict[str, Any]:
    """The pretrained-encoders dict (as in ``pretrained_encoders.pt``) of a bundle directory.

    Raises:
        BundleError: no pretrained encoders in ``path``, wrong format, or weights that do not match their sha256.
    """
    from safetensors.torch import load_file

    from nextgen_ml.bundle.load import sha256_file
    from nextgen_ml.pretraining.artifact import FORMAT

    path = Path(path)
    if not (path / ENCODERS_MANIFEST).is_file():
        raise BundleError(f"bundle {path}: holds no pretrained encoders (no {ENCODERS_MANIFEST}; write them with "
                          "nextgen_ml.bundle.export_pretrained)")
    manifest = read_json(path / ENCODERS_MANIFEST)
    if manifest.get("format") != ENCODERS_BUNDLE_FORMAT:
        raise BundleError(f"bundle {path}: {ENCODERS_MANIFEST} has format {manifest.get('format')!r}; this "
                          f"nextgen_ml reads {ENCODERS_BUNDLE_FORMAT}")
    weights = path / ENCODERS_WEIGHTS
    if not weights.is_file() or sha256_file(weights) != manifest["weights_sha256"]:
        raise BundleError(f"bundle {path}: {ENCODERS_WEIGHTS} is missing or does not match the sha256 in "
                          f"{ENCODERS_MANIFEST}")
    encoders: dict[str, dict[str, torch.Tensor]] = {}
    fusion: dict[str, torch.Tensor] = {}
    for key, value in load_file(str(weights)).items():
        kind, rest = key.split(".", 1)
        if kind == "fusion":
            fusion[rest] = value
        else:
            modality, name = rest.split(".", 1)
            encoders.setdefault(modality, {})[name] = value
    transforms = manifest.get("transforms") or {}
    return {"format": FORMAT, "encoders": encoders, "fusion": fusion or None, "model": manifest["model"],
            "modality_specs": manifest["modality_specs"], "modalities": manifest["modalities"],
            "objective": manifest.get("objective") or {}, "transforms": {m: t["state"] for m, t in transforms.items()},
            "config": {"data": {"transforms": {m: t["kwargs"] for m, t in transforms.items()}}},
            "version": manifest.get("trained_with_version")}


def load_pretrained_encoders(path: str | Path) -> dict[str, nn.Module]:
    """Modality → pretrained encoder (eval mode) from a bundle directory, a ``pretrained_encoders.pt`` or a
    pretraining run's ``.ckpt``. ``encoder(x) -> (B, D)``, ``encoder.forward_tokens(x) -> (B, T, D)``."""
    from nextgen_ml.models.spec import ModelSpec
    from nextgen_ml.pretraining.artifact import read_pretrained
    from nextgen_ml.pretraining.init import load_encoder

    payload = read_pretrained(path)
    modalities = sorted(payload["encoders"])
    net = ModelSpec.from_config(payload["model"]).build(modalities, payload["modality_specs"], num_outputs=1)
    for m in modalities:
        load_encoder(net.encoders[m], payload["encoders"][m], m)
    return {m: net.encoders[m].eval() for m in modalities}


def load_pretrained_preprocessor(path: str | Path) -> Preprocessor:
    """The pretraining run's fitted preprocessing (records → ``{"inputs", "mask", ...}`` batches) of ``path``."""
    from nextgen_ml.pretraining.artifact import read_pretrained

    payload = read_pretrained(path)
    kwargs = ((payload.get("config") or {}).get("data") or {}).get("transforms") or {}
    states = payload.get("transforms") or {}
    missing = sorted(set(payload["encoders"]) - set(states))
    if missing:
        raise BundleError(f"{path}: no fitted preprocessing for {missing}")
    return Preprocessor({m: build_transform(m, kwargs.get(m) or {}, states[m]) for m in sorted(payload["encoders"])})
