"""Parameter count and CPU forward+backward time of every registered encoder and fusion.

Encoders are built with their default builder arguments and timed on a realistic small batch (ECG 12×1000,
cine image 2×64×64, ...). Fusions are built over every modality with 128-d features (or 128-d token sequences).
Prints a readable table, writes the markdown table to ``docs/models.md`` and prints one JSON object with every
figure as the last line.

    python scripts/bench_models.py --threads 2 --output docs/models.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.registry import (
    ENCODERS,
    FUSIONS,
    create_encoder,
    create_fusion,
    encoder_modality,
    list_encoders,
    list_fusions,
)


def _ecg(enc: nn.Module, b: int) -> Tensor:
    return torch.randn(b, 12, 1000)  # (B, L, T): 10 s at 100 Hz


def _image(enc: nn.Module, b: int) -> Tensor:
    return torch.randn(b, 2, 64, 64)  # (B, F, H, W): two cine frames as channels


def _genomics(enc: nn.Module, b: int) -> Tensor:
    n_variants = int(getattr(enc, "n_variants", 64))
    return torch.randint(0, 3, (b, n_variants)).float()  # (B, V) dosages


def _tabular(enc: nn.Module, b: int) -> Tensor:
    from nextgen_ml.encoders.tabular import default_cardinalities

    cols = [torch.randn(b) if c == 0 else torch.randint(0, c, (b,)).float() for c in default_cardinalities()]
    return torch.stack(cols, dim=1)  # (B, P)


def _text(enc: nn.Module, b: int) -> Tensor:
    vocab = int(getattr(enc, "vocab_size", 1000))
    return torch.randint(1, vocab, (b, 128))  # (B, N) token ids


def _heart_sound(enc: nn.Module, b: int) -> Tensor:
    return torch.randn(b, 4, 4000)  # (B, S, N): 4 auscultation sites, 4 s at 1 kHz


def _wearable(enc: nn.Module, b: int) -> Tensor:
    signals = torch.randn(b, 3, 1440)  # (B, C, T): 24 h of one-minute bins
    observed = (torch.rand(b, 3, 1440) > 0.2).float()  # observation masks (gaps = 0)
    hours = torch.arange(1440) / 60
    clock = torch.stack([torch.sin(2 * torch.pi * hours / 24), torch.cos(2 * torch.pi * hours / 24)])
    return torch.cat([signals * observed, observed, clock.expand(b, 2, 1440)], dim=1)  # (B, 2C + 2, T)


#: modality → ``(encoder, batch) -> example input``.
EXAMPLE_INPUTS: dict[str, Callable[[nn.Module, int], Tensor]] = {
    "ecg": _ecg, "image": _image, "genomics": _genomics, "tabular": _tabular, "text": _text,
    "heart_sound": _heart_sound, "wearable": _wearable,
}



def summary(builder: Callable) -> str:
    """First line of a builder's docstring."""
    lines = (builder.__doc__ or "").strip().splitlines()
    first = re.sub(r"\s*\(see :\w+:`[^`]*`\)|\.?\s*Args as :\w+:`[^`]*`", "", lines[0]) if lines else ""
    return first.replace("``", "`").replace("|", "/").rstrip(".")


