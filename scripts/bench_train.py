"""Framework tax: the same model trained through nextgen_ml (Lightning) and through a hand-written PyTorch loop.

Both variants train the default all-modality model (``build_net`` from the composed ``configs/train.yaml``) on the
same ``CardioDataModule`` train loader, with the same optimizer and LR schedule, for the same number of steps:

* ``framework``: ``MultimodalModule`` + the ``lightning.pytorch.Trainer`` built from the config (default callbacks:
  checkpointing, progress bar, LR monitor; CSV logger), timed around ``trainer.fit`` (so its setup, logging and
  checkpoint writing are included); validation is off (``limit_val_batches=0``) as the loop does not validate;
* ``loop``: ``for batch in loader: forward, task loss, backward, optimizer step`` (+ the scheduler per epoch).

Repeats are interleaved (framework, loop, framework, loop, ...) so that load from other processes hits both, and
the loader alone (iterating the train DataLoader without a model) is measured in the same rounds. Prints a table;
the last line is one JSON object (samples/s, records/s, the framework/loop ratio and overhead).

    python scripts/bench_train.py --steps 20 --repeats 3                       # CPU
    python scripts/bench_train.py --device cuda --workers 8 --steps 100        # GPU: bf16 autocast, pinned memory
    python scripts/bench_train.py --device cuda --compile --channels-last      # + torch.compile, NHWC convolutions
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.training import resolvers  # noqa: F401  (registers ${join:...})
from nextgen_ml.training.factory import build_datamodule, build_module, build_net, build_task, build_trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def compose_config(overrides: Sequence[str]) -> DictConfig:
    """``configs/train.yaml`` composed with ``overrides`` as ``python train.py`` would (without running Hydra)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def device_overrides(device: str, workers: int) -> list[str]:
    """Config overrides for a CPU or a CUDA run (bf16 autocast, pinned memory and workers on CUDA)."""
    common = [f"data.num_workers={workers}", "trainer.limit_val_batches=0", "trainer.num_sanity_val_steps=0"]
    if device == "cuda":
        return ["trainer=gpu", "data.pin_memory=true", *common]
    return common


