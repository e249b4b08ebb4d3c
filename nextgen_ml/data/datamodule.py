"""``CardioDataModule``: the store → patient-level splits → fitted transforms → DataLoaders."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
from torch.utils.data import DataLoader

from nextgen_ml.data.dataset import Collate, MultimodalDataset
from nextgen_ml.data.schema import MODALITIES, MODALITY_COLUMN
from nextgen_ml.data.splits import predefined_split, site_held_out_split, stratified_group_split
from nextgen_ml.data.store import METADATA_FILE, RecordStore
from nextgen_ml.data.transforms import (
    EcgTransform,
    GenomicsTransform,
    ImageTransform,
    ModalityTransform,
    TabularTransform,
    TextTransform,
)

log = logging.getLogger(__name__)

#: modality → transform class; transform kwargs come from ``CardioDataModule(transforms={modality: {...}})``.
TRANSFORMS: dict[str, type[ModalityTransform]] = {
    "ecg": EcgTransform,
    "genomics": GenomicsTransform,
    "image": ImageTransform,
    "tabular": TabularTransform,
    "text": TextTransform,
}


class CardioDataModule(pl.LightningDataModule):
    """Batches of ``{"inputs", "mask", "targets", "index"}`` from a record store.

    Args:
        data_dir: store directory. If it holds no store and ``cohort`` is given, a synthetic cohort is written
            there first (and reused by later runs).
        modalities: modalities to load (any subset of ``ecg, genomics, image, tabular, text``).
        cohort: keyword arguments for :func:`nextgen_ml.data.cohort.write_cohort` (``n``, ``sites``, ``seed``,
            ``config``), or None.
        split: ``"stratified"`` (patient-grouped, stratified on ``stratify_on``), ``"site"`` (hold out
            ``test_sites``) or ``"predefined"`` (the record's ``split`` field).
        stratify_on: label used for stratification.
        val_frac / test_frac: split fractions (of patients).
        test_sites: sites held out for testing when ``split="site"``.
        sites: only read these sites (e.g. one federated site's partition).
        transforms: per-modality keyword arguments for the transform classes in :data:`TRANSFORMS`.
        batch_size / num_workers / pin_memory: DataLoader settings.
        modality_dropout: probability of hiding a present modality in training batches.
        seed: split and dropout seed.
    """

    def __init__(
        self,
        data_dir: str | Path,
        modalities: Sequence[str] = MODALITIES,
        cohort: Mapping[str, Any] | None = None,
        split: str = "stratified",
        stratify_on: str = "mace",
        val_frac: float = 0.15,
        test_frac: float = 0.15,
        test_sites: Sequence[str] = (),
        sites: Sequence[str] | None = None,
        transforms: Mapping[str, Mapping[str, Any]] | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        modality_dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        unknown = sorted(set(modalities) - set(MODALITIES))
        if unknown:
            raise ValueError(f"modalities: unknown {unknown}; choose from {list(MODALITIES)}")
        if not modalities:
            raise ValueError("modalities: at least one modality is needed")
        if split not in ("stratified", "site", "predefined"):
            raise ValueError(f"split must be 'stratified', 'site' or 'predefined', got {split!r}")
        bad_tf = sorted(set(transforms or {}) - set(MODALITIES))
        if bad_tf:
            raise ValueError(f"transforms: unknown modalities {bad_tf}")
        self.data_dir = Path(data_dir)
        self.modalities = sorted(modalities)
        self.cohort = dict(cohort) if cohort else None
        self.split, self.stratify_on = split, stratify_on
        self.val_frac, self.test_frac, self.test_sites = val_frac, test_frac, list(test_sites)
        self.sites = list(sites) if sites else None
        self.transform_kwargs = {m: dict((transforms or {}).get(m, {})) for m in self.modalities}
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.modality_dropout, self.seed = modality_dropout, seed
        self.transforms: dict[str, ModalityTransform] = {}
        self.split_indices: dict[str, np.ndarray] = {}
        self.datasets: dict[str, MultimodalDataset] = {}
        self.store: RecordStore | None = None
        self._restored: dict[str, Any] | None = None

    # ------------------------------------------------------------------ data preparation
    def prepare_data(self) -> None:
        if (self.data_dir / METADATA_FILE).exists():
            return
        if self.cohort is None:
            raise FileNotFoundError(f"data_dir: no record store at {self.data_dir} and no cohort to generate")
        from nextgen_ml.data.cohort import CohortConfig, write_cohort

        kwargs = dict(self.cohort)
        if isinstance(kwargs.get("config"), Mapping):
            kwargs["config"] = CohortConfig(**kwargs["config"])
        log.info("generating synthetic cohort %s into %s", self.cohort, self.data_dir)
        write_cohort(self.data_dir, **kwargs)

    def open_store(self) -> RecordStore:
        columns = ["patient_id", "site", "split", "labels"] + [MODALITY_COLUMN[m] for m in self.modalities]
        return RecordStore(self.data_dir, columns=columns, sites=self.sites)

    def setup(self, stage: str | None = None) -> None:
        if self.store is not None:
            return
        self.prepare_data()
        self.store = store = self.open_store()
        if len(store) == 0:
            raise ValueError(f"data_dir: the store at {self.data_dir} has no records for sites {self.sites}")
        restored = self._restored or {}
        if "split_indices" in restored:
            self.split_indices = {k: np.asarray(v, dtype=np.int64) for k, v in restored["split_indices"].items()}
            if max((int(v.max()) for v in self.split_indices.values() if v.size), default=-1) >= len(store):
                raise ValueError(f"data_dir: the checkpoint's splits do not fit the store at {self.data_dir}")
        else:
            self.split_indices = self._make_splits(store)
        train_view = store.subset(self.split_indices["train"])
        for m in self.modalities:
            cls = TRANSFORMS[m]
            kwargs = dict(self.transform_kwargs[m])
            if m == "genomics":
                if store.panel is None:
                    raise ValueError(f"data_dir: store {self.data_dir} has no variant panel in {METADATA_FILE}")
                kwargs.setdefault("panel", store.panel)
            transform = cls(**kwargs)
            if m in restored.get("transforms", {}):
                transform.load_state_dict(restored["transforms"][m])
            else:
                transform.fit(train_view.column(cls.column).to_pylist())
            self.transforms[m] = transform
        self.datasets = {
            name: MultimodalDataset(store.subset(idx), self.transforms, train=name == "train")
            for name, idx in self.split_indices.items()
        }
        log.info("splits: %s", {k: len(v) for k, v in self.split_indices.items()})

    def _make_splits(self, store: RecordStore) -> dict[str, np.ndarray]:
        if self.split == "predefined":
            return predefined_split(store.column("split").to_pylist())
        labels = [None if lab is None else lab.get(self.stratify_on) for lab in store.column("labels").to_pylist()]
        groups = store.column("patient_id").to_pylist()
        if self.split == "site":
            sites = store.column("site").to_pylist()
            return site_held_out_split(sites, self.test_sites, labels, groups, self.val_frac, self.seed)
        return stratified_group_split(labels, groups, self.val_frac, self.test_frac, self.seed)

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Fitted transforms and split indices, saved by Lightning inside every checkpoint."""
        return {
            "transforms": {m: t.state_dict() for m, t in self.transforms.items()},
            "split_indices": {k: v.tolist() for k, v in self.split_indices.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore splits and fitted transforms (applied at the next :meth:`setup`)."""
        self._restored = dict(state_dict)
        if self.store is not None:  # already set up: redo it with the restored state
            self.store, self.transforms, self.datasets = None, {}, {}
            self.setup()

    # ------------------------------------------------------------------ model-facing information
    @property
    def modality_specs(self) -> dict[str, dict[str, Any]]:
        """Per-modality encoder kwargs derived from the fitted transforms (after :meth:`setup`)."""
        if not self.transforms:
            raise RuntimeError("modality_specs is available after setup()")
        return {m: t.spec() for m, t in self.transforms.items()}

    # ------------------------------------------------------------------ loaders
    def _loader(self, name: str, train: bool) -> DataLoader:
        if not self.datasets:
            self.setup()
        collate = Collate(self.modalities, self.modality_dropout if train else 0.0)
        return DataLoader(
            self.datasets[name],
            batch_size=self.batch_size,
            shuffle=train,
            drop_last=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
