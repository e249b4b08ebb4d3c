"""One-run canary audit of a (DP) training run: an empirical lower bound on ε to set against the reported ε.

Steinke, Nasr and Jagielski, "Privacy Auditing with One (1) Training Run", NeurIPS 2023 (arXiv:2305.08846):
``--canaries m`` training records get a flipped label (mislabelled records are what a model memorises); each is
kept in the training set with probability 1/2 (the auditor's coin, ``--seed``) and dropped otherwise. One run
trains the configured model (``+experiment=tabular_only`` with an MLP by default, through the same factory and
``DPCallback`` as ``train.py``); every canary is scored by minus its loss; the guesser says "in" for the highest
scores, "out" for the lowest and abstains in between; :func:`nextgen_ml.privacy.audit.audit` turns the guesses
into the largest ε that (ε, δ)-DP training would produce with probability < alpha.

    python scripts/audit_dp.py                          # non-private run: a positive lower bound is expected
    python scripts/audit_dp.py --epsilon 8              # privacy=dp at ε = 8: the bound must stay below 8
    python scripts/audit_dp.py --epsilon 8 -- data.batch_size=64 trainer.max_epochs=10   # extra Hydra overrides

Prints a table, then, as the last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from nextgen_ml.data.dataset import Collate, MultimodalDataset
from nextgen_ml.privacy.audit import audit
from nextgen_ml.privacy.config import DPConfig
from nextgen_ml.privacy.report import find_dp_callback
from nextgen_ml.training.factory import build_datamodule, build_module, build_privacy_callbacks

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BASE = ["+experiment=tabular_only", "model.encoder.tabular.name=tabular_mlp", "trainer=cpu", "plots=false",
        "audit_log=null"]


class Canaries(Dataset):
    """``base`` with the binary label ``target`` flipped at the positions ``flipped``.

    Samples are cached after their first read (the audited tabular model has no random augmentation), so every
    epoch after the first costs no store reads.
    """

    def __init__(self, base: Dataset, flipped: set[int], target: str) -> None:
        self.base, self.flipped, self.target = base, flipped, target
        self.cache: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i not in self.cache:
            sample = self.base[i]
            if i in self.flipped:
                flip = np.float32(1.0 - sample["targets"][self.target])
                sample["targets"] = {**sample["targets"], self.target: flip}
            self.cache[i] = sample
        return self.cache[i]


def compose(overrides: list[str]) -> Any:
    """The real ``train`` config with ``overrides`` (as ``train.py`` composes it)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from nextgen_ml.training import resolvers  # noqa: F401

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def canary_split(dm: Any, target: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` labelled training records as canaries, and the auditor's coin (kept in training or not) for each."""
    train = dm.split_indices["train"]
    labels = [dm.datasets["train"].store.row(i)["labels"].get(target) for i in range(len(train))]
    labelled = train[[v is not None for v in labels]]
    if len(labelled) < m:
        raise SystemExit(f"--canaries {m}: only {len(labelled)} labelled training records")
    return np.sort(rng.choice(labelled, m, replace=False)), rng.random(m) < 0.5


def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = [*BASE, f"seed={args.seed}", f"trainer.max_epochs={args.epochs}", f"data.batch_size={args.batch_size}",
                 f"optimizer.lr={args.lr}"]
    if args.epsilon is not None:
        overrides += ["privacy=dp", f"privacy.target_epsilon={args.epsilon}"]
    cfg = compose(overrides + args.overrides)
    pl.seed_everything(args.seed, workers=True)
    dm = build_datamodule(cfg)
    dm.setup()
    target = str(cfg.task.target)
    canaries, included = canary_split(dm, target, args.canaries, np.random.default_rng(args.seed))
    rng = np.random.default_rng(args.seed + 1)
    others = np.setdiff1d(dm.split_indices["train"], canaries)
    others = rng.choice(others, min(args.others, len(others)), replace=False)
    keep = np.sort(np.concatenate([others, canaries[included]]))
    flipped = set(np.flatnonzero(np.isin(keep, canaries)).tolist())
    dm.split_indices["train"] = keep
    dm.datasets["train"] = Canaries(MultimodalDataset(dm.store.subset(keep), dm.transforms, train=True), flipped,
                                    target)
    module = build_module(cfg, dm)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=build_privacy_callbacks(cfg))
    start = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    seconds = time.perf_counter() - start
    dp = find_dp_callback(trainer)
    delta = dp.delta if dp is not None else DPConfig().resolved_delta(len(keep))
    scores = canary_scores(module, dm, canaries, target)
    result = audit(scores, included, delta=delta, alpha=args.alpha)
    return {**result.as_dict(), "reported_epsilon": dp.epsilon() if dp is not None else math.inf,
            "target_epsilon": args.epsilon, "included": int(included.sum()), "epochs": args.epochs,
            "train_records": len(keep), "fit_seconds": round(seconds, 1), "seed": args.seed}


@torch.no_grad()
def canary_scores(module: Any, dm: Any, canaries: np.ndarray, target: str) -> np.ndarray:
    """Minus each canary's loss (with its flipped label) under the trained model: higher = more likely trained on."""
    data = Canaries(MultimodalDataset(dm.store.subset(canaries), dm.transforms), set(range(len(canaries))), target)
    module.eval()
    out = []
    for batch in DataLoader(data, batch_size=256, collate_fn=Collate(dm.modalities)):
        logits = module(batch["inputs"], batch["mask"])["logits"]
        out.append(-module.task.per_sample_loss(logits, batch["targets"]))
    return torch.cat(out).numpy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epsilon", type=float, default=None, help="privacy=dp at this ε (default: no DP)")
    parser.add_argument("--canaries", type=int, default=200, help="m, canaries (each kept with probability 1/2)")
    parser.add_argument("--others", type=int, default=300, help="non-canary training records kept")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="run seed and the auditor's coins")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level of the bound")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    figures = run(args)
    rows = [("run", "non-private" if args.epsilon is None else f"privacy=dp, target ε={args.epsilon}"),
            ("reported ε", f"{figures['reported_epsilon']:.3f}"), ("δ", f"{figures['delta']:.1e}"),
            ("canaries m (kept)", f"{figures['m']} ({figures['included']})"),
            ("guesses / correct", f"{figures['guesses']} / {figures['correct']} ({figures['accuracy']:.1%})"),
            (f"empirical ε lower bound ({1 - args.alpha:.0%})", f"{figures['epsilon_lower_bound']:.3f}"),
            ("training records / epochs", f"{figures['train_records']} / {figures['epochs']}"),
            ("fit seconds", f"{figures['fit_seconds']}")]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    print(json.dumps({k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in figures.items()}))


if __name__ == "__main__":
    main(sys.argv[1:])
