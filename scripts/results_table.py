"""Train every single-modality and every fusion experiment with `python train.py` and tabulate test metrics.

    python scripts/results_table.py --out outputs/results_table [--seed 0] [-- extra hydra overrides]

Each experiment runs as its own `python train.py +experiment=NAME seed=S hydra.run.dir=OUT/NAME` process on the
default synthetic cohort (the store is generated once and reused). Finished experiments (with a metrics.json) are
not re-run. Prints a Markdown table and, as the last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ["ecg_only", "genomics_only", "image_only", "tabular_only", "text_only"]
FUSION = ["fusion_concat", "fusion_late", "fusion_gated", "fusion_bottleneck", "fusion_cross_attention"]
#: the sensor modalities (not in the default run: ``--experiments ... heart_sound_only wearable_only all_modalities``)
SENSOR = ["heart_sound_only", "wearable_only", "all_modalities"]
LABEL = {**{n: n.removesuffix("_only") for n in SINGLE + SENSOR[:2]}, **{n: "all five" for n in FUSION},
         "all_modalities": "all seven"}


def run(name: str, out: Path, seed: int, extra: list[str]) -> tuple[dict[str, float], float]:
    run_dir = out / name
    metrics_file = run_dir / "metrics.json"
    if metrics_file.exists():
        return json.loads(metrics_file.read_text()), float("nan")
    cmd = [sys.executable, "train.py", f"+experiment={name}", f"seed={seed}", f"hydra.run.dir={run_dir}",
           "callbacks.progress_bar.refresh_rate=0", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(metrics_file.read_text()), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "results_table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--experiments", nargs="*", default=SINGLE + FUSION,
                    help=f"experiments to run (default: the single modalities and fusions; also {SENSOR})")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = ap.parse_args()
    results = {}
    for name in args.experiments:
        metrics, secs = run(name, args.out, args.seed, args.overrides)
        results[name] = {"test/auroc": metrics["test/auroc"], "test/auprc": metrics["test/auprc"],
                         "val/auroc": metrics["val/auroc"], "seconds": secs}
        print(f"{name:<24} test AUROC {metrics['test/auroc']:.3f}  ({secs:.0f} s)", flush=True)
    singles = [n for n in SINGLE if n in results] or list(results)
    best_single = max(singles, key=lambda n: results[n]["test/auroc"])
    print("\n| experiment | modalities | test AUROC | test AUPRC | val AUROC | wall s |")
    print("|---|---|---|---|---|---|")
    for name in results:
        r = results[name]
        mods = LABEL.get(name, name)
        print(f"| `{name}` | {mods} | {r['test/auroc']:.3f} | {r['test/auprc']:.3f} | {r['val/auroc']:.3f} | "
              f"{r['seconds']:.0f} |")
    summary = {
        "best_single": best_single,
        "best_single_auroc": results[best_single]["test/auroc"],
        **{f"{n}_auroc": round(results[n]["test/auroc"], 4) for n in results},
        **{f"{n}_gain_vs_best_single": round(results[n]["test/auroc"] - results[best_single]["test/auroc"], 4)
           for n in [*FUSION, "all_modalities"] if n in results},
    }
    if {"all_modalities", "fusion_cross_attention"} <= set(results):  # what heart sounds + wearables add
        summary["all_modalities_gain_vs_fusion_cross_attention"] = round(
            results["all_modalities"]["test/auroc"] - results["fusion_cross_attention"]["test/auroc"], 4)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
