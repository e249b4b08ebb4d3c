"""Benchmark cells in parallel on local cores (one process per worker) and in shards (one shard per cluster job).

A cell's result does not depend on where it runs: its seed is ``seed * 1000 + fold`` (set in ``fit_cell``), its
fold's data does not depend on which other modalities are loaded (``FoldData``), and every worker writes the same
``cells/<setting>__r<seed>__f<fold>__<key>.json`` atomically. So a grid can be split over processes, over cluster
jobs (``shard=(i, n)``: cells ``i, i+n, i+2n, ...`` of the plan) or both, resumed after any crash, and reported
from the union of the cell files.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nextgen_ml.benchmark.cell import run_cell, write_result
from nextgen_ml.benchmark.config import BenchmarkConfig
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import fold_labels, store_meta

#: one worker process's fold data (only the current fold is kept in memory)
_WORKER: dict[str, Any] = {}


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` (0-based shard ``I`` of ``N``) → ``(I, N)``; None → None."""
    if text is None:
        return None
    try:
        index, count = (int(p) for p in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard must be 'I/N' with integers (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {text!r}: need N >= 1 and 0 <= I < N")
    return index, count


def shard_cells(cells: Sequence[Any], shard: tuple[int, int] | None) -> list[Any]:
    """Cells ``I, I+N, ...`` of the plan for ``shard=(I, N)`` (every cell for None)."""
    if shard is None:
        return list(cells)
    index, count = shard
    return [c for i, c in enumerate(cells) if i % count == index]


def worker_threads(workers: int, configured: int | None = None) -> int:
    """Torch threads per worker: ``max(1, cores // workers)``, at most ``configured`` (``train.threads``) if set."""
    share = max(1, (os.cpu_count() or 1) // workers)
    return min(share, configured) if configured else share


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _run_one(cfg: BenchmarkConfig, cell: Any, split: dict[str, np.ndarray], modalities: tuple[str, ...],
             path: str) -> tuple[Any, dict[str, Any] | None]:
    """Fit and write one cell in a worker (its fold's data is built once per worker and fold)."""
    if Path(path).exists():  # finished meanwhile by another process on the same out_dir
        return cell, None
    key = (cell.seed, cell.fold, modalities)
    if _WORKER.get("key") != key:
        _WORKER.clear()  # free the previous fold first
        meta = store_meta(cfg.data.data_dir)
        data = FoldData(cfg, split, modalities, seed=cell.seed * 1000 + cell.fold)
        _WORKER.update(key=key, meta=meta, data=data, labels=fold_labels(cfg, meta, data.index["test"]))
    result = run_cell(cfg, cell.setting, _WORKER["data"], _WORKER["meta"], _WORKER["labels"], cell.seed, cell.fold,
                      cell.key)
    write_result(Path(path), result)
    return cell, result


def _run_fold(cfg: BenchmarkConfig, cells: Sequence[Any], split: dict[str, np.ndarray], modalities: tuple[str, ...],
              paths: Sequence[str]) -> list[tuple[Any, dict[str, Any] | None]]:
    """All pending cells of one fold in a worker (the fold's data is built once)."""
    return [_run_one(cfg, cell, split, modalities, path) for cell, path in zip(cells, paths)]


def run_parallel(cfg: BenchmarkConfig, pending: Sequence[Any], splits: dict[int, list[dict[str, np.ndarray]]],
                 out_dir: Path, workers: int, on_done: Callable[[Any, dict[str, Any] | None], None]) -> int:
    """Run ``pending`` cells on ``workers`` processes, forked from a fresh ``forkserver`` process that has imported
    the benchmark once (no forked torch thread pools; ``spawn`` where there is no forkserver).

    Args:
        cfg: the benchmark config.
        pending: cells to run, in plan order (fold by fold, so a worker rebuilds its fold data rarely).
        splits: seed → the folds' ``{"train", "test"}`` indices.
        out_dir: the results folder.
        workers: number of processes (each with :func:`worker_threads` torch threads).
        on_done: called in the parent with each cell and its result (None: another process finished it).

    Returns:
        The number of cells trained.
    """
    fold_modalities = {}
    for c in pending:  # each fold loads the union of its pending cells' modalities, as the serial loop does
        fold_modalities.setdefault((c.seed, c.fold), set()).update(c.setting.modalities)
    threads = worker_threads(workers, cfg.train.threads)
    trained = 0
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])  # torch, lightning and the models imported once, not per worker
    else:
        ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        folds: dict[tuple[int, int], list[Any]] = {}
        for c in pending:
            folds.setdefault((c.seed, c.fold), []).append(c)
        # a whole fold per task when there are enough folds to keep every worker busy (its data is built once),
        # else one cell per task (the fold's data is built by each worker that gets one of its cells)
        units = list(folds.values()) if len(folds) >= workers else [[c] for c in pending]
        futures = [pool.submit(_run_fold, cfg, unit, splits[unit[0].seed][unit[0].fold],
                               tuple(sorted(fold_modalities[(unit[0].seed, unit[0].fold)])),
                               [str(c.path(out_dir)) for c in unit])
                   for unit in units]
        for future in as_completed(futures):
            for cell, result in future.result():
                trained += result is not None
                on_done(cell, result)
    return trained
