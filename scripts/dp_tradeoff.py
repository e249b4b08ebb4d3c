"""Privacy-utility trade-off: train the default experiment at several ε (and without DP), plot test AUROC vs ε.

Each point is one ``train(cfg)`` of the real composed config (``configs/train.yaml``: all modalities,
cross-attention fusion, MACE) with ``privacy=dp privacy.target_epsilon=ε`` (ε = inf: ``privacy=none``). The
default here is a reduced setting that fits a 2-core CPU: a 400-patient cohort (5 sites) with 32x32 cine, text
max_len 64, embed_dim 32, 3 epochs, batch 64 (pass ``--overrides`` for others, e.g. ``--overrides plots=false``
for the full default). Writes docs/figures/dp_tradeoff.png, prints a table and one JSON line.

    python scripts/dp_tradeoff.py [--epsilons 1 3 8 inf] [--seeds 0] [--out outputs/dp_tradeoff]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import open_dict  # noqa: E402

from nextgen_ml.training import resolvers  # noqa: E402,F401
from nextgen_ml.training.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REDUCED = ["data.cohort.n=400", "data.cohort.config.image_size=32", "data.transforms.image.size=32",
           "data.transforms.text.max_len=64", "model.embed_dim=32", "trainer.max_epochs=3", "plots=false",
           "audit_log=null"]


def run(epsilon: float, seed: int, overrides: list[str], out: Path) -> dict[str, float]:
    """One training run at ``epsilon`` (inf = no DP); returns its metrics."""
    privacy = ["privacy=none"] if math.isinf(epsilon) else ["privacy=dp", f"privacy.target_epsilon={epsilon}"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, *privacy, f"seed={seed}"], return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.paths.output_dir = str(out / f"eps_{epsilon}_seed_{seed}")
    return train(cfg)


def plot(rows: list[dict[str, float]], path: Path) -> None:
    finite = sorted({r["epsilon"] for r in rows if math.isfinite(r["epsilon"])})
    x_inf = max(finite) * 4 if finite else 1.0
    fig, ax = plt.subplots(figsize=(5, 3.5))
    xs = [r["epsilon"] if math.isfinite(r["epsilon"]) else x_inf for r in rows]
    ax.scatter(xs, [r["test_auroc"] for r in rows], color="C0", zorder=3)
    means = {}
    for x, r in zip(xs, rows):
        means.setdefault(x, []).append(r["test_auroc"])
    mx = sorted(means)
    ax.plot(mx, [sum(means[x]) / len(means[x]) for x in mx], color="C0")
    ax.set_xscale("log")
    ax.set_xticks(finite + [x_inf], [f"{e:g}" for e in finite] + ["∞\n(no DP)"])
    ax.set_xlabel("target ε (δ = 1/(10·N))")
    ax.set_ylabel("test AUROC (MACE)")
    ax.set_title("DP-SGD privacy-utility trade-off")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 3.0, 8.0, math.inf])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--overrides", nargs="*", default=REDUCED)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "dp_tradeoff")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "dp_tradeoff.png")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        for eps in args.epsilons:
            m = run(eps, seed, list(args.overrides), args.out)
            rows.append({"epsilon": eps, "seed": seed, "test_auroc": m["test/auroc"],
                         "epsilon_spent": m.get("privacy/epsilon", math.inf),
                         "noise_multiplier": m.get("privacy/noise_multiplier", 0.0),
                         "steps": m.get("privacy/steps", 0.0)})
    plot(rows, args.figure)
    print(f"{'target ε':>9} {'seed':>5} {'ε spent':>8} {'σ':>7} {'steps':>6} {'test AUROC':>11}")
    for r in rows:
        print(f"{r['epsilon']:>9g} {r['seed']:>5d} {r['epsilon_spent']:>8.3f} {r['noise_multiplier']:>7.3f} "
              f"{r['steps']:>6g} {r['test_auroc']:>11.4f}")
    print(f"figure: {args.figure}")
    print(json.dumps({"overrides": args.overrides, "rows": [{k: (str(v) if isinstance(v, float) and math.isinf(v)
                                                                  else v) for k, v in r.items()} for r in rows]}))


if __name__ == "__main__":
    main()
