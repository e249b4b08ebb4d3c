"""One fold's data: a ``CardioDataModule`` given the fold's split indices, transformed once and kept in memory.

Every cell of a fold (fusions × modality subsets) reuses the same fitted transforms and transformed samples;
batches are built by the pipeline's own ``Collate`` restricted to the cell's modalities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from nextgen_ml.benchmark.config import BenchmarkConfig
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.dataset import Collate


class FoldData:
    """Transformed train/test samples of one fold for every modality of the benchmark.

    Args:
        cfg: the benchmark config.
        fold: ``{"train": idx, "test": idx}`` record indices into the store.
        modalities: modalities to load (the union over the fold's pending cells).

    Note: samples are transformed once, so random training-time transforms (ECG random crop, image augmentation)
    are drawn once per fold; the default benchmark config uses none.
    """

    def __init__(self, cfg: BenchmarkConfig, fold: dict[str, np.ndarray], modalities: Sequence[str]) -> None:
        self.dm = CardioDataModule(
            cfg.data.data_dir, modalities=list(modalities), cohort=cfg.data.cohort, stratify_on=cfg.data.target,
            transforms={m: kw for m, kw in cfg.data.transforms.items() if m in modalities},
            batch_size=cfg.data.batch_size,
        )
        self.dm.load_state_dict({"split_indices": {k: np.asarray(v).tolist() for k, v in fold.items()}})
        self.dm.setup()
        self.batch_size = cfg.data.batch_size
        self.samples = {name: [ds[i] for i in range(len(ds))] for name, ds in self.dm.datasets.items()}
        self.index = {name: np.asarray(fold[name]) for name in self.samples}

    @property
    def modality_specs(self) -> dict[str, dict[str, Any]]:
        return self.dm.modality_specs

    def train_loader(self, modalities: Sequence[str], modality_dropout: float = 0.0, seed: int = 0) -> DataLoader:
        """Shuffled training batches of ``modalities`` with optional modality dropout."""
        return DataLoader(self.samples["train"], batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(seed),
                          collate_fn=Collate(modalities, modality_dropout))

    def test_batch(self, modalities: Sequence[str]) -> dict[str, Any]:
        """The whole test split as one batch of ``modalities``."""
        return Collate(modalities)(self.samples["test"])
