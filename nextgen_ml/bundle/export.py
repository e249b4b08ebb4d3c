"""``export_bundle(ckpt, out_dir)``: a training checkpoint → a self-contained bundle directory."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import torch
from omegaconf import OmegaConf

import nextgen_ml
from nextgen_ml.bundle.card import build_card, render_markdown
from nextgen_ml.bundle.ci import task_ci
from nextgen_ml.bundle.files import (
    BUNDLE_FORMAT,
    CARD_JSON,
    CARD_MD,
    CONFIG,
    MANIFEST,
    PREPROCESSING,
    REFERENCE_PREDICTIONS,
    REFERENCE_RECORDS,
    TEST_PREDICTIONS,
    VERIFY_ATOL,
    WEIGHTS,
    BundleError,
    write_json,
)
from nextgen_ml.bundle.load import build_model, load_pretrained, sha256_file
from nextgen_ml.bundle.outputs import prediction_columns
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.schema import SCHEMA_VERSION
from nextgen_ml.data.store import METADATA_FILE
from nextgen_ml.modalities import modality_spec

log = logging.getLogger(__name__)

#: LightningModule attribute holding the net; Opacus' GradSampleModule adds ``_module.`` in front of its keys.
_PREFIXES: tuple[str, ...] = ("net.", "_module.")


def net_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``MultimodalNet`` weights of a LightningModule state dict (``net.`` / ``_module.`` prefixes removed),
    as contiguous, non-shared CPU tensors (what safetensors stores)."""
    out = {}
    for key, value in state_dict.items():
        if not key.startswith("net."):
            continue
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        out[key] = value.detach().cpu().contiguous().clone()
    if not out:
        raise BundleError("checkpoint: its state_dict holds no 'net.' weights (not a MultimodalModule checkpoint)")
    return out


def _preprocessing(config: dict[str, Any], info: dict[str, Any], dm_state: dict[str, Any] | None) -> dict[str, Any]:
    modalities = sorted(config["data"]["modalities"])
    fitted = (dm_state or {}).get("transforms") or {}
    missing = [m for m in modalities if m not in fitted]
    if missing:
        raise BundleError(f"checkpoint: no fitted transform state for {missing} under 'CardioDataModule'")
    kwargs = config["data"].get("transforms") or {}
    return {
        "modalities": modalities,
        "transforms": {m: {"class": modality_spec(m).transform_class.__name__, "kwargs": dict(kwargs.get(m) or {}),
                           "state": fitted[m]} for m in modalities},
        "modality_specs": info["modality_specs"],
        "dictionary": (dm_state or {}).get("dictionary"),
    }


def _checkpoint_predictions(net: torch.nn.Module, task: Any, config: dict[str, Any], dm_state: dict[str, Any],
                            data_dir: str | Path | None) -> tuple[pd.DataFrame, dict[str, np.ndarray], Any] | None:
    """The checkpoint's own predictions on the run's test split — through the training data pipeline, not the
    bundle's — with targets and the test view; None when the run's record store is not at hand."""
    # cohort=None: exporting reads an existing store, it never generates (or regenerates) one
    data_cfg = dict(config["data"], data_dir=str(data_dir or config["data"]["data_dir"]), cohort=None)
    if not (Path(data_cfg["data_dir"]) / METADATA_FILE).is_file():
        log.warning("no record store at %s: the model card will have no confidence intervals", data_cfg["data_dir"])
        return None
    from nextgen_ml.tasks.module import MultimodalModule
    from nextgen_ml.training.factory import build_datamodule
    from nextgen_ml.training.predictions import collect_predictions

    dm: CardioDataModule = build_datamodule(OmegaConf.create({"data": data_cfg}))
    dm.load_state_dict(dm_state)
    dm.setup()
    view = dm.store.subset(dm.split_indices["test"])
    module = MultimodalModule(net=net, task=task, optimizer=torch.optim.SGD)
    preds, targets, index = collect_predictions(module, dm.test_dataloader())
    preds = preds.reshape(len(index), -1)  # (N, K)
    frame = pd.DataFrame(preds, columns=prediction_columns(task))
    frame.insert(0, "patient_id", [view.column("patient_id")[int(i)].as_py() for i in index])
    return frame, targets, view


def label_columns(targets: dict[str, np.ndarray], task: Any) -> dict[str, np.ndarray]:
    """``label_<name>`` columns of the scalar targets, and the survival task's ``label_<name>_time``/``_event``."""
    out = {f"label_{name}": y for name, y in targets.items() if y.ndim == 1}
    if task.kind == "survival":
        y = targets[task.target]  # (N, 2)
        out[f"label_{task.target}_time"], out[f"label_{task.target}_event"] = y[:, 0], y[:, 1]
    return out


