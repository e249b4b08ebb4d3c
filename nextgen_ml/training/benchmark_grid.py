"""One Hydra job of the benchmark grid: a shard of its cells (``benchmark_grid.py``, ``configs/benchmark_grid.yaml``).

Any Hydra launcher runs the shards: the basic one (sequentially), ``submitit_local``, or SLURM through
``hydra-submitit-launcher`` (``hydra/launcher=benchmark_slurm``). The results are the cell files of
:func:`nextgen_ml.benchmark.runner.run_benchmark`, the same as one serial run; the report is written once after the
shards (``nextgen-ml benchmark --report-only``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig


def _launch_dir() -> Path:
    """The directory the sweep was launched from (Hydra's original cwd), else the current one."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.cwd) if HydraConfig.initialized() else Path.cwd()


def run_shard(cfg: DictConfig) -> dict[str, Any]:
    """Run shard ``cfg.shard`` of ``cfg.num_shards`` of the benchmark ``cfg.config`` (or only prepare its store).

    Args:
        cfg: ``config`` (benchmark YAML), ``overrides`` (dotted), ``shard``, ``num_shards``, ``workers``,
            ``prepare_only``.

    Returns:
        ``{"shard", "num_shards", "trained", "skipped", "seconds"}`` (or ``{"store": path}`` with ``prepare_only``).
    """
    from nextgen_ml.benchmark.config import load_config
    from nextgen_ml.benchmark.folds import ensure_store
    from nextgen_ml.benchmark.parallel import parse_shard
    from nextgen_ml.benchmark.runner import run_benchmark

    path = Path(str(cfg.config))
    path = path if path.is_absolute() else _launch_dir() / path
    if not path.is_file():
        raise ValueError(f"config: benchmark config {path} does not exist")
    bench = load_config(path, [str(o) for o in cfg.get("overrides") or []])
    if cfg.get("prepare_only", False):
        return {"store": str(ensure_store(bench))}
    shard = parse_shard(f"{cfg.shard}/{cfg.num_shards}")
    summary = run_benchmark(bench, progress=False, workers=int(cfg.get("workers", 1)), shard=shard)
    return {"shard": shard[0], "num_shards": shard[1], "trained": summary.trained, "skipped": summary.skipped,
            "seconds": summary.seconds}
