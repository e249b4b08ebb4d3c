"""Cost of the secure DP randomness: ChaCha20 noise and Poisson masks vs torch's generator.

For each size: the time to draw one step's Gaussian noise for a model of ``n`` parameters (float32) with the
secure generator (:class:`nextgen_ml.privacy.csprng.KeyStream`: keystream + float64 Box–Muller + cast) and with
``torch.normal`` (Mersenne/Philox, what Opacus uses without ``secure_mode``), and one Poisson mask over ``n``
records (secure vs ``torch.rand(n) < q``). Interleaved repeats; the table and ratios use the fastest repeat (the
intrinsic cost on a shared machine; medians are in the JSON too). Prints a table, then one JSON line.

    python scripts/bench_csprng.py [--sizes 100000 1000000 10000000] [--repeats 5] [--device cpu] [--threads N]

``--threads`` sets torch's intra-op threads (default: torch's); on an oversubscribed machine the float64
elementwise ops of the secure path stall on descheduled worker threads, so compare ``--threads 1`` too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import torch

from nextgen_ml.privacy.csprng import NOISE, SecureGenerator


def _time(fn: Callable[[], torch.Tensor], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bench(n: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Fastest and median milliseconds of each draw for size ``n``, and the ratios secure / torch (fastest)."""
    gen, torch_gen = SecureGenerator(), torch.Generator(device=device).manual_seed(0)
    variants: dict[str, Callable[[], torch.Tensor]] = {
        "noise_secure": lambda: gen.stream(NOISE, 0).normal((n,), 1.0, device, torch.float32),
        "noise_torch": lambda: torch.normal(0.0, 1.0, (n,), device=device, generator=torch_gen),
        "mask_secure": lambda: gen.poisson_mask(0, n, 0.01),
        "mask_torch": lambda: torch.rand(n, generator=torch.Generator().manual_seed(0)) < 0.01,
    }
    for fn in variants.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items():
            times[k].append(_time(fn, device))
    out = {f"{k}_ms": 1000 * min(v) for k, v in times.items()}
    out.update({f"{k}_median_ms": 1000 * statistics.median(v) for k, v in times.items()})
    out["noise_ratio"] = out["noise_secure_ms"] / out["noise_torch_ms"]
    out["mask_ratio"] = out["mask_secure_ms"] / out["mask_torch_ms"]
    out["keystream_mb_per_s"] = 8 * n / 1e6 / (out["noise_secure_ms"] / 1000)  # 8 bytes per normal
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = {str(n): bench(n, args.repeats, device) for n in args.sizes}
    print(f"{'n':>10} {'noise secure ms':>16} {'torch ms':>9} {'x':>6} {'mask secure ms':>15} {'torch ms':>9} {'x':>6}")
    for n, r in results.items():
        print(f"{n:>10} {r['noise_secure_ms']:>16.2f} {r['noise_torch_ms']:>9.2f} {r['noise_ratio']:>6.1f} "
              f"{r['mask_secure_ms']:>15.2f} {r['mask_torch_ms']:>9.2f} {r['mask_ratio']:>6.1f}")
    print(json.dumps({"device": str(device), "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
                      "load_1min": os.getloadavg()[0], "results": results}))


if __name__ == "__main__":
    main()
