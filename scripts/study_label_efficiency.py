"""Label efficiency of ECG ↔ image pretraining: pretrain → fine-tune against the same model from scratch.

For each of ``--folds`` patient-grouped cross-validation folds (``data.split=kfold``, stratified on MACE, so MACE
and LVEF share the folds): one contrastive pretraining run (``python train.py +experiment=pretrain_ecg_image``
composed in-process and run through ``train(cfg)``) on the fold's training split (labels unread; the validation
split picks the checkpoint; the test fold is never seen). Then, for MACE (binary, AUROC) and LVEF (regression, MAE;
R² too) and for 1, 5, 10, 25 and 100 % of the training labels (``labelled_subset``: stratified, nested, the rule of
``data.label_fraction``), three models (ECG only, image only, ECG + image with concat fusion) are trained in three
arms on the same labelled rows:

- ``scratch``: the net from ``ModelSpec.build`` (the builder ``train.py`` uses), randomly initialised;
- ``pretrained``: the same net with the fold's pretrained encoders loaded, fully fine-tuned (``model.finetune=full``);
- ``probe``: the pretrained encoders frozen, a linear model on their embeddings (logistic / ridge regression).

Fine-tuning is a lean loop over tensors transformed once per fold (the datamodule's fitted transforms), not a
Lightning run per cell: same optimizer (AdamW, lr 1e-3, weight decay 1e-4), same number of steps for every arm,
``max(--min-steps, --epochs × batches)``. Every arm of a fold is scored on the same test patients: those of the
test fold with both ECG and image and a known label. Reported: the mean over folds with a 95 % bootstrap CI
(test rows resampled within each fold, stratified by class for MACE), and paired tests of pretrained − scratch and
probe − scratch (DeLong over folds for AUROC, paired bootstrap for MAE; ``nextgen_ml.benchmark.stats``) with Holm
correction per label and comparison. Cross-modal retrieval (ECG → image recall@1/5/10 in the pretrained projection
space) on each test fold's patients with both modalities, against chance.

    python scripts/study_label_efficiency.py                      # the study of docs/results.md
    python scripts/study_label_efficiency.py --no-pretrain        # the scratch arm only
    python scripts/study_label_efficiency.py --quick              # a smoke run (tiny cohort, 2 folds, few steps)

Prints a table, writes the figure (``--figure``) and, as the last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
FRACTIONS = (0.01, 0.05, 0.1, 0.25, 1.0)
MODELS: dict[str, tuple[str, ...]] = {"ecg": ("ecg",), "image": ("image",), "fused": ("ecg", "image")}
LABELS = ("mace", "lvef")
ARMS = ("scratch", "pretrained", "probe")
KS = (1, 5, 10)


# ---------------------------------------------------------------------------------------------- config and data
def compose(overrides: list[str]) -> Any:
    """The real ``train`` config with ``overrides``, as ``python train.py`` composes it (no ``hydra`` node)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from nextgen_ml.training import resolvers  # noqa: F401

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def fold_overrides(args: argparse.Namespace, fold: int, out: Path, pretrain: bool) -> list[str]:
    """Hydra overrides of fold ``fold``: the study's cohort, the fold's split and the pretraining run."""
    store = Path(args.data_root) / f"label_efficiency_n{args.n}_s{args.seed}_img32_fs100"
    data = [f"data.data_dir={store}", f"data.cohort.n={args.n}", "data.cohort.sites=5", f"data.cohort.seed={args.seed}",
            "data.cohort.config.ecg_fs_hz=100.0", "data.cohort.config.image_size=32",
            "data.cohort.config.image_frames=2", "data.modalities=[ecg,image]", "data.transforms.image.size=32",
            "data.transforms.image.frames=2", "data.split=kfold", f"data.folds={args.folds}", f"data.fold={fold}",
            "data.stratify_on=mace", f"data.batch_size={args.pretrain_batch}", "task=mace"]
    model = [f"model.embed_dim={args.embed_dim}", "model/encoder/image=resnet18_small", "model/fusion=concat",
             f"+model.encoder.ecg.widths=[{','.join(map(str, args.ecg_widths))}]"]
    run = [f"seed={args.seed}", f"trainer.max_epochs={args.pretrain_epochs}", "logger=none", "plots=false",
           "audit_log=null", "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
           "~callbacks.progress_bar", "~callbacks.lr_monitor",
           f"paths.output_dir={out / f'pretrain_fold{fold}'}", f"paths.log_dir={out / 'logs'}"]
    return (["+experiment=pretrain_ecg_image"] if pretrain else []) + data + model + run


