"""DP-SGD cost per encoder: step time and peak memory of DP (hooks / functorch / ghost) vs non-DP training.

Each step = forward + per-sample (DP) or mean (non-DP) loss + backward + optimizer step, at the same batch size.
Times are medians over interleaved repeats (every round times every variant once, so machine noise hits all of
them); peak memory is the peak growth of the resident set over 3 steps after building the model (sampled every
millisecond), in a fresh subprocess per (encoder, variant). Prints a table, then one JSON line.

    python scripts/bench_dp.py [--batch 32] [--repeats 7] [--encoders ecg_xresnet1d_small image_resnet18 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch
from torch import nn

from nextgen_ml.privacy.config import DPConfig
from nextgen_ml.privacy.engine import fill_missing_grads, make_private_parts
from nextgen_ml.privacy.objective import DPObjective
from nextgen_ml.registry import create_encoder
from nextgen_ml.tasks.tasks import RegressionTask

DEFAULT_ENCODERS = ["ecg_xresnet1d_small", "ecg_inception_small", "image_resnet18", "genomics_variant_embed",
                    "tabular_mlp", "text_transformer_small"]
VARIANTS = ["non_dp", "hooks", "functorch", "ghost"]


def make_input(name: str, batch: int) -> torch.Tensor:
    """A default-shaped batch: ECG 12x1000 (10 s at 100 Hz), 2-frame 64x64 cine, 256 variants, 12 tabular, 96 tokens."""
    g = torch.Generator().manual_seed(0)
    if name.startswith("ecg_"):
        return torch.randn(batch, 12, 1000, generator=g)
    if name.startswith("image_"):
        return torch.randn(batch, 2, 64, 64, generator=g)
    if name.startswith("genomics_"):
        return torch.randint(0, 3, (batch, 256), generator=g).float()
    if name.startswith("tabular_"):
        return torch.randn(batch, 12, generator=g)
    return torch.randint(1, 1500, (batch, 96), generator=g)


def build(name: str, variant: str, batch: int):
    """``step()`` closure for one (encoder, variant)."""
    torch.manual_seed(0)
    kwargs = {"n_variants": 256} if name.startswith("genomics_") else {}
    kwargs.update({"vocab_size": 1500} if name.startswith("text_") else {})
    kwargs.update({"cardinalities": [0] * 12} if name.startswith("tabular_") else {})
    enc = create_encoder(name, embed_dim=64, **kwargs)
    net = nn.Sequential(enc, nn.Linear(64, 1)).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x, y = make_input(name, batch), {"y": torch.randn(batch)}
    task = RegressionTask(target="y")
    if variant == "non_dp":
        def step() -> None:
            opt.zero_grad()
            task.loss(net(x), y).backward()
            opt.step()
        return step
    config = DPConfig(grad_sample_mode=variant)
    hooks, dp_opt = make_private_parts(net, opt, config, noise_multiplier=1.0, expected_batch_size=float(batch))
    params = [p for p in net.parameters() if p.requires_grad]
    objective = DPObjective(task, params, ghost=hooks if variant == "ghost" else None)

    def dp_step() -> None:
        if variant == "ghost":
            hooks.enable_hooks()
        dp_opt.zero_grad()
        objective(net(x), y).backward()
        fill_missing_grads(dp_opt, batch, ghost=variant == "ghost")
        dp_opt.step()
    return dp_step


def _rss_mb() -> float:
    """Current resident set size (MiB), from /proc (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def measure_peak(name: str, variant: str, batch: int, steps: int = 3) -> float:
    """Peak RSS growth (MiB) over ``steps`` training steps after building the model, sampled every millisecond."""
    step = build(name, variant, batch)
    base, peak, done = _rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    for _ in range(steps):
        step()
    done.set()
    thread.join()
    return max(peak[0], _rss_mb()) - base


def peak_memory_mb(name: str, variant: str, batch: int) -> float:
    """:func:`measure_peak` in a fresh process (the allocator keeps freed memory, so processes are not reused)."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_dp as b; "
            f"print(b.measure_peak({name!r}, {variant!r}, {batch}))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--encoders", nargs="+", default=DEFAULT_ENCODERS)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.encoders:
        steps = {}
        for v in VARIANTS:
            try:
                steps[v] = build(name, v, args.batch)
                steps[v]()  # warm-up
            except Exception as err:  # a mode Opacus cannot run for this encoder is reported, not hidden
                print(f"{name} {v}: {type(err).__name__}: {str(err)[:120]}", file=sys.stderr)
        times: dict[str, list[float]] = {v: [] for v in steps}
        failed: dict[str, str] = {}
        for _ in range(args.repeats):
            for v, step in steps.items():
                if v in failed:
                    continue
                t0 = time.perf_counter()
                try:
                    step()
                except Exception as err:  # e.g. ghost clipping refusing a module used twice per forward
                    failed[v] = f"{type(err).__name__}: {str(err)[:100]}"
                    print(f"{name} {v}: {failed[v]}", file=sys.stderr)
                    continue
                times[v].append(time.perf_counter() - t0)
        steps = {v: s for v, s in steps.items() if v not in failed}
        base = statistics.median(times["non_dp"])
        results[name] = {}
        for v in steps:
            med = statistics.median(times[v])
            entry = {"step_ms": 1000 * med, "ratio": med / base}
            if not args.no_memory:
                try:
                    entry["peak_mb"] = peak_memory_mb(name, v, args.batch)
                except subprocess.CalledProcessError as err:
                    print(f"{name} {v}: memory run failed: {err.stderr.strip().splitlines()[-1]}", file=sys.stderr)
            results[name][v] = entry
        dp_modes = [v for v in steps if v != "non_dp"]
        results[name]["best_mode"] = {"mode": min(dp_modes, key=lambda v: results[name][v]["ratio"])} if dp_modes \
            else {}
    print(f"{'encoder':<24} {'variant':<10} {'step ms':>9} {'x non-DP':>9} {'peak MiB':>9}")
    for name, res in results.items():
        for v in VARIANTS:
            if v in res:
                r = res[v]
                peak = r.get("peak_mb", float("nan"))
                print(f"{name:<24} {v:<10} {r['step_ms']:>9.1f} {r['ratio']:>9.2f} {peak:>9.1f}")
    summary = {"batch": args.batch, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
               "max_rss_kib_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "results": results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
