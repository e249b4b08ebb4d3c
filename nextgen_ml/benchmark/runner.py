"""``run_benchmark``: settings × repeats × folds, one JSON result per cell, resumable.

A cell's file is ``cells/<setting>__r<seed>__f<fold>__<key>.json`` where ``key`` hashes everything the cell
depends on (setting, data, model, training, CV, robustness); a finished cell is never re-run, and a changed
setting gets a new key (so stale results are not mixed in: :func:`collect_results` reads only current keys).
Cells run in this process, on local worker processes (``workers``) or per shard (``shard``, one cluster job each;
:mod:`nextgen_ml.benchmark.parallel`), with the same results.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from nextgen_ml.benchmark.cell import run_cell, write_result
from nextgen_ml.benchmark.config import BenchmarkConfig, Setting, cell_key, config_dict
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import ensure_store, fold_labels, make_folds, store_meta
from nextgen_ml.benchmark.parallel import run_parallel, shard_cells

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One fit of the grid."""

    setting: Setting
    seed: int
    fold: int
    key: str

    def path(self, out_dir: Path) -> Path:
        return out_dir / "cells" / f"{self.setting.name}__r{self.seed}__f{self.fold}__{self.key}.json"


def plan_cells(cfg: BenchmarkConfig, n_folds: int) -> list[Cell]:
    """Every cell of the grid in run order (repeat → fold → setting)."""
    return [Cell(s, seed, fold, cell_key(cfg.cell_spec(s, seed, fold)))
            for seed in cfg.cv.seeds for fold in range(n_folds) for s in cfg.settings]


@dataclass
class RunSummary:
    """What a benchmark run did."""

    trained: int
    skipped: int
    seconds: float
    out_dir: Path


def run_benchmark(cfg: BenchmarkConfig, progress: bool = True,
                  on_cell: Callable[[Cell, dict[str, Any]], None] | None = None, workers: int = 1,
                  shard: tuple[int, int] | None = None) -> RunSummary:
    """Run every unfinished cell of the benchmark (or of one shard of it).

    Args:
        cfg: the benchmark config (needs at least one setting).
        progress: show a tqdm progress bar.
        on_cell: called after each trained cell with the cell and its result.
        workers: local processes running cells in parallel (1: in this process); each gets
            ``max(1, cores // workers)`` torch threads (:mod:`nextgen_ml.benchmark.parallel`).
        shard: ``(I, N)``: only cells ``I, I+N, ...`` of the plan (one cluster job per shard); None: all.

    Returns:
        A :class:`RunSummary` (``trained`` = cells fitted by this call, ``skipped`` = already finished).
    """
    if not cfg.settings:
        raise ValueError("settings: the benchmark config names no settings")
    start = time.perf_counter()
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmark_config.json").write_text(json.dumps(config_dict(cfg), indent=2, default=str))
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    ensure_store(cfg)
    meta = store_meta(cfg.data.data_dir)
    folds_by_seed = {seed: make_folds(cfg, meta, seed) for seed in cfg.cv.seeds}
    n_folds = len(next(iter(folds_by_seed.values())))
    cells = shard_cells(plan_cells(cfg, n_folds), shard)
    pending = [c for c in cells if not c.path(out_dir).exists()]
    bar = tqdm(total=len(cells), initial=len(cells) - len(pending), disable=not progress, desc="benchmark",
               unit="fit", dynamic_ncols=True)
    trained = 0
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and pending:
        def done(cell: Cell, result: dict[str, Any] | None) -> None:
            bar.update(1)
            if result is not None and on_cell is not None:
                on_cell(cell, result)

        trained = run_parallel(cfg, pending, folds_by_seed, out_dir, workers, done)
    for seed in cfg.cv.seeds if workers == 1 else ():  # in this process
        for fold, split in enumerate(folds_by_seed[seed]):
            todo = [c for c in pending if c.seed == seed and c.fold == fold]
            if not todo:
                continue
            modalities = sorted({m for c in todo for m in c.setting.modalities})
            data = FoldData(cfg, split, modalities, seed=seed * 1000 + fold)
            labels = fold_labels(cfg, meta, data.index["test"])
            for cell in todo:
                if cell.path(out_dir).exists():  # finished meanwhile by another worker on the same out_dir
                    bar.update(1)
                    continue
                bar.set_postfix_str(f"{cell.setting.name} r{seed} f{fold}")
                result = run_cell(cfg, cell.setting, data, meta, labels, seed, fold, cell.key)
                write_result(cell.path(out_dir), result)
                trained += 1
                bar.update(1)
                if on_cell is not None:
                    on_cell(cell, result)
    bar.close()
    return RunSummary(trained, len(cells) - len(pending), time.perf_counter() - start, out_dir)


def collect_results(cfg: BenchmarkConfig) -> list[dict[str, Any]]:
    """The finished cell results of the current grid (cells of other keys in ``out_dir`` are ignored)."""
    out_dir = Path(cfg.out_dir)
    meta_folds = len(make_folds(cfg, store_meta(cfg.data.data_dir), cfg.cv.seeds[0]))
    results = []
    for cell in plan_cells(cfg, meta_folds):
        path = cell.path(out_dir)
        if path.exists():
            results.append(json.loads(path.read_text()))
    return results