def fold_tensors(dm: Any, seed: int) -> dict[str, dict[str, Any]]:
    """The fold's train and test records as one batch each (inputs, masks, targets), transformed once."""
    from nextgen_ml.benchmark.data import FoldData
    from nextgen_ml.data.dataset import Collate

    out = {}
    for name in ("train", "test"):
        samples = FoldData._transform(dm.datasets[name], seed)  # the benchmark's per-modality seeded transform
        out[name] = Collate(dm.modalities)(samples)
    return out


def rows_of(batch: dict[str, Any], rows: np.ndarray, modalities: tuple[str, ...]) -> tuple[dict, dict]:
    """Inputs and masks of ``rows`` for ``modalities``."""
    idx = torch.as_tensor(rows, dtype=torch.long)
    return ({m: batch["inputs"][m][idx] for m in modalities}, {m: batch["mask"][m][idx] for m in modalities})


# ---------------------------------------------------------------------------------------------- pretraining
def pretrain_fold(cfg: Any, dm: Any, out_dir: Path) -> tuple[dict[str, Any], Any, dict[str, float]]:
    """Run ``train(cfg)`` (the pretraining branch); returns the pretrained-encoders dict, the pretraining module
    restored from its best checkpoint (for the projection space) and the run's metrics."""
    from nextgen_ml.pretraining.artifact import read_pretrained
    from nextgen_ml.pretraining.run import build_pretrain_module
    from nextgen_ml.training.train import train

    encoders_file = out_dir / "pretrained_encoders.pt"
    metrics: dict[str, float] = {}
    if not encoders_file.exists():  # a re-run reuses a finished fold (nothing is ever overwritten)
        metrics = train(cfg)
    elif (out_dir / "metrics.json").exists():
        metrics = json.loads((out_dir / "metrics.json").read_text())
    payload = read_pretrained(encoders_file)
    module = build_pretrain_module(cfg, dm)
    ckpts = [out_dir / "checkpoints" / "best.ckpt", out_dir / "checkpoints" / "last.ckpt"]
    ckpt = next((p for p in ckpts if p.exists()), None)
    if ckpt is not None:
        module.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"])
    else:  # no checkpoint: the encoders of the file, projections untrained (retrieval then means little)
        print(f"warning: no checkpoint in {out_dir / 'checkpoints'}; retrieval uses untrained projections")
        for m, state in payload["encoders"].items():
            module.net.encoders[m].load_state_dict(state)
    module.eval()
    return payload, module, metrics


@torch.no_grad()
def retrieval(module: Any, batch: dict[str, Any], rows: np.ndarray) -> dict[str, float]:
    """ECG → image recall@k among ``rows`` (patients with both modalities), in the pretrained projection space."""
    from nextgen_ml.pretraining.retrieval import chance_recall, recall_at_k

    zs: dict[str, list[Tensor]] = {"ecg": [], "image": []}
    for start in range(0, len(rows), 128):
        inputs, mask = rows_of(batch, rows[start:start + 128], ("ecg", "image"))
        z = module.embed(inputs, mask)
        for m in zs:
            zs[m].append(z[m])
    rec = recall_at_k(torch.cat(zs["ecg"]), torch.cat(zs["image"]), KS)
    out = {f"r@{k}": rec[k] for k in KS}
    out.update({f"chance@{k}": chance_recall(len(rows), k) for k in KS})
    out["n"] = float(len(rows))
    return out