def n_params(module: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    params = list(module.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def time_fwd_bwd(step: Callable[[], Tensor], warmup: int, repeats: int) -> float:
    """Median seconds of ``step()`` (forward) + backward of its sum, after ``warmup`` untimed runs."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        out = step()
        if out.requires_grad:
            out.float().sum().backward()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_encoders(batch: int, warmup: int, repeats: int) -> list[dict]:
    rows = []
    for name in list_encoders():
        modality = encoder_modality(name)
        try:
            enc = create_encoder(name)
        except (ImportError, OSError) as err:  # optional extras (e.g. text_minilm's weights package)
            rows.append({"kind": "encoder", "name": name, "about": summary(ENCODERS._builders[name]),
                         "skipped": f"{type(err).__name__}: {err}"})
            continue
        x = EXAMPLE_INPUTS[modality](enc, batch)
        total, trainable = n_params(enc.train())
        sec = time_fwd_bwd(lambda enc=enc, x=x: enc(x), warmup, repeats)
        rows.append({"kind": "encoder", "name": name, "about": summary(ENCODERS._builders[name]),
                     "input": list(x.shape), "out_dim": int(enc.out_dim),
                     "params": total, "trainable": trainable, "ms": round(sec * 1000, 1)})
        print(f"  {name}: {rows[-1]['ms']} ms", flush=True)
    return rows


def bench_fusions(batch: int, dim: int, tokens: int, warmup: int, repeats: int) -> list[dict]:
    rows = []
    in_dims = dict.fromkeys(MODALITIES, dim)
    mask = {m: torch.rand(batch) > 0.2 for m in MODALITIES}
    for name in list_fusions():
        fusion = create_fusion(name, in_dims=in_dims, embed_dim=dim).train()
        shape = (batch, tokens, dim) if fusion.uses_tokens else (batch, dim)
        feats = {m: torch.randn(shape) for m in MODALITIES}
        total, trainable = n_params(fusion)
        sec = time_fwd_bwd(lambda f=fusion, x=feats: f(x, mask), warmup, repeats)
        rows.append({"kind": "fusion", "name": name, "about": summary(FUSIONS._builders[name]),
                     "input": f"{len(MODALITIES)} × {list(shape)}", "out_dim": int(fusion.out_dim),
                     "params": total, "trainable": trainable, "ms": round(sec * 1000, 1)})
        print(f"  {name}: {rows[-1]['ms']} ms", flush=True)
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ["| kind | name | what | input (B first) | out_dim | params | trainable | fwd+bwd ms/batch |",
             "|---|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['kind']} | `{r['name']}` | {r['about']} | skipped: {r['skipped']} | | | | |")
        else:
            lines.append(f"| {r['kind']} | `{r['name']}` | {r['about']} | {r['input']} | {r['out_dim']} | "
                         f"{r['params']:,} | {r['trainable']:,} | {r['ms']} |")
    return lines


def hand_written_rest(path: Path) -> str:
    """What follows the generated table in an existing ``path``: from its first ``## `` section on (kept as is)."""
    if not path.exists():
        return ""
    text = path.read_text()
    start = text.find("\n## ")
    return "" if start < 0 else text[start:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--fusion-dim", type=int, default=128)
    parser.add_argument("--fusion-tokens", type=int, default=32, help="tokens per modality for token fusions")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="docs/models.md", help="markdown file to write ('' = none)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(f"encoders (B={args.batch_size}):", flush=True)
    rows = bench_encoders(args.batch_size, args.warmup, args.repeats)
    print(f"fusions (B={args.batch_size}, 5 modalities, {args.fusion_dim}-d, {args.fusion_tokens} tokens):", flush=True)
    rows += bench_fusions(args.batch_size, args.fusion_dim, args.fusion_tokens, args.warmup, args.repeats)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
               f"torch.set_num_threads({torch.get_num_threads()}), torch {torch.__version__}, "
               f"Python {platform.python_version()}")
    command = (f"python scripts/bench_models.py --batch-size {args.batch_size} --fusion-dim {args.fusion_dim} "
               f"--fusion-tokens {args.fusion_tokens} --warmup {args.warmup} --repeats {args.repeats} "
               f"--threads {args.threads}")
    lines = table(rows)
    print("\n".join(lines))
    if args.output:
        doc = [
            "# Models: encoders and fusions",
            "",
            "Parameter counts and CPU time of one forward + backward pass per batch (median of "
            f"{args.repeats} runs after {args.warmup} warm-up runs), produced by `scripts/bench_models.py`.",
            f"Encoders use their builder defaults; fusions are built over the {len(MODALITIES)} modalities "
            f"({', '.join(MODALITIES)}) with {args.fusion_dim}-d features, {args.fusion_tokens} tokens per modality "
            "for token fusions, and about 20% of modalities absent per row.",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {machine}. Wall-clock times on a shared machine: compare within a table, not across runs.",
            "",
            *lines,
            "",
        ]
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(doc) + hand_written_rest(out))
    print(json.dumps({"command": command, "machine": machine, "batch_size": args.batch_size, "results": rows}))


if __name__ == "__main__":
    main()
