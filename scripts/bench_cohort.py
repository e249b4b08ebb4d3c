"""Benchmark the cohort generator: patients/s per modality stage, MACE prevalence and oracle AUROCs.

Usage: ``python scripts/bench_cohort.py [--n 2000] [--fs 500] [--image-size 64]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time

from nextgen_ml.data.cohort import CohortConfig, generate_cohort
from nextgen_ml.data.cohort.oracle import oracle_aurocs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fs", type=float, default=500.0)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    config = CohortConfig(ecg_fs_hz=args.fs, image_size=args.image_size)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    cohort = generate_cohort(args.n, seed=args.seed, config=config, timings=timings)
    total = time.perf_counter() - start
    print(f"{'stage':<10} {'seconds':>8} {'patients/s':>11}")
    for stage, sec in timings.items():
        print(f"{stage:<10} {sec:8.2f} {args.n / sec:11.0f}")
    print(f"{'total':<10} {total:8.2f} {args.n / total:11.0f}")
    auc = oracle_aurocs(cohort.latent, cohort.latent["mace"].to_numpy())
    print("oracle MACE AUROC (5-fold logistic regression on latent-derived features): "
          + ", ".join(f"{k} {v:.3f}" for k, v in auc.items()))
    result = {
        "n": args.n, "ecg_fs_hz": args.fs, "image_size": args.image_size, "seconds_total": round(total, 2),
        "patients_per_s": round(args.n / total, 1),
        "stage_patients_per_s": {k: round(args.n / v, 1) for k, v in timings.items()},
        "mace_prevalence": round(float(cohort.latent["mace"].mean()), 4),
        "oracle_auroc": {k: round(v, 4) for k, v in auc.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