def _write_reference(out_dir: Path, frame: pd.DataFrame, view: Any, n: int) -> None:
    """The first ``n`` test records and the checkpoint's predictions for them: a self-check of the bundle."""
    ref = view.take(list(range(min(n, len(view)))))
    with pa.OSFile(str(out_dir / REFERENCE_RECORDS), "wb") as sink, ipc.new_file(sink, ref.schema) as writer:
        writer.write_table(ref)
    frame.iloc[: ref.num_rows].to_csv(out_dir / REFERENCE_PREDICTIONS, index=False)


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / MANIFEST).exists():
        if not overwrite:
            raise BundleError(f"out_dir: {out_dir} already holds a bundle; pass overwrite=True to replace it")
        shutil.rmtree(out_dir)
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise BundleError(f"out_dir: {out_dir} exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)


def export_bundle(
    ckpt_path: str | Path,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    metrics_path: str | Path | None = None,
    name: str | None = None,
    n_boot: int = 1000,
    n_reference: int = 8,
    overwrite: bool = False,
) -> Path:
    """Write a self-contained bundle for a checkpoint of ``train.py``.

    Args:
        ckpt_path: ``best.ckpt`` / ``last.ckpt`` of a run (holds ``checkpoint["nextgen_ml"]`` and the datamodule's
            fitted transforms and splits).
        out_dir: new bundle directory.
        data_dir: the record store the run used, if it moved; its test split gives the card's bootstrap CI.
            Without a store the card has no CI.
        metrics_path: the run's ``metrics.json`` (default: ``<run>/metrics.json`` next to ``checkpoints/``).
        name: bundle name (default: the directory name).
        n_boot: bootstrap resamples of the CI.
        n_reference: test records shipped with the checkpoint's predictions (``PretrainedModel.verify``).
        overwrite: replace an existing bundle at ``out_dir``.

    Returns:
        ``out_dir``.
    """
    from safetensors.torch import save_file

    from nextgen_ml.training.evaluate import load_run_checkpoint
    from nextgen_ml.training.train import CHECKPOINT_KEY

    ckpt_path, out_dir = Path(ckpt_path), Path(out_dir)
    ckpt = load_run_checkpoint(ckpt_path)
    info = ckpt[CHECKPOINT_KEY]
    config = info["config"]
    dm_state = ckpt.get(CardioDataModule.__qualname__)
    preprocessing = _preprocessing(config, info, dm_state)
    weights = net_weights(ckpt["state_dict"])
    net, task = build_model(config, preprocessing)  # fails here, not at load time, if the config cannot rebuild it
    net.load_state_dict(weights)

    _prepare_out(out_dir, overwrite)
    save_file(weights, str(out_dir / WEIGHTS), metadata={"format": "pt"})
    name = name or out_dir.name
    manifest = {
        "format": BUNDLE_FORMAT,
        "name": name,
        "nextgen_ml_version": nextgen_ml.__version__,
        "trained_with_version": info.get("version"),
        "schema_version": SCHEMA_VERSION,
        "modalities": preprocessing["modalities"],
        "task": {"kind": task.kind, "target": getattr(task, "target", None)},
        "outputs": prediction_columns(task),
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "weights_sha256": sha256_file(out_dir / WEIGHTS),
        "source_checkpoint": ckpt_path.name,
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
    }
    write_json(out_dir / CONFIG, config)
    write_json(out_dir / PREPROCESSING, preprocessing)
    write_json(out_dir / MANIFEST, manifest)

    metrics_file = Path(metrics_path) if metrics_path else ckpt_path.parent.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    intervals: dict[str, dict[str, Any]] = {}
    tested = _checkpoint_predictions(net, task, config, dm_state, data_dir) if dm_state else None
    if tested is not None:
        frame, targets, view = tested
        preds = frame[prediction_columns(task)].to_numpy()
        key, ci = task_ci(task, targets, preds[:, 0] if preds.shape[1] == 1 else preds, n_boot=n_boot)
        intervals[key] = ci
        labelled = frame.assign(**label_columns(targets, task))
        labelled.to_csv(out_dir / TEST_PREDICTIONS, index=False)
        _write_reference(out_dir, frame, view, n_reference)
        diff = load_pretrained(out_dir).verify()
        if diff > VERIFY_ATOL:
            raise BundleError(f"export: the bundle's predictions differ from the checkpoint's by {diff:.2e}")
    split_sizes = {k: len(v) for k, v in ((dm_state or {}).get("split_indices") or {}).items()}
    card = build_card(name, manifest, config, metrics, intervals, split_sizes, manifest["parameters"])
    write_json(out_dir / CARD_JSON, card)
    (out_dir / CARD_MD).write_text(render_markdown(card))
    return out_dir
