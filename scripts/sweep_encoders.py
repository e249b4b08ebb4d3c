"""Single-modality encoder variants against the linear baseline on the benchmark's own folds (one repeat).

Each variant is a single-modality setting trained exactly as a benchmark cell (``fit_cell``: same data, folds,
epochs, optimiser); its test AUROC per fold is printed next to the linear baseline's (``run_baseline_cell``).
A quick way to compare encoder options before changing a benchmark default (binary targets only).

    python scripts/sweep_encoders.py variants.json --folds 0,1,2,3,4 [--override data.data_dir=...]

``variants.json``: ``[{"name": "img_mid", "modality": "image", "encoder": {"name": "image_resnet18",
"widths": [16, 32, 64, 128]}}, ...]``. The last printed line is one JSON object (mean AUROC per variant).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from nextgen_ml.benchmark.baselines import FUSION, run_baseline_cell
from nextgen_ml.benchmark.cell import fit_cell
from nextgen_ml.benchmark.config import Setting, load_config
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import ensure_store, fold_labels, make_folds, store_meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help="JSON list of {name, modality, encoder}")
    parser.add_argument("--config", default="configs/benchmark/default.yaml")
    parser.add_argument("--folds", default="0,1,2,3,4", help="fold numbers of the first repeat")
    parser.add_argument("--override", action="append", default=[], help="benchmark config override (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    variants = json.loads(Path(args.variants).read_text())
    cfg0 = load_config(args.config, args.override)
    if cfg0.data.cohort is not None:
        ensure_store(cfg0)
    meta = store_meta(cfg0.data.data_dir)
    folds = make_folds(cfg0, meta, cfg0.cv.seeds[0])
    modalities = sorted({v["modality"] for v in variants})
    aurocs: dict[str, list[float]] = {}
    for fold in (int(f) for f in args.folds.split(",")):
        data = FoldData(cfg0, folds[fold], modalities, seed=cfg0.cv.seeds[0] * 1000 + fold)
        labels = fold_labels(cfg0, meta, data.index["test"])
        for m in modalities:
            out = run_baseline_cell(cfg0, Setting(f"linear_{m}", FUSION, [m]), data, meta, labels, 0, fold, "sweep")
            aurocs.setdefault(f"linear_{m}", []).append(float(roc_auc_score(labels, out["logits"]["full"])))
        for v in variants:
            cfg = copy.deepcopy(cfg0)
            cfg.model.encoders[v["modality"]] = v["encoder"]
            start = time.perf_counter()
            module = fit_cell(cfg, Setting(v["name"], "concat", [v["modality"]]), data, cfg0.cv.seeds[0], fold)
            batch = data.test_batch([v["modality"]])
            with torch.no_grad():
                logit = module.net.eval()(batch["inputs"], batch["mask"])["logits"][:, 0].numpy()
            aurocs.setdefault(v["name"], []).append(float(roc_auc_score(labels, logit)))
            print(f"fold {fold} {v['name']}: AUROC {aurocs[v['name']][-1]:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    print(json.dumps({"folds": args.folds, "overrides": args.override,
                      "mean_auroc": {k: round(float(np.mean(a)), 4) for k, a in aurocs.items()},
                      "auroc": aurocs}))


if __name__ == "__main__":
    main()
