"""Gathering InfoNCE rows across processes: padding to the largest batch is marked absent."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from nextgen_ml.pretraining.distributed import gather_rows


class _TwoProcesses:
    """Stands in for a LightningModule on process 0 of 2: the other process holds ``other`` rows (3 of them)."""

    def __init__(self, other: dict[str, torch.Tensor]) -> None:
        self._trainer = SimpleNamespace(world_size=2)
        self.other = other

    def all_gather(self, x: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        if x.ndim == 0:  # batch sizes
            return torch.stack([x, torch.tensor(3)])
        key = "z" if x.is_floating_point() else "m"
        return torch.stack([x, self.other[key].to(x.dtype)])


def test_rows_of_both_processes_padding_absent() -> None:
    z = {"ecg": torch.randn(2, 4, requires_grad=True), "image": torch.randn(2, 4)}
    mask = {"ecg": torch.tensor([True, True]), "image": torch.tensor([True, False])}
    other = {"z": torch.ones(3, 4), "m": torch.ones(3, dtype=torch.uint8)}
    gz, gm = gather_rows(_TwoProcesses(other), z, mask, ["ecg", "image", "text"])
    assert set(gz) == {"ecg", "image", "text"}
    assert gz["ecg"].shape == (6, 4) and torch.equal(gz["ecg"][:2], z["ecg"].detach())
    assert gm["ecg"].tolist() == [True, True, False, True, True, True]  # row 3 = this process's padding
    assert gm["image"].tolist() == [True, False, False, True, True, True]
    assert gm["text"][:3].tolist() == [False, False, False]  # absent from this batch: absent rows, in the graph
    assert gz["text"].requires_grad
    gz["ecg"].sum().backward()
    assert torch.equal(z["ecg"].grad, torch.ones(2, 4))


def test_one_process_gathers_nothing() -> None:
    z, mask = {"ecg": torch.randn(2, 4)}, {"ecg": torch.tensor([True, True])}
    module = SimpleNamespace(_trainer=SimpleNamespace(world_size=1))
    assert gather_rows(module, z, mask, ["ecg"]) == (z, mask)
