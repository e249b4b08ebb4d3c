"""RecordStore in DataLoader workers: it pickles as a path (never its data) and reopens (re-maps) in each worker."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nextgen_ml.data.dataset import Collate, MultimodalDataset
from nextgen_ml.data.store import RecordStore
from nextgen_ml.data.transforms import EcgTransform, TabularTransform


def test_store_pickles_as_its_location_not_its_data(tiny_store: Path) -> None:
    store = RecordStore(tiny_store, columns=["patient_id", "ecg", "labels"], sites=["site_a", "site_b"])
    view = store.subset([5, 1, 3])
    blob = pickle.dumps(view)
    assert store.table.nbytes > 100 * len(blob)  # the payloads stay behind
    back = pickle.loads(blob)
    assert len(back) == 3 and back.columns == view.columns
    for i in range(3):
        assert back.row(i) == view.row(i)
    assert back.table.column("ecg").chunk(0).buffers()[-1] is not None  # reopened and readable


def _dataset(tiny_store: Path) -> MultimodalDataset:
    store = RecordStore(tiny_store, columns=["patient_id", "labels", "ecg", "tabular"])
    train = store.subset(np.arange(0, 60))
    tab = TabularTransform().fit(train.column("tabular").to_pylist())
    return MultimodalDataset(train, {"ecg": EcgTransform(fs_hz=100.0), "tabular": tab})


def _collect(loader: DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    batches = list(loader)
    return (torch.cat([b["index"] for b in batches]), torch.cat([b["inputs"]["tabular"] for b in batches]))


@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_workers_read_the_same_batches_as_the_main_process(tiny_store: Path, context: str) -> None:
    ds = _dataset(tiny_store)
    collate = Collate(["ecg", "tabular"])
    ref_index, ref_tab = _collect(DataLoader(ds, batch_size=16, collate_fn=collate))
    workers = 2 if context == "fork" else 1  # spawn starts a fresh interpreter per worker: keep it to one
    loader = DataLoader(ds, batch_size=16, collate_fn=collate, num_workers=workers, multiprocessing_context=context)
    index, tab = _collect(loader)
    assert torch.equal(index, ref_index)
    assert torch.equal(tab, ref_tab)