# ---------------------------------------------------------------------------------------------- fine-tuning
def build_net(cfg: Any, modalities: tuple[str, ...], specs: dict[str, Any], payload: dict[str, Any] | None) -> Any:
    """The supervised net of ``modalities`` (concat fusion, one output), with pretrained encoders if given."""
    from nextgen_ml.models.spec import ModelSpec
    from nextgen_ml.training.factory import as_dict

    net = ModelSpec.from_config(as_dict(cfg.model)).build(list(modalities), specs, 1)
    if payload is not None:
        for m in modalities:
            net.encoders[m].load_state_dict(payload["encoders"][m])
    return net


def fit_predict(net: Any, task: Any, label: str, batch: dict[str, Any], train_rows: np.ndarray,
                test: dict[str, Any], test_rows: np.ndarray, modalities: tuple[str, ...], steps: int,
                args: argparse.Namespace, seed: int) -> np.ndarray:
    """Train ``net`` for ``steps`` AdamW steps on ``train_rows`` of ``batch`` (epochs of shuffled batches); the
    scores of ``test_rows`` of ``test`` (binary: the logit; regression: the prediction in the label's unit)."""
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    y = batch["targets"][label]
    net.train()
    done = 0
    while done < steps:
        order = train_rows[torch.randperm(len(train_rows), generator=gen).numpy()]
        for start in range(0, len(order), args.batch_size):
            rows = order[start:start + args.batch_size]
            inputs, mask = rows_of(batch, rows, modalities)
            logits = net(inputs, mask)["logits"]
            loss = task.loss(logits, {label: y[torch.as_tensor(rows)]})
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done >= steps:
                break
    return predict(net, task, test, test_rows, modalities)


@torch.no_grad()
def predict(net: Any, task: Any, batch: dict[str, Any], rows: np.ndarray, modalities: tuple[str, ...]) -> np.ndarray:
    net.eval()
    out = []
    for start in range(0, len(rows), 128):
        inputs, mask = rows_of(batch, rows[start:start + 128], modalities)
        logits = net(inputs, mask)["logits"]
        out.append(task.predict(logits) if task.kind == "regression" else logits[:, 0])
    return torch.cat(out).double().numpy()


@torch.no_grad()
def embeddings(payload: dict[str, Any], cfg: Any, specs: dict[str, Any], batch: dict[str, Any],
               modalities: tuple[str, ...]) -> np.ndarray:
    """Frozen pretrained encoder outputs of every row, concatenated over ``modalities`` (absent = 0)."""
    net = build_net(cfg, modalities, specs, payload).eval()
    n = len(batch["index"])
    feats = []
    for m in modalities:
        parts = []
        for start in range(0, n, 128):
            x = batch["inputs"][m][start:start + 128]
            parts.append(net.encoders[m](x) * batch["mask"][m][start:start + 128, None])
        feats.append(torch.cat(parts))
    return torch.cat(feats, dim=1).numpy()