def samples_for_steps(n_train: int, batch_size: int, steps: int) -> int:
    """Samples seen in ``steps`` optimizer steps over a shuffled loader of ``n_train`` records (``drop_last=False``)."""
    per_epoch = -(-n_train // batch_size)
    epochs, rest = divmod(steps, per_epoch)
    return epochs * n_train + min(rest * batch_size, n_train)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested) batch to ``device`` (non-blocking from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _batches(loader: torch.utils.data.DataLoader, steps: int) -> Iterator[tuple[int, Any]]:
    """``(epoch, batch)`` for ``steps`` batches, restarting the loader at each epoch end."""
    done, epoch = 0, 0
    while done < steps:
        for batch in loader:
            yield epoch, batch
            done += 1
            if done == steps:
                return
        epoch += 1


def prepare_net(cfg: DictConfig, dm: CardioDataModule, channels_last: bool, compile_net: bool) -> torch.nn.Module:
    """The configured ``MultimodalNet`` (seeded), optionally channels-last and ``torch.compile``-d."""
    torch.manual_seed(cfg.seed)
    net = build_net(cfg.model, dm.modalities, dm.modality_specs, build_task(cfg.task, dm.dictionary).num_outputs)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return torch.compile(net) if compile_net else net


def reset(net: torch.nn.Module, initial: dict[str, torch.Tensor]) -> torch.nn.Module:
    """Put the shared net back to its initial weights (one net for every run: ``torch.compile`` compiles once)."""
    net.load_state_dict(initial)
    return net


def run_loop(cfg: DictConfig, dm: CardioDataModule, net: torch.nn.Module, initial: dict[str, torch.Tensor],
             steps: int, device: str) -> float:
    """Train with a minimal hand-written loop; returns seconds for ``steps`` steps."""
    dev = torch.device(device)
    torch.use_deterministic_algorithms(bool(cfg.trainer.get("deterministic", False)))
    task = build_task(cfg.task, dm.dictionary)
    net = reset(net, initial).to(dev).train()
    optimizer = hydra.utils.instantiate(cfg.optimizer)(net.parameters())
    scheduler = hydra.utils.instantiate(cfg.scheduler)(optimizer) if cfg.get("scheduler") else None
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" and "bf16" in
                str(cfg.trainer.get("precision", "")) else contextlib.nullcontext())
    loader = dm.train_dataloader()
    _sync(dev)
    t0 = time.perf_counter()
    last_epoch = 0
    for epoch, batch in _batches(loader, steps):
        if epoch != last_epoch and scheduler is not None:
            scheduler.step()
        last_epoch = epoch
        batch = to_device(batch, dev)
        with autocast:
            out = net(batch["inputs"], batch["mask"])
            loss = task.loss(out["logits"], batch["targets"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(dev)
    return time.perf_counter() - t0


def run_framework(cfg: DictConfig, dm: CardioDataModule, net: torch.nn.Module, initial: dict[str, torch.Tensor],
                  steps: int) -> float:
    """Train through ``MultimodalModule`` + the configured Trainer (callbacks, logger); returns seconds."""
    with tempfile.TemporaryDirectory() as out, open_dict(cfg):
        cfg.paths.output_dir = out
        cfg.trainer.max_steps = steps
        cfg.trainer.default_root_dir = out
        torch.manual_seed(cfg.seed)
        module = build_module(cfg, dm)
        module.net = reset(net, initial)
        trainer = build_trainer(cfg)
        dev = torch.device("cuda" if cfg.trainer.accelerator == "gpu" else "cpu")
        t0 = time.perf_counter()
        trainer.fit(module, datamodule=dm)
        _sync(dev)
        elapsed = time.perf_counter() - t0
        if trainer.global_step != steps:
            raise RuntimeError(f"the framework ran {trainer.global_step} steps, expected {steps}")
        return elapsed


def loader_records_per_s(dm: CardioDataModule, batches: int) -> float:
    """Records/s of iterating the train DataLoader alone (first batch excluded: worker start-up)."""
    it = iter(dm.train_dataloader())
    next(it)
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(dm.train_dataloader())
            batch = next(it)
        n += len(batch["index"])
    return n / (time.perf_counter() - t0)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None, help="an existing store (default: a cohort of --n)")
    ap.add_argument("--n", type=int, default=600, help="patients of the generated cohort")
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per timed run")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs of each variant")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the training runs")
    ap.add_argument("--loader-workers", type=int, nargs="+", default=[0, 2], help="worker counts for loader-only")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the net (both variants)")
    ap.add_argument("--channels-last", action="store_true", help="channels-last memory format (both variants)")
    ap.add_argument("overrides", nargs="*", help="more config overrides (key=value)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible")

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            from nextgen_ml.data.cohort import CohortConfig, write_cohort

            data_dir = Path(tmp) / "store"
            write_cohort(data_dir, n=args.n, sites=3, seed=0, progress=False,
                         config=CohortConfig(ecg_fs_hz=100.0, image_size=max(32, args.image_size)))
        cfg = compose_config([
            "data=store", f"data.data_dir={data_dir}", f"data.batch_size={args.batch_size}",
            f"data.transforms.image.size={args.image_size}", f"paths.output_dir={tmp}/run",
            *device_overrides(args.device, args.workers), *args.overrides,
        ])
        pl.seed_everything(cfg.seed, workers=True)
        dm = build_datamodule(cfg)
        dm.setup()
        n_train = len(dm.split_indices["train"])
        samples = samples_for_steps(n_train, args.batch_size, args.steps)
        net = prepare_net(cfg, dm, args.channels_last, args.compile)
        initial = copy.deepcopy(net.state_dict())

        # warm-up (allocator, lazy imports, compile) outside the timed rounds
        run_loop(cfg, dm, net, initial, min(2, args.steps), args.device)
        times: dict[str, list[float]] = {"framework": [], "loop": []}
        loader: dict[int, list[float]] = {w: [] for w in args.loader_workers}
        loader_batches = max(4, min(args.steps, 2 * -(-n_train // args.batch_size)))
        for _ in range(args.repeats):
            times["framework"].append(run_framework(cfg, dm, net, initial, args.steps))
            times["loop"].append(run_loop(cfg, dm, net, initial, args.steps, args.device))
            for w in args.loader_workers:
                dm.num_workers = w
                loader[w].append(loader_records_per_s(dm, loader_batches))
            dm.num_workers = args.workers

    sps = {k: [samples / t for t in v] for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in sps.items()}
    ratios = [f / lp for f, lp in zip(sps["framework"], sps["loop"])]
    ratio = statistics.median(ratios)
    loader_med = {w: statistics.median(v) for w, v in loader.items()}
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else (platform.processor() or "cpu")
    print(f"\n{args.steps} steps x batch {args.batch_size} ({samples} samples), {args.repeats} interleaved repeats, "
          f"{device_name}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"{'variant':<22} {'samples/s (median)':>19} {'runs':>30}")
    for k in ("framework", "loop"):
        print(f"{k:<22} {med[k]:>19.1f} {' '.join(f'{x:.1f}' for x in sps[k]):>30}")
    for w, v in loader_med.items():
        print(f"{f'loader only, {w} workers':<22} {v:>19.1f} {' '.join(f'{x:.1f}' for x in loader[w]):>30}")
    print(f"framework / loop = {ratio:.3f} (per round: {', '.join(f'{r:.3f}' for r in ratios)}); "
          f"overhead {100 * (1 - ratio):.1f}%")
    print(json.dumps({
        "device": args.device, "device_name": device_name, "steps": args.steps, "batch_size": args.batch_size,
        "repeats": args.repeats, "samples_per_run": samples, "n_train": n_train, "workers": args.workers,
        "compile": args.compile, "channels_last": args.channels_last,
        "framework_samples_per_s": med["framework"], "loop_samples_per_s": med["loop"],
        "framework_runs": sps["framework"], "loop_runs": sps["loop"],
        "ratio_framework_over_loop": ratio, "ratios_per_round": ratios, "overhead_pct": 100 * (1 - ratio),
        "loader_records_per_s": {str(w): v for w, v in loader_med.items()},
        "loader_over_model": {str(w): v / med["loop"] for w, v in loader_med.items()},
    }))


if __name__ == "__main__":
    main()
