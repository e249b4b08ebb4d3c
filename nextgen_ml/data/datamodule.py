"""``CardioDataModule``: the store → patient-level splits → fitted transforms → DataLoaders."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pyarrow.compute as pc
from torch.utils.data import DataLoader

from nextgen_ml.data.dataset import Collate, MultimodalDataset
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.schema import MODALITIES, SCHEMA_VERSION
from nextgen_ml.data.splits import (
    kfold_splits,
    labelled_subset,
    predefined_split,
    site_held_out_split,
    stratified_group_split,
)
from nextgen_ml.data.store import METADATA_FILE, RecordStore
from nextgen_ml.data.store_fs import is_uri
from nextgen_ml.data.targets import TARGET_ENCODERS, strata
from nextgen_ml.data.transforms import ModalityTransform
from nextgen_ml.modalities import modality_names, modality_spec

log = logging.getLogger(__name__)

#: split strategies of ``CardioDataModule(split=...)``
SPLITS: tuple[str, ...] = ("stratified", "kfold", "site", "predefined")


class CardioDataModule(pl.LightningDataModule):
    """Batches of ``{"inputs", "mask", "targets", "index"}`` from a record store.

    Args:
        data_dir: store directory, or a list of stores read as one dataset (e.g. one per site; their data
            dictionaries are reconciled by code). If a single ``data_dir`` holds no store and ``cohort`` is given,
            a synthetic cohort is written there first (and reused by later runs). A store is regenerated only when
            the generator wrote it with other settings; an ingested store, or one whose provenance cannot be
            proven, is never overwritten, and a missing store without ``cohort`` is an error.
        modalities: modalities to load (any subset of :data:`~nextgen_ml.data.schema.MODALITIES`).
        cohort: keyword arguments for :func:`nextgen_ml.data.cohort.write_cohort` (``n``, ``sites``, ``seed``,
            ``config``), or None.
        split: ``"stratified"`` (patient-grouped, stratified on ``stratify_on``), ``"kfold"`` (fold ``fold`` of
            ``folds`` patient-grouped stratified folds is the test set), ``"site"`` (hold out ``test_sites``) or
            ``"predefined"`` (the record's ``split`` field).
        stratify_on: label used for stratification (classes; event for survival; quantile bins for regression).
        folds / fold: number of cross-validation folds and the one held out as test (``split="kfold"``).
        val_frac / test_frac: split fractions (of patients).
        test_sites: sites held out for testing when ``split="site"``.
        sites: only read these sites (e.g. one federated site's partition).
        transforms: per-modality keyword arguments for the transform each modality spec declares.
        batch_size / num_workers / pin_memory: DataLoader settings.
        persistent_workers / prefetch_factor / multiprocessing_context: DataLoader worker settings (used when
            ``num_workers > 0``; workers reopen the memory-mapped store by path, see :class:`RecordStore`).
        fit_max_records: transforms that learn from data (tabular statistics, the note tokenizer, image
            dimensionality) are fitted on at most this many training records, a seeded random subsample, so
            setup time and memory stay bounded as the cohort grows; transforms with nothing to fit read no data.
        modality_dropout: probability of hiding a present modality in training batches.
        label_fraction: keep the labels of only this fraction of the training rows, stratified on ``stratify_on``
            (at least one row per stratum; nested across fractions for one seed); the other training rows keep
            their inputs with every label missing (a supervised loss ignores them; pretraining uses them).
            Validation and test rows are untouched. 1.0 (default) keeps every label.
        seed: split, dropout and label-fraction seed.
        purpose: the declared research purpose (keyword arguments of
            :class:`nextgen_ml.governance.duo.ResearchPurpose`, e.g. ``{"requester": "alice", "disease":
            "MONDO:0005267"}``). When given, records whose DUO consent does not permit it are excluded before any
            payload column is opened; :attr:`consent_report` says how many and why.
    """

    def __init__(
        self,
        data_dir: str | Path | Sequence[str | Path],
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
        persistent_workers: bool = True,
        prefetch_factor: int | None = None,
        multiprocessing_context: str | None = None,
        fit_max_records: int = 5000,
        modality_dropout: float = 0.0,
        seed: int = 0,
        purpose: Mapping[str, Any] | None = None,
        folds: int = 5,
        fold: int = 0,
        label_fraction: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0 < label_fraction <= 1:
            raise ValueError(f"label_fraction must be in (0, 1], got {label_fraction}")
        self.label_fraction = float(label_fraction)
        self.labelled_train: np.ndarray | None = None  # store indices of training rows that keep their labels
        unknown = sorted(set(modalities) - set(modality_names()))
        if unknown:
            raise ValueError(f"modalities: unknown {unknown}; choose from {modality_names()} (a plugin file "
                             "registers more: plugins=[path/to/modality.py])")
        if not modalities:
            raise ValueError("modalities: at least one modality is needed")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if folds < 2 or not 0 <= fold < folds:
            raise ValueError(f"folds/fold: need folds >= 2 and 0 <= fold < folds, got folds={folds}, fold={fold}")
        self.folds, self.fold = folds, fold
        bad_tf = sorted(set(transforms or {}) - set(modality_names()))
        if bad_tf:
            raise ValueError(f"transforms: unknown modalities {bad_tf}")
        if isinstance(data_dir, (str, Path)):
            self.data_dir: Any = data_dir if is_uri(data_dir) else Path(data_dir)
        else:
            self.data_dir = [d if is_uri(d) else Path(d) for d in data_dir]
            if not self.data_dir:
                raise ValueError("data_dir: an empty list of stores")
            if cohort:
                raise ValueError("data_dir: a list of stores is read as it is; set cohort=null (data=store)")
        self.modalities = sorted(modalities)
        self.cohort = dict(cohort) if cohort else None
        self.split, self.stratify_on = split, stratify_on
        self.val_frac, self.test_frac, self.test_sites = val_frac, test_frac, list(test_sites)
        self.sites = list(sites) if sites else None
        self.transform_kwargs = {m: dict((transforms or {}).get(m, {})) for m in self.modalities}
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.persistent_workers, self.prefetch_factor = persistent_workers, prefetch_factor
        self.multiprocessing_context = multiprocessing_context
        if fit_max_records < 1:
            raise ValueError(f"fit_max_records must be >= 1, got {fit_max_records}")
        self.fit_max_records = fit_max_records
        self.modality_dropout, self.seed = modality_dropout, seed
        self.transforms: dict[str, ModalityTransform] = {}
        self.split_indices: dict[str, np.ndarray] = {}
        self.datasets: dict[str, MultimodalDataset] = {}
        self.purpose = dict(purpose) if purpose else None
        self.consent_report: Any = None
        self.store: RecordStore | None = None
        self._restored: dict[str, Any] | None = None

    # ------------------------------------------------------------------ data preparation
    def prepare_data(self) -> None:
        if isinstance(self.data_dir, list):
            for d in self.data_dir:
                if not is_uri(d) and not (Path(d) / METADATA_FILE).exists():
                    raise FileNotFoundError(f"data_dir: no record store at {d}")
            return
        if is_uri(self.data_dir):  # a store on a filesystem URI is only ever read
            return
        meta_file = self.data_dir / METADATA_FILE
        if meta_file.exists():
            if self.cohort is None or self._keep_store(meta_file):
                return
        elif self.cohort is None:
            raise FileNotFoundError(
                f"data_dir: no record store at {self.data_dir} (write one with `nextgen-ml ingest` or "
                "`nextgen-ml cohort`; a missing store never falls back to a synthetic cohort)"
            )
        from nextgen_ml.data.cohort import CohortConfig, write_cohort

        kwargs = dict(self.cohort)
        if isinstance(kwargs.get("config"), Mapping):
            kwargs["config"] = CohortConfig(**kwargs["config"])
        log.info("generating synthetic cohort %s into %s", self.cohort, self.data_dir)
        write_cohort(self.data_dir, overwrite=meta_file.exists(), **kwargs)

    def _keep_store(self, meta_file: Path) -> bool:
        """Whether the existing store is used as it is: anything the generator did not provably write is kept."""
        from nextgen_ml.data.cohort.generate import GENERATOR

        meta = json.loads(meta_file.read_text())
        gen = meta.get("generator") or {}
        if gen.get("name") != GENERATOR or "ingest" in meta or meta.get("appends"):
            log.warning("data_dir %s holds a store the cohort generator did not write: it is used as it is and "
                        "never regenerated (data.cohort is ignored)", self.data_dir)
            return True
        return self._cached_cohort_matches(meta)

    def _cached_cohort_matches(self, meta: dict[str, Any]) -> bool:
        """Whether the cached store was generated with this cohort's parameters and the current schema."""
        gen = meta.get("generator") or {}
        wanted = {"n": self.cohort.get("n"), "sites": self.cohort.get("sites", 5), "seed": self.cohort.get("seed", 0)}
        same = meta.get("schema_version") == SCHEMA_VERSION and all(gen.get(k) == v for k, v in wanted.items())
        # every generator setting, defaults included: a store from an older generator lacks the newer settings
        # (e.g. heart sounds and wearables) and is regenerated rather than read with those columns empty
        from nextgen_ml.data.cohort import CohortConfig

        full = json.loads(json.dumps(vars(CohortConfig(**(self.cohort.get("config") or {}))), default=list))
        same = same and all(gen.get("config", {}).get(k, "<absent>") == v for k, v in full.items())
        if not same:
            log.warning("cached cohort at %s was generated with other settings or schema; regenerating", self.data_dir)
        return same

    def open_store(self) -> RecordStore:
        """The store view this run may use: requested columns, sites and (with a purpose) consented records."""
        columns = ["patient_id", "site", "split", "labels"] + [modality_spec(m).column for m in self.modalities]
        if self.purpose is None:
            return RecordStore(self.data_dir, columns=columns, sites=self.sites)
        from nextgen_ml.governance.consent_filter import filter_store
        from nextgen_ml.governance.duo import ResearchPurpose

        store, self.consent_report = filter_store(self.data_dir, ResearchPurpose(**self.purpose), columns, self.sites)
        log.info("consent filter: %s", self.consent_report.counts())
        return store

    def setup(self, stage: str | None = None) -> None:
        if self.store is not None:
            return
        self.prepare_data()
        self.store = store = self.open_store()
        predates = [m for m in self.modalities if modality_spec(m).column in getattr(store, "missing_columns", ())]
        if predates:
            self.store = None
            raise ValueError(
                f"modalities: {predates} requested but the store at {self.data_dir} was written with record schema "
                f"{store.metadata.get('schema_version')}, which has no such column; re-ingest or regenerate it"
            )
        if len(store) == 0:
            raise ValueError(f"data_dir: the store at {self.data_dir} has no records for sites {self.sites}")
        restored = self._restored or {}
        if "split_indices" in restored:
            self.split_indices = {k: np.asarray(v, dtype=np.int64) for k, v in restored["split_indices"].items()}
            if max((int(v.max()) for v in self.split_indices.values() if v.size), default=-1) >= len(store):
                raise ValueError(f"data_dir: the checkpoint's splits do not fit the store at {self.data_dir}")
        else:
            self.split_indices = self._make_splits(store)
        train_view = store.subset(self._fit_sample(self.split_indices["train"]))
        for m in self.modalities:
            spec = modality_spec(m)
            cls = spec.transform_class
            transform = spec.make_transform(store, **self.transform_kwargs[m])  # context: panel, dictionary
            if m in restored.get("transforms", {}):
                transform.load_state_dict(restored["transforms"][m])
            else:
                needs_data = cls.fit is not ModalityTransform.fit
                transform.fit(train_view.column(cls.column).to_pylist() if needs_data else [])
            self.transforms[m] = transform
        hidden = self._hidden_train_labels(store)
        self.datasets = {
            name: MultimodalDataset(store.subset(idx), self.transforms, train=name == "train",
                                    hidden_labels=hidden if name == "train" else ())
            for name, idx in self.split_indices.items()
        }
        log.info("splits: %s", {k: len(v) for k, v in self.split_indices.items()})

    def _hidden_train_labels(self, store: RecordStore) -> np.ndarray:
        """Positions in the training split whose labels ``label_fraction`` hides (sets :attr:`labelled_train`)."""
        train = self.split_indices["train"]
        if self.label_fraction == 1:
            self.labelled_train = train
            return np.zeros(0, dtype=np.int64)
        label = store.dictionary.label(self.stratify_on)
        values = pc.struct_field(store.subset(train).column("labels"), [self.stratify_on]).to_pylist()
        keep = labelled_subset(strata(label, values), self.label_fraction, self.seed)
        self.labelled_train = train[keep]
        log.info("label_fraction=%g: %d of %d training rows keep their labels (stratified on %s)",
                 self.label_fraction, keep.size, train.size, self.stratify_on)
        return np.setdiff1d(np.arange(train.size), keep)

    def _fit_sample(self, train_idx: np.ndarray) -> np.ndarray:
        """At most ``fit_max_records`` of the training indices (seeded, sorted); all of them below the cap."""
        if len(train_idx) <= self.fit_max_records:
            return train_idx
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(train_idx, self.fit_max_records, replace=False))

    def _make_splits(self, store: RecordStore) -> dict[str, np.ndarray]:
        if self.split == "predefined":
            return predefined_split(store.column("split").to_pylist())
        label = store.dictionary.label(self.stratify_on)
        # only the stratification label is converted to Python (not every record's whole labels struct)
        labels = strata(label, pc.struct_field(store.column("labels"), [self.stratify_on]).to_pylist())
        sites = store.column("site").to_pylist()
        groups = store.column("patient_id").to_pylist()
        if isinstance(self.data_dir, list):  # records of two stores may reuse a patient id: a patient is (site, id)
            groups = [f"{s}/{p}" for s, p in zip(sites, groups, strict=True)]
        if self.split == "site":
            return site_held_out_split(sites, self.test_sites, labels, groups, self.val_frac, self.seed)
        if self.split == "kfold":
            return kfold_splits(labels, groups, self.folds, self.val_frac, self.seed)[self.fold]
        return stratified_group_split(labels, groups, self.val_frac, self.test_frac, self.seed)

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Fitted transforms, split indices and the data dictionary, saved by Lightning inside every checkpoint."""
        return {
            "dictionary": None if self.store is None else self.store.dictionary.as_dict(),
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
    def label_statistics(self, name: str) -> dict[str, float] | None:
        """Mean and SD of a regression label on the training split (None for other kinds)."""
        if self.store is None:
            raise RuntimeError("label_statistics is available after setup()")
        if self.store.dictionary.label(name).kind != "regression":
            return None
        y = np.array([v for v in self._training_label_values(name) if v is not None])
        if y.size == 0:
            raise ValueError(f"task.target: no training record has the label {name!r}")
        return {"mean": float(y.mean()), "std": float(y.std()) if y.size > 1 else 1.0}

    def training_targets(self, name: str) -> np.ndarray:
        """Targets of label ``name`` on the training rows that keep their labels, encoded as the model sees them
        (:mod:`nextgen_ml.data.targets`): ``(n,)`` or ``(n, K)``, missing as NaN / -1."""
        if self.store is None:
            raise RuntimeError("training_targets is available after setup()")
        label = self.store.dictionary.label(name)
        values = self._training_label_values(name)
        return np.stack([TARGET_ENCODERS[label.kind](label, v) for v in values]) if values else np.zeros((0,))

    def _training_label_values(self, name: str) -> list[Any]:
        """Stored values of label ``name`` on the training rows that keep their labels (None = unlabelled)."""
        train = self.store.subset(self.split_indices["train"] if self.labelled_train is None else self.labelled_train)
        return pc.struct_field(train.column("labels"), [name]).to_pylist()

    @property
    def dictionary(self) -> DataDictionary:
        """The data dictionary of the store(s) (after :meth:`setup`): declared variables and labels."""
        if self.store is None:
            raise RuntimeError("dictionary is available after setup()")
        return self.store.dictionary

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
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            prefetch_factor=self.prefetch_factor if self.num_workers > 0 else None,
            multiprocessing_context=self.multiprocessing_context if self.num_workers > 0 else None,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        # privacy=dp: the DPCallback swaps this for Poisson sampling for the duration of a fit
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
