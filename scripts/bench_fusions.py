"""Parameters, CPU time and memory of every registered fusion on one batch, with ratios to ``concat``.

Every fusion is built with its registry defaults over the same modalities and feature widths (vectors ``(B, D)``
or ``(B, T, D)`` tokens, as the fusion declares), with about 20% of the modalities absent per row. The graph
fusion's memory bank is filled with training-mode batches first, so it attends over a full bank. Times are the
fastest of several runs (see :func:`best_ms`). Memory is what a training step holds beyond the inputs: the bytes of
the tensors autograd saves for the backward pass (unique storages, see :func:`saved_activation_bytes`), which is
exact and independent of the machine's load, plus the parameters and their gradients. Prints a readable table
and, as the last line, one JSON object with every figure.

    python scripts/bench_fusions.py --batch-size 64 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import torch
from torch import nn

from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.fusion import DP_REFUSED
from nextgen_ml.registry import create_fusion, list_fusions


def make_batch(fusion: nn.Module, batch: int, dim: int, tokens: int, seed: int = 0) -> tuple[dict, dict]:
    """Features for every modality of ``fusion`` and masks with ~20% absent (at least one modality per row)."""
    gen = torch.Generator().manual_seed(seed)
    names = list(fusion.in_dims)
    feats = {m: torch.randn((batch, tokens, dim) if fusion.uses_tokens else (batch, dim), generator=gen) for m in names}
    present = torch.rand(batch, len(names), generator=gen) > 0.2  # (B, M)
    present[:, 0] |= ~present.any(dim=1)
    return feats, {m: present[:, j] for j, m in enumerate(names)}


def best_ms(step: Callable[[], None], warmup: int, repeats: int, min_seconds: float = 0.5) -> float:
    """Fastest of at least ``repeats`` timed runs (more, up to 200, until ``min_seconds`` have passed): on a
    machine shared with other jobs the minimum is the least contended estimate of the cost."""
    for _ in range(warmup):
        step()
    times: list[float] = []
    while len(times) < repeats or (sum(times) < min_seconds * 1000 and len(times) < 200):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def saved_activation_bytes(step: Callable[[], torch.Tensor]) -> int:
    """Bytes of the distinct tensor storages autograd saves during ``step()`` (a training forward) for backward.

    Inputs and parameters that are saved count too only if the step created them; leaf tensors (parameters, the
    batch) are excluded, so the figure is the activation memory a training step adds per batch.
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not (t.is_leaf or isinstance(t, nn.Parameter)):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def bench_one(name: str, batch: int, dim: int, tokens: int, warmup: int, repeats: int) -> dict:
    torch.manual_seed(0)
    fusion = create_fusion(name, in_dims=dict.fromkeys(MODALITIES, dim))
    feats, mask = make_batch(fusion, batch, dim, tokens)
    if name == "graph":  # fill the training-patient bank so the timing covers a full graph
        with torch.no_grad():
            for seed in range(1, fusion.memory.bank.shape[0] // batch + 2):
                fusion.train()(*make_batch(fusion, batch, dim, tokens, seed))

    # a training forward of the graph fusion writes its bank: restore the filled bank after each timed step
    bank = {k: v.clone() for k, v in fusion.memory.state_dict().items()} if name == "graph" else None

    def forward() -> None:
        with torch.no_grad():
            fusion(feats, mask)

    def training_loss() -> torch.Tensor:
        """A training step's loss; a fusion's own auxiliary loss (the subspace ELBO) is part of it, as in training."""
        if hasattr(fusion, "forward_with_aux"):
            out, aux = fusion.forward_with_aux(feats, mask)
            return out.square().mean() + aux["loss"].mean()
        return fusion(feats, mask).square().mean()

    def forward_backward() -> None:
        fusion.zero_grad(set_to_none=True)
        training_loss().backward()
        if bank is not None:
            fusion.memory.load_state_dict(bank)

    fusion.eval()
    fwd = best_ms(forward, warmup, repeats)
    fusion.train()
    fwd_bwd = best_ms(forward_backward, warmup, repeats)
    activations = saved_activation_bytes(training_loss)
    if bank is not None:
        fusion.memory.load_state_dict(bank)
    n_params = sum(p.numel() for p in fusion.parameters())
    return {
        "name": name,
        "uses_tokens": bool(fusion.uses_tokens),
        "out_dim": int(fusion.out_dim),
        "params": n_params,
        "activation_mb": round(activations / 2**20, 2),
        "params_and_grads_mb": round(2 * 4 * n_params / 2**20, 2),
        "forward_ms": round(fwd, 2),
        "forward_backward_ms": round(fwd_bwd, 2),
        "dp": "refused" if name in DP_REFUSED else "yes",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dim", type=int, default=128, help="feature width of every modality")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per modality for token fusions")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in list_fusions():
        rows.append(bench_one(name, args.batch_size, args.dim, args.tokens, args.warmup, args.repeats))
        print(f"  {name}: {rows[-1]['forward_ms']} ms", flush=True)
    ref = next(r for r in rows if r["name"] == "concat")
    for r in rows:
        r["params_vs_concat"] = round(r["params"] / ref["params"], 2)
        r["forward_vs_concat"] = round(r["forward_ms"] / ref["forward_ms"], 2)
        r["activation_vs_concat"] = round(r["activation_mb"] / ref["activation_mb"], 2)
    rows.sort(key=lambda r: r["forward_ms"])
    header = (
        f"{'fusion':<22} {'input':<7} {'params':>11} {'x concat':>9} {'fwd ms':>9} {'x concat':>9} "
        f"{'fwd+bwd ms':>11} {'act. MB':>8} {'x concat':>9} {'DP':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        kind = "tokens" if r["uses_tokens"] else "vectors"
        print(
            f"{r['name']:<22} {kind:<7} {r['params']:>11,} {r['params_vs_concat']:>9} {r['forward_ms']:>9} "
            f"{r['forward_vs_concat']:>9} {r['forward_backward_ms']:>11} {r['activation_mb']:>8} "
            f"{r['activation_vs_concat']:>9} {r['dp']:>8}"
        )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, torch.set_num_threads({args.threads}), "
        f"torch {torch.__version__}, Python {platform.python_version()}"
    )
    command = (
        f"python scripts/bench_fusions.py --batch-size {args.batch_size} --dim {args.dim} "
        f"--tokens {args.tokens} --warmup {args.warmup} --repeats {args.repeats} --threads {args.threads}"
    )
    print(
        json.dumps(
            {
                "command": command,
                "machine": machine,
                "batch_size": args.batch_size,
                "modalities": list(MODALITIES),
                "dim": args.dim,
                "tokens": args.tokens,
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