def probe_predict(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """A linear model on frozen embeddings (standardised): logistic regression (score = decision function) or
    ridge regression (prediction in the label's unit)."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "binary":
        if np.unique(y_train).size < 2:
            return np.zeros(len(x_test))
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        return model.fit(x_train, y_train.astype(int)).decision_function(x_test)
    model = make_pipeline(StandardScaler(), Ridge(alpha=10.0))
    return model.fit(x_train, y_train).predict(x_test)


# ---------------------------------------------------------------------------------------------- statistics
def fold_bootstrap_ci(folds: list[tuple[np.ndarray, np.ndarray]], metric: Any, binary: bool, n_boot: int,
                      seed: int) -> tuple[float, float, float]:
    """Mean over folds of ``metric`` with a percentile CI: each replicate resamples every fold's test rows
    (stratified by class for a binary label) and averages the folds."""
    rng = np.random.default_rng(seed)
    reps, point = [], []
    for y, s in folds:
        if binary:
            idx = np.concatenate([rng.choice(np.flatnonzero(y == c), size=(n_boot, int((y == c).sum())))
                                  for c in np.unique(y)], axis=1)  # (n_boot, n)
        else:
            idx = rng.integers(0, len(y), size=(n_boot, len(y)))
        reps.append(metric(y[idx], s[idx]))
        point.append(float(metric(y, s)))
    dist = np.nanmean(np.stack(reps), axis=0)
    low, high = np.quantile(dist, [0.025, 0.975])
    return float(np.mean(point)), float(low), float(high)


def summarise(preds: list[dict[str, Any]], n_boot: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per (label, model, fraction, arm): metric means with CIs; per comparison: paired tests, Holm-adjusted."""
    from nextgen_ml.benchmark import metrics as M
    from nextgen_ml.benchmark.stats import delong_paired, holm, paired_bootstrap

    metric_fns = {"mace": {"auroc": M.auroc}, "lvef": {"mae": M.mae, "r2": M.r2}}
    cells: dict[tuple[str, str, float], dict[int, dict[str, Any]]] = {}
    for p in preds:
        cells.setdefault((p["label"], p["model"], p["fraction"]), {})[p["fold"]] = p
    rows, tests = [], []
    for (label, model, frac), by_fold in sorted(cells.items()):
        folds = [by_fold[f] for f in sorted(by_fold)]
        arms = [a for a in ARMS if all(a in f["scores"] for f in folds)]
        for arm in arms:
            row = {"label": label, "model": model, "fraction": frac, "arm": arm,
                   "n_labelled": [f["n_labelled"] for f in folds], "n_test": [len(f["y"]) for f in folds]}
            for name, fn in metric_fns[label].items():
                pairs = [(np.asarray(f["y"]), np.asarray(f["scores"][arm])) for f in folds]
                est, low, high = fold_bootstrap_ci(pairs, fn, label == "mace", n_boot,
                                                   seed=zlib.crc32(f"{label}{model}{frac}".encode()))
                row.update({name: est, f"{name}_low": low, f"{name}_high": high})
            rows.append(row)
        for arm in arms:
            if arm == "scratch":
                continue
            units = [(0, np.asarray(f["y"]), np.asarray(f["scores"][arm]), np.asarray(f["scores"]["scratch"]))
                     for f in folds]
            if label == "mace":
                t = delong_paired(units)
                name = "auroc"
            else:
                t = paired_bootstrap(units, M.mae, n_boot=n_boot, strata=None)
                name = "mae"
            tests.append({"label": label, "model": model, "fraction": frac, "comparison": f"{arm} - scratch",
                          "metric": name, "difference": t.estimate, "low": t.low, "high": t.high, "p": t.p_value,
                          "method": t.method})
    for label in LABELS:
        for comp in {t["comparison"] for t in tests}:
            family = [t for t in tests if t["label"] == label and t["comparison"] == comp]
            for t, p in zip(family, holm([t["p"] for t in family]), strict=True):
                t["p_holm"] = float(p)
    return rows, tests


# ---------------------------------------------------------------------------------------------- figure and table
def plot(rows: list[dict[str, Any]], path: Path, note: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [lab for lab in LABELS if any(r["label"] == lab for r in rows)]
    fig, axes = plt.subplots(len(labels), len(MODELS), figsize=(4.2 * len(MODELS), 3.3 * len(labels)),
                             squeeze=False, sharex=True)
    colours = {"scratch": "tab:grey", "pretrained": "tab:blue", "probe": "tab:orange"}
    for i, label in enumerate(labels):
        metric = "auroc" if label == "mace" else "mae"
        for j, model in enumerate(MODELS):
            ax = axes[i, j]
            for arm in ARMS:
                sel = sorted((r for r in rows if r["label"] == label and r["model"] == model and r["arm"] == arm),
                             key=lambda r: r["fraction"])
                if not sel:
                    continue
                x = [100 * r["fraction"] for r in sel]
                ax.plot(x, [r[metric] for r in sel], "o-", color=colours[arm], label=arm)
                ax.fill_between(x, [r[f"{metric}_low"] for r in sel], [r[f"{metric}_high"] for r in sel],
                                color=colours[arm], alpha=0.15)
            ax.set_xscale("log")
            ax.set_xticks([100 * f for f in FRACTIONS], [f"{100 * f:g}" for f in FRACTIONS])
            ax.set_title(f"{label.upper()} · {model}")
            ax.set_ylabel("test AUROC" if metric == "auroc" else "test MAE (LVEF %)")
            if i == len(labels) - 1:
                ax.set_xlabel("% of training labels")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(note, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_tables(rows: list[dict[str, Any]], tests: list[dict[str, Any]], retr: list[dict[str, Any]]) -> None:
    by = {(r["label"], r["model"], r["fraction"], r["arm"]): r for r in rows}
    arms = [a for a in ARMS if any(r["arm"] == a for r in rows)]
    for label in LABELS:
        metric = "auroc" if label == "mace" else "mae"
        print(f"\n{label.upper()} — test {metric.upper()} (mean over folds, 95 % bootstrap CI)")
        print(f"{'model':<6} {'labels':>6} {'n_lab':>6} " + " ".join(f"{a:>21}" for a in arms))
        for model in MODELS:
            for frac in FRACTIONS:
                if (label, model, frac, "scratch") not in by:
                    continue
                base = by[(label, model, frac, "scratch")]
                cells = []
                for a in arms:
                    r = by.get((label, model, frac, a))
                    cells.append(f"{r[metric]:.3f} [{r[metric + '_low']:.3f},{r[metric + '_high']:.3f}]"
                                 if r else "—")
                n_lab = int(np.mean(base["n_labelled"]))
                print(f"{model:<6} {100 * frac:>5g}% {n_lab:>6} " + " ".join(f"{c:>21}" for c in cells))
    if tests:
        print("\npaired tests (difference of the mean over folds; Holm per label and comparison)")
        print(f"{'label':<5} {'model':<6} {'labels':>6} {'comparison':<21} {'diff':>7} {'95% CI':>17} "
              f"{'p':>7} {'p_holm':>7}")
        for t in tests:
            print(f"{t['label']:<5} {t['model']:<6} {100 * t['fraction']:>5g}% {t['comparison']:<21} "
                  f"{t['difference']:>+7.3f} [{t['low']:+.3f},{t['high']:+.3f}] {t['p']:>7.3f} {t['p_holm']:>7.3f}")
    if retr:
        print("\nECG → image retrieval on held-out patients (pretrained projection space)")
        print(f"{'fold':>4} {'n':>5} " + " ".join(f"{'R@' + str(k):>7} {'chance':>7}" for k in KS))
        for r in retr:
            print(f"{r['fold']:>4} {int(r['n']):>5} "
                  + " ".join(f"{r[f'r@{k}']:>7.3f} {r[f'chance@{k}']:>7.3f}" for k in KS))


# ---------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="cohort size")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--labels", nargs="+", default=list(LABELS), choices=LABELS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--embed-dim", type=int, default=64)
    parser.add_argument("--ecg-widths", type=int, nargs=4, default=[16, 32, 64, 64], help="ECG XResNet stage widths")
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--pretrain-batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs over the labelled rows ...")
    parser.add_argument("--min-steps", type=int, default=20, help="... but at least this many steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--no-pretrain", action="store_true", help="the scratch arm only")
    parser.add_argument("--only-folds", type=int, nargs="+", help="run these folds only (e.g. one process per fold)")
    parser.add_argument("--summarise", action="store_true",
                        help="train nothing: summarise the per-fold files in --out (cells finished in every fold)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    parser.add_argument("--quick", action="store_true", help="smoke run: n=300, 2 folds, 3 pretraining epochs")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "label_efficiency")
    parser.add_argument("--data-root", type=Path, default=REPO / "data")
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "label_efficiency.png")
    args = parser.parse_args()
    if args.quick:
        args.n, args.folds, args.pretrain_epochs, args.epochs, args.min_steps = 300, 2, 3, 1, 3
        args.n_boot = 200
        args.out = args.out.with_name(args.out.name + "_quick")
        args.figure = args.out / "label_efficiency.png"
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    import logging
    import warnings

    import lightning.pytorch as pl
    from tqdm import tqdm

    from nextgen_ml.data.splits import labelled_subset
    from nextgen_ml.data.targets import strata
    from nextgen_ml.training.factory import build_datamodule, build_task

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|val_dataloader).*")
    start, load_start = time.perf_counter(), os.getloadavg()
    fractions = sorted(args.fractions)
    models = {m: MODELS[m] for m in args.models}
    pretrain = not args.no_pretrain
    preds: list[dict[str, Any]] = []
    retr: list[dict[str, Any]] = []
    pre_metrics: list[dict[str, float]] = []
    folds = [] if args.summarise else (args.only_folds if args.only_folds is not None else list(range(args.folds)))
    n_runs = len(folds) * len(args.labels) * len(fractions) * len(models)
    bar = tqdm(total=n_runs, desc="fine-tuning runs", unit="run", file=sys.stderr)
    pretrain_seconds = 0.0
    args.out.mkdir(parents=True, exist_ok=True)
    for fold in folds:
        fold_file = args.out / f"preds_fold{fold}.jsonl"  # one line per finished run (a re-run skips them)
        finished = {(p["label"], p["fraction"], p["model"]): p for p in map(json.loads, fold_file.open())} \
            if fold_file.exists() else {}
        cfg = compose(fold_overrides(args, fold, args.out, pretrain))
        dm = build_datamodule(cfg)
        dm.prepare_data()
        dm.setup()
        payload, module = None, None
        if pretrain:
            t0 = time.perf_counter()
            payload, module, metrics = pretrain_fold(cfg, dm, Path(cfg.paths.output_dir))
            pretrain_seconds += time.perf_counter() - t0
            pre_metrics.append({"fold": fold, **metrics})
            (args.out / f"pretrain_fold{fold}.json").write_text(json.dumps({"fold": fold, **metrics}))
            if payload["modality_specs"] != dm.modality_specs:
                raise ValueError(f"fold {fold}: the pretrained encoders were fitted on other modality specs")
        data = fold_tensors(dm, args.seed)
        train_b, test_b = data["train"], data["test"]
        both_test = (test_b["mask"]["ecg"] & test_b["mask"]["image"]).numpy()
        if module is not None:
            retr.append({"fold": fold, **retrieval(module, test_b, np.flatnonzero(both_test))})
            (args.out / f"retrieval_fold{fold}.json").write_text(json.dumps(retr[-1]))
        frozen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if payload is not None:
            per_mod = {m: (embeddings(payload, cfg, dm.modality_specs, train_b, (m,)),
                           embeddings(payload, cfg, dm.modality_specs, test_b, (m,))) for m in ("ecg", "image")}
            frozen = {name: tuple(np.concatenate([per_mod[m][i] for m in mods], axis=1) for i in (0, 1))
                      for name, mods in models.items()}
        for frac, label in [(f, lab) for f in fractions for lab in args.labels]:  # every label at each fraction
            dlabel = dm.dictionary.label(label)
            y_train = train_b["targets"][label].double().numpy()
            y_test = test_b["targets"][label].double().numpy()
            test_rows = np.flatnonzero(both_test & ~np.isnan(y_test))
            values = [None if np.isnan(v) else float(v) for v in y_train]
            labelled = labelled_subset(strata(dlabel, values), frac, args.seed)  # nested across fractions
            known = y_train[labelled]
            stats = None if dlabel.kind != "regression" else {
                "mean": float(known.mean()), "std": float(known.std()) if known.size > 1 else 1.0}
            task = build_task({"target": label}, dm.dictionary, stats)
            for name, mods in models.items():
                if (label, frac, name) in finished:
                    preds.append(finished[(label, frac, name)])
                    bar.update(1)
                    continue
                present = np.zeros(len(y_train), dtype=bool)
                for m in mods:
                    present |= train_b["mask"][m].numpy()
                rows = labelled[present[labelled]]
                steps = max(args.min_steps, args.epochs * math.ceil(len(rows) / args.batch_size))
                seed = zlib.crc32(f"{args.seed}/{fold}/{label}/{frac}/{name}".encode())
                scores = {}
                for arm in ("scratch", "pretrained") if pretrain else ("scratch",):
                    torch.manual_seed(seed)  # the same head initialisation in both arms
                    pl.seed_everything(seed % 2**31, verbose=False)
                    net = build_net(cfg, mods, dm.modality_specs, payload if arm == "pretrained" else None)
                    scores[arm] = fit_predict(net, task, label, train_b, rows, test_b, test_rows, mods, steps,
                                              args, seed).tolist()
                if frozen:
                    x_tr, x_te = frozen[name]
                    scores["probe"] = probe_predict(dlabel.kind, x_tr[rows], y_train[rows],
                                                    x_te[test_rows]).tolist()
                preds.append({"fold": fold, "label": label, "fraction": frac, "model": name,
                              "n_labelled": int(len(rows)), "steps": steps,
                              "y": y_test[test_rows].tolist(), "scores": scores})
                with fold_file.open("a") as fh:
                    fh.write(json.dumps(preds[-1]) + "\n")
                bar.update(1)
    bar.close()
    if args.summarise:  # every fold's files, written by runs with --only-folds (e.g. one process per fold)
        preds = [json.loads(line) for f in sorted(args.out.glob("preds_fold*.jsonl")) for line in f.open()]
        retr = [json.loads(f.read_text()) for f in sorted(args.out.glob("retrieval_fold*.json"))]
        pre_metrics = [json.loads(f.read_text()) for f in sorted(args.out.glob("pretrain_fold*.json"))]
        pretrain = any("pretrained" in p["scores"] for p in preds)
    n_folds = len({p["fold"] for p in preds})
    complete = {}
    for p in preds:
        complete.setdefault((p["label"], p["fraction"], p["model"]), set()).add(p["fold"])
    preds = [p for p in preds if len(complete[(p["label"], p["fraction"], p["model"])]) == n_folds]
    rows, tests = summarise(preds, args.n_boot)
    load_end = os.getloadavg()
    seconds = time.perf_counter() - start
    note = (f"synthetic cohort n={args.n}, {n_folds} of {args.folds} folds, ECG 100 Hz + 32 px 2-frame cine; "
            f"pretraining {args.pretrain_epochs} epochs" if pretrain else "scratch arm only")
    figure = plot(rows, args.figure, note)
    print_tables(rows, tests, retr)
    print(f"\nfigure: {figure}\nseconds: {seconds:.0f} (pretraining {pretrain_seconds:.0f}); "
          f"load average at start {load_start[0]:.2f}, at end {load_end[0]:.2f}")
    retrieval_mean = ({k: float(np.mean([r[k] for r in retr])) for k in retr[0] if k != "fold"} if retr else {})
    print(json.dumps({
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "pretrained": pretrain, "rows": rows, "tests": tests, "retrieval": retr, "retrieval_mean": retrieval_mean,
        "pretrain_metrics": pre_metrics, "seconds": round(seconds, 1), "pretrain_seconds": round(pretrain_seconds, 1),
        "load_start": load_start[0], "load_end": load_end[0], "figure": str(figure),
    }))


if __name__ == "__main__":
    main()
