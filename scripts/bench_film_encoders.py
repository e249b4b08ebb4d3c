"""What FiLM inside the encoders costs: the default benchmark's ECG, image and tabular encoders fused by ``concat``
versus ``film_encoders`` (tabular conditioning ECG and image at every stage, combined by ``concat``).

``film_encoders`` is a fusion at the vector level (there it is its ``combine`` fusion), so its cost lives in the
encoders: the extra ``Linear(D_c, 2·C_s)`` per stage and one channel-wise multiply-add per stage output. Times are
the fastest of several runs of a whole ``MultimodalNet`` on one batch. Prints a table and, as the last line, one JSON
object.

    nice -n 10 python scripts/bench_film_encoders.py --batch-size 32 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from nextgen_ml.encoders.tabular import default_cardinalities
from nextgen_ml.models.builder import build_multimodal_net

DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "benchmark" / "default.yaml"


def best_ms(step: Callable[[], None], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench = yaml.safe_load(DEFAULT.read_text())
    encoders = {m: dict(bench["model"]["encoders"][m]) for m in ("ecg", "image", "tabular")}
    embed = int(bench["model"]["embed_dim"])
    cards = default_cardinalities()
    b = args.batch_size
    gen = torch.Generator().manual_seed(0)
    tab = torch.stack([torch.randn(b, generator=gen) if c == 0 else torch.randint(0, c, (b,), generator=gen).float()
                       for c in cards], dim=1)  # (B, P)
    inputs = {"ecg": torch.randn(b, 12, 250, generator=gen), "image": torch.randn(b, 2, 32, 32, generator=gen),
              "tabular": tab}
    mask = {m: torch.rand(b, generator=gen) > 0.2 for m in inputs}
    rows = []
    for fusion in ("concat", "film_encoders"):
        torch.manual_seed(0)
        net = build_multimodal_net(encoders, fusion, num_outputs=1, embed_dim=embed,
                                   modality_specs={"tabular": {"cardinalities": cards}})

        def forward(net=net) -> None:
            with torch.no_grad():
                net.eval()(inputs, mask)

        def forward_backward(net=net) -> None:
            net.train().zero_grad(set_to_none=True)
            net(inputs, mask)["logits"].square().mean().backward()

        film = sum(p.numel() for p in net.fusion.film.parameters()) if fusion == "film_encoders" else 0
        rows.append({"fusion": fusion, "params": sum(p.numel() for p in net.parameters()), "film_params": film,
                     "forward_ms": round(best_ms(forward, args.warmup, args.repeats), 2),
                     "forward_backward_ms": round(best_ms(forward_backward, args.warmup, args.repeats), 2)})
    ref = rows[0]
    print(f"{'net (ecg+image+tabular)':<26} {'params':>10} {'FiLM params':>12} {'fwd ms':>8} {'fwd+bwd ms':>11}")
    for r in rows:
        r["forward_vs_concat"] = round(r["forward_ms"] / ref["forward_ms"], 3)
        r["forward_backward_vs_concat"] = round(r["forward_backward_ms"] / ref["forward_backward_ms"], 3)
        print(f"{r['fusion']:<26} {r['params']:>10,} {r['film_params']:>12,} {r['forward_ms']:>8} "
              f"{r['forward_backward_ms']:>11}")
    print(json.dumps({"bench": "film_encoders", "batch_size": b, "threads": args.threads, "embed_dim": embed,
                      "encoders": encoders, "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                      f"torch {torch.__version__}", "results": rows}))


if __name__ == "__main__":
    main()
