"""``load_pretrained(path)``: rebuild a bundle's net, task and preprocessing without the repository's configs/."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from nextgen_ml.bundle.files import (
    BUNDLE_FORMAT,
    CARD_JSON,
    CONFIG,
    MANIFEST,
    PREPROCESSING,
    WEIGHTS,
    BundleError,
    check_bundle_dir,
    read_json,
)
from nextgen_ml.bundle.preprocess import Preprocessor, build_transform
from nextgen_ml.bundle.pretrained import PretrainedModel
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.schema import SCHEMA_VERSION, same_model_inputs


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    fmt = str(manifest.get("format", "0"))
    if fmt.split(".")[0] != BUNDLE_FORMAT.split(".")[0]:
        raise BundleError(f"bundle {path}: format {fmt}; this nextgen_ml reads bundle format {BUNDLE_FORMAT}")
    version = str(manifest.get("schema_version", "0"))
    if not same_model_inputs(version, SCHEMA_VERSION):
        raise BundleError(
            f"bundle {path}: field 'schema_version': trained on record schema {version}; this nextgen_ml uses "
            f"{SCHEMA_VERSION} (export the checkpoint again with a matching version)"
        )


def bundle_dictionary(preprocessing: dict[str, Any]) -> DataDictionary | None:
    """The training store's data dictionary saved in a bundle (None for bundles from before dictionaries)."""
    raw = preprocessing.get("dictionary")
    return None if raw is None else DataDictionary.parse(raw, defaults=False)


def build_model(config: dict[str, Any], preprocessing: dict[str, Any]) -> tuple[torch.nn.Module, Any]:
    """``(net, task)`` from a resolved run config and the bundle's modality specs (weights not loaded)."""
    from nextgen_ml.training.factory import build_net, build_task

    cfg = OmegaConf.create(config)
    task = build_task(cfg.task, bundle_dictionary(preprocessing))
    net = build_net(config["model"], preprocessing["modalities"], preprocessing["modality_specs"], task.num_outputs)
    return net, task


def load_pretrained(path: str | Path, device: str | torch.device = "cpu") -> PretrainedModel:
    """Load a bundle directory written by :func:`nextgen_ml.bundle.export_bundle`.

    Args:
        path: the bundle directory (e.g. ``pretrained/mace_xattn_small``).
        device: where the model runs.

    Returns:
        :class:`PretrainedModel` with ``predict(records)`` and ``explain(records)``.

    Raises:
        BundleError: files missing, weights corrupted, or the bundle's format / record schema version does not
            match this nextgen_ml.
    """
    from safetensors.torch import load_file

    path = check_bundle_dir(path)
    manifest = read_json(path / MANIFEST)
    _check_manifest(path, manifest)
    weights = path / WEIGHTS
    expected = manifest.get("weights_sha256")
    if expected and sha256_file(weights) != expected:
        raise BundleError(f"bundle {path}: {WEIGHTS} does not match the sha256 in {MANIFEST} (corrupted or replaced)")
    config, preprocessing = read_json(path / CONFIG), read_json(path / PREPROCESSING)
    transforms = {
        m: build_transform(m, spec.get("kwargs", {}), spec["state"]) for m, spec in preprocessing["transforms"].items()
    }
    net, task = build_model(config, preprocessing)
    state = load_file(str(weights))
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise BundleError(
            f"bundle {path}: weights do not fit the configured model (missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]})"
        )
    card = read_json(path / CARD_JSON) if (path / CARD_JSON).is_file() else {}
    panel = getattr(transforms.get("genomics"), "panel", None)
    preprocessor = Preprocessor(transforms, bundle_dictionary(preprocessing))
    return PretrainedModel(path, net, task, preprocessor, manifest, config, card, panel, device)
