"""Records of a store view → samples → batches of ``{modality: tensor}`` plus presence masks."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from nextgen_ml.data.dropout import drop_modalities
from nextgen_ml.data.store import RecordStore
from nextgen_ml.data.targets import TargetEncoder
from nextgen_ml.data.transforms import ModalityTransform


class MultimodalDataset(Dataset):
    """One sample per record of ``store``: transformed modalities (None where absent) and targets.

    Args:
        store: a :class:`RecordStore` view opened with ``patient_id``, ``labels`` and the modality columns.
        transforms: modality name → fitted transform.
        train: whether random (training-time) augmentation and cropping apply.
        hidden_labels: positions in ``store`` whose labels are hidden (every target missing, e.g.
            ``data.label_fraction``); the rows still yield their inputs.
    """

    def __init__(self, store: RecordStore, transforms: Mapping[str, ModalityTransform], train: bool = False,
                 hidden_labels: Collection[int] = ()) -> None:
        needed = {"patient_id", "labels"} | {t.column for t in transforms.values()}
        missing = needed - set(store.columns)
        if missing:
            raise ValueError(f"store: view was opened without columns {sorted(missing)}")
        self.store, self.transforms, self.train = store, dict(transforms), train
        self.targets = TargetEncoder(store.dictionary)
        self.hidden_labels = frozenset(int(i) for i in hidden_labels)

    def __len__(self) -> int:
        return len(self.store)

    def _input(self, modality: str, value: Any, pid: str) -> Any:
        """One record's model input for ``modality`` (None where the record lacks it)."""
        return None if value is None else self.transforms[modality](value, record_id=pid, train=self.train)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.store.row(i)
        pid = row["patient_id"]
        inputs = {m: self._input(m, row[t.column], pid) for m, t in self.transforms.items()}
        labels = None if i in self.hidden_labels else row["labels"]
        return {"inputs": inputs, "targets": self.targets(labels), "index": i}

    def modality_inputs(self, modality: str) -> list[Any]:
        """``modality``'s input for every record in order, reading only its column (one pass, not one per row)."""
        values = self.store.column(self.transforms[modality].column).to_pylist()
        pids = self.store.column("patient_id").to_pylist()
        return [self._input(modality, v, pid) for v, pid in zip(values, pids, strict=True)]


class Collate:
    """Stack samples into a batch; optionally drop present modalities at random (training only).

    Absent rows of a modality hold zeros and are marked False in ``mask``; a modality absent from every row of
    the batch is left out of ``inputs`` (its mask is all False).

    Args:
        modalities: the modalities to put in every batch (mask included even when absent).
        modality_dropout: probability of hiding each present modality of a row; at least one stays.

    Dropout draws from torch's generator, which Lightning's ``seed_everything(workers=True)`` seeds per worker.
    """

    def __init__(self, modalities: Sequence[str], modality_dropout: float = 0.0) -> None:
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.modalities, self.p = sorted(modalities), modality_dropout

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        b = len(samples)
        present = torch.tensor(
            [[s["inputs"].get(m) is not None for m in self.modalities] for s in samples], dtype=torch.bool
        ).reshape(b, len(self.modalities))  # (B, M)
        if self.p > 0:
            present = drop_modalities(present, self.p)
        inputs, mask = {}, {}
        for j, m in enumerate(self.modalities):
            mask[m] = present[:, j].clone()
            example = next((s["inputs"][m] for s in samples if s["inputs"].get(m) is not None), None)
            if example is None:
                continue
            stacked = np.zeros((b, *example.shape), dtype=example.dtype)
            for r, s in enumerate(samples):
                if s["inputs"].get(m) is not None:
                    stacked[r] = s["inputs"][m]
            inputs[m] = torch.from_numpy(stacked)
        targets = {k: torch.from_numpy(np.stack([s["targets"][k] for s in samples])) for k in samples[0]["targets"]}
        index = torch.tensor([s["index"] for s in samples], dtype=torch.long)
        return {"inputs": inputs, "mask": mask, "targets": targets, "index": index}
