"""One fold's data: a ``CardioDataModule`` given the fold's split indices, transformed once and kept in memory.

Every cell of a fold (fusions × modality subsets) reuses the same fitted transforms and transformed samples;
batches are built by the pipeline's own ``Collate`` restricted to the cell's modalities. With ``external`` in the
config, the records of that store are transformed by the fold's fitted transforms too (external validation).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from nextgen_ml.benchmark.config import BenchmarkConfig
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.dataset import Collate, MultimodalDataset


class FoldData:
    """Transformed train/test samples of one fold for every modality of the benchmark.

    Args:
        cfg: the benchmark config.
        fold: ``{"train": idx, "test": idx}`` record indices into the store.
        modalities: modalities to load (the union over the fold's pending cells).
        seed: seed of the fold's random training-time transforms.

    Note: samples are transformed once, so random training-time transforms (ECG random crop, heart-sound crop,
    wearable window, image augmentation) are drawn once per fold. Each modality draws from its own generator
    seeded by ``seed`` and the modality name, so a modality's samples do not depend on which other modalities
    are loaded (a cell's data is the same whichever cells share its fold).
    """

    def __init__(self, cfg: BenchmarkConfig, fold: dict[str, np.ndarray], modalities: Sequence[str],
                 seed: int = 0) -> None:
        self.dm = CardioDataModule(
            cfg.data.data_dir, modalities=list(modalities), cohort=cfg.data.cohort, stratify_on=cfg.data.target,
            transforms={m: kw for m, kw in cfg.data.transforms.items() if m in modalities},
            batch_size=cfg.data.batch_size,
        )
        self.dm.load_state_dict({"split_indices": {k: np.asarray(v).tolist() for k, v in fold.items()}})
        self.dm.setup()
        self.batch_size = cfg.data.batch_size
        self.samples = {name: self._transform(ds, seed) for name, ds in self.dm.datasets.items()}
        self.index = {name: np.asarray(fold[name]) for name in self.samples}
        self.external: list[dict[str, Any]] | None = None
        self.external_meta: dict[str, Any] = {}
        if cfg.external:
            self._load_external(cfg, seed)

    def _load_external(self, cfg: BenchmarkConfig, seed: int) -> None:
        """The external store's records under the fold's fitted transforms, and their sites and labels."""
        from nextgen_ml.benchmark.kinds import scoring_for
        from nextgen_ml.data.store import RecordStore
        from nextgen_ml.modalities import modality_spec

        columns = ["patient_id", "site", "labels"] + [modality_spec(m).column for m in self.dm.transforms]
        store = RecordStore(cfg.external, columns=columns)
        label = self.dm.dictionary.label(cfg.data.target)
        ext_label = store.dictionary.label(cfg.data.target)
        if ext_label.kind != label.kind:
            raise ValueError(f"external: label {label.name!r} is {ext_label.kind} in {cfg.external}, "
                             f"{label.kind} in {cfg.data.data_dir}")
        self.external = self._transform(MultimodalDataset(store, self.dm.transforms, train=False), seed)
        values = [None if lab is None else lab.get(label.name) for lab in store.column("labels").to_pylist()]
        self.external_meta = {"index": list(range(len(store))), "site": store.column("site").to_pylist(),
                              "y": scoring_for(label.kind).encode(ext_label, values).tolist()}

    @staticmethod
    def _transform(ds: MultimodalDataset, seed: int) -> list[dict[str, Any]]:
        """Every sample of ``ds``, each modality transformed under its own seeded generator."""
        transforms, ds.transforms = ds.transforms, {}
        try:
            samples = [ds[i] for i in range(len(ds))]  # targets and index, no inputs yet
        finally:
            ds.transforms = transforms
        for m in sorted(transforms):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed * 7919 + zlib.crc32(m.encode()))
                column = ds.modality_inputs(m)
            for sample, x in zip(samples, column, strict=True):
                sample["inputs"][m] = x
        return samples

    @property
    def modality_specs(self) -> dict[str, dict[str, Any]]:
        return self.dm.modality_specs

    def train_loader(self, modalities: Sequence[str], modality_dropout: float = 0.0, seed: int = 0,
                     samples: Sequence[dict[str, Any]] | None = None) -> DataLoader:
        """Shuffled training batches of ``modalities`` with optional modality dropout (``samples``: a subset of the
        training samples, e.g. the inner training rows of early stopping; default all)."""
        return DataLoader(list(self.samples["train"] if samples is None else samples), batch_size=self.batch_size,
                          shuffle=True,
                          generator=torch.Generator().manual_seed(seed),
                          collate_fn=Collate(modalities, modality_dropout))

    def test_batch(self, modalities: Sequence[str]) -> dict[str, Any]:
        """The whole test split as one batch of ``modalities``."""
        return Collate(modalities)(self.samples["test"])

    def external_batch(self, modalities: Sequence[str]) -> dict[str, Any]:
        """The external store's records as one batch of ``modalities``."""
        if self.external is None:
            raise RuntimeError("external_batch: the benchmark config names no external store")
        return Collate(modalities)(self.external)
