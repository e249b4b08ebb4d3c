"""Wall time of the same benchmark grid run serially and on N local worker processes, and whether the cells agree.

The grid is the default benchmark's model, training and robustness setup (``configs/benchmark/default.yaml``) on a
smaller synthetic cohort, with a subset of its settings and fewer folds (arguments). The store is generated once,
outside the timings. The serial run uses the config's ``train.threads`` (1); each worker gets
``max(1, cores // N)`` threads, at most ``train.threads``. Prints a readable table and, as the last line, one JSON
object with every figure.

    nice -n 10 python scripts/bench_grid.py --workers 2 --n 300 --folds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.folds import ensure_store
from nextgen_ml.benchmark.runner import run_benchmark

DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "benchmark" / "default.yaml"
SETTINGS = ("concat", "late", "gated", "cross_attention", "tabular_only", "ecg_only")


def grid_config(work: Path, n: int, folds: int, settings: tuple[str, ...]) -> Path:
    raw = yaml.safe_load(DEFAULT.read_text())
    raw["settings"] = [s for s in raw["settings"] if s["name"] in settings]
    raw["data"]["data_dir"] = str(work / "store")
    raw["data"]["cohort"] = {**raw["data"]["cohort"], "n": n}
    raw["cv"] = {**raw["cv"], "k": folds, "seeds": [0]}
    raw["report"] = {**raw["report"], "gains": [], "baseline": raw["settings"][0]["name"]}
    path = work / "grid.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def max_logit_difference(a: Path, b: Path) -> tuple[int, float]:
    """Cells common to both runs and the largest absolute difference of their stored scores."""
    worst, count = 0.0, 0
    for cell in sorted((a / "cells").glob("*.json")):
        other = b / "cells" / cell.name
        if not other.exists():
            raise ValueError(f"{other} is missing: the runs planned different cells")
        x, y = json.loads(cell.read_text())["logits"], json.loads(other.read_text())["logits"]
        for k in x:
            worst = max(worst, float(np.max(np.abs(np.asarray(x[k], float) - np.asarray(y[k], float)))))
        count += 1
    return count, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n", type=int, default=300, help="synthetic patients")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="setting names of the default config")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = grid_config(work, args.n, args.folds, tuple(args.settings))
        ensure_store(load_config(path))
        runs = {}
        for label, workers in (("serial", 1), (f"{args.workers} workers", args.workers)):
            cfg = load_config(path, [f"out_dir={work / f'out_{workers}'}"])
            start = time.perf_counter()
            summary = run_benchmark(cfg, progress=False, workers=workers)
            runs[label] = {"workers": workers, "cells": summary.trained, "seconds": time.perf_counter() - start}
        cells, diff = max_logit_difference(work / "out_1", work / f"out_{args.workers}")
    serial, parallel = runs["serial"]["seconds"], runs[f"{args.workers} workers"]["seconds"]
    print(f"grid: {len(args.settings)} settings x {args.folds} folds, n={args.n}, cores={os.cpu_count()}")
    print(f"{'run':<12} {'cells':>5} {'wall s':>8} {'s / cell':>9}")
    for label, r in runs.items():
        print(f"{label:<12} {r['cells']:>5} {r['seconds']:>8.1f} {r['seconds'] / max(r['cells'], 1):>9.1f}")
    print(f"speed-up {serial / parallel:.2f}x; {cells} cells compared, max |score difference| {diff:.2e}")
    print(json.dumps({"bench": "grid", "n": args.n, "folds": args.folds, "settings": args.settings,
                      "workers": args.workers, "cores": os.cpu_count(), "serial_s": round(serial, 2),
                      "parallel_s": round(parallel, 2), "speedup": round(serial / parallel, 3),
                      "cells": cells, "max_score_diff": diff, "python": platform.python_version()}))


if __name__ == "__main__":
    main()
