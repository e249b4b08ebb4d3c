"""Peak resident memory and time of one whole benchmark cell per setting, each in a fresh process.

A benchmark worker runs many cells, so its high-water mark cannot be split by cell. Here every setting's cell
(repeat 0, fold 0: fit + evaluation with the config's robustness conditions and attribution) runs alone in its own
``python scripts/bench_cell_memory.py --child SETTING`` process, which reports the kernel's high-water mark of its
resident set (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). A "data only" child loads the same fold (imports,
store, transforms, every setting's modalities) and fits nothing: the difference is what the cell itself adds.
Prints a readable table and, as its last line, one JSON object with every figure (ratios to ``concat``).

    python scripts/bench_cell_memory.py --config configs/benchmark/all_fusions.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_ONLY = "(data only)"


def child(config: str, setting_name: str, fold: int) -> dict:
    """Run one cell (or only load its fold for :data:`DATA_ONLY`) in this process and measure it."""
    import torch

    from nextgen_ml.benchmark.cell import run_cell
    from nextgen_ml.benchmark.config import load_config
    from nextgen_ml.benchmark.data import FoldData
    from nextgen_ml.benchmark.folds import ensure_store, fold_labels, make_folds, store_meta

    torch.set_num_threads(1)
    cfg = load_config(config, [])
    ensure_store(cfg)
    meta = store_meta(cfg.data.data_dir)
    folds = make_folds(cfg, meta, cfg.cv.seeds[0])
    modalities = sorted({m for s in cfg.settings for m in s.modalities})
    data = FoldData(cfg, folds[fold], modalities, seed=cfg.cv.seeds[0] * 1000 + fold)
    labels = fold_labels(cfg, meta, data.index["test"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux reports KiB)
    out = {"setting": setting_name, "data_mb": round(before, 1), "fit_s": 0.0, "eval_s": 0.0}
    if setting_name != DATA_ONLY:
        setting = next((s for s in cfg.settings if s.name == setting_name), None)
        if setting is None:
            raise SystemExit(f"--child: no setting {setting_name!r} in {config}; "
                             f"settings: {[s.name for s in cfg.settings]}")
        result = run_cell(cfg, setting, data, meta, labels, cfg.cv.seeds[0], fold, "memory")
        out.update(fusion=setting.fusion if isinstance(setting.fusion, str) else setting.fusion["name"],
                   fit_s=round(result["fit_seconds"], 2), eval_s=round(result["eval_seconds"], 2))
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_child(config: str, setting: str, fold: int) -> dict:
    """One fresh process for ``setting``; its JSON line."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--config", config, "--fold", str(fold), "--child", setting],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"setting {setting!r} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_s"] = round(time.perf_counter() - start, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/benchmark/all_fusions.yaml")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--settings", nargs="*", help="setting names (default: every setting of the config)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.config, args.child, args.fold)))
        return
    from nextgen_ml.benchmark.config import load_config

    names = args.settings or [s.name for s in load_config(args.config, []).settings]
    rows = []
    for name in [DATA_ONLY, *names]:
        rows.append(run_child(args.config, name, args.fold))
        print(f"  {name}: peak {rows[-1]['peak_mb']} MiB ({rows[-1]['process_s']} s)", flush=True)
    floor = rows[0]["peak_mb"]
    for r in rows:
        r["cell_mb"] = round(r["peak_mb"] - floor, 1)
    ref = next((r for r in rows if r["setting"] == "concat"), None)
    for r in rows[1:]:
        r["cell_vs_concat"] = round(r["cell_mb"] / ref["cell_mb"], 2) if ref and ref["cell_mb"] > 0 else None
    print(f"{'setting':<24} {'peak MiB':>9} {'cell MiB':>9} {'x concat':>9} {'fit s':>7} {'eval s':>7}")
    for r in sorted(rows, key=lambda r: r["peak_mb"]):
        ratio = "" if r.get("cell_vs_concat") is None else f"{r['cell_vs_concat']:.2f}"
        print(f"{r['setting']:<24} {r['peak_mb']:>9.1f} {r['cell_mb']:>9.1f} {ratio:>9} {r['fit_s']:>7.2f} "
              f"{r['eval_s']:>7.2f}")
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, 1 torch thread, Python {platform.python_version()}"
    print(json.dumps({"command": f"python scripts/bench_cell_memory.py --config {args.config} --fold {args.fold}",
                      "machine": machine, "data_only_mb": floor, "results": rows}))


if __name__ == "__main__":
    main()
