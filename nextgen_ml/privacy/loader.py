"""Poisson sampling with dict samples, drawn from the secure generator, with a collate that survives empty batches.

:class:`SecurePoissonSampler` is Opacus's ``UniformWithReplacementSampler`` (each record in each logical batch
independently with probability q) with its masks drawn from :class:`~nextgen_ml.privacy.randomness.DPRandomness`
(ChaCha20, never torch's generator); the mask of logical batch ``b`` depends on the key and ``b`` only, so a
resumed run continues the same draws.

Opacus builds the empty batch of a Poisson draw from ``dataset[0]``'s element shapes, which fails for our dict
samples when the very first batch is empty. :class:`EmptySafeCollate` returns a well-formed empty batch instead:
``{"inputs": {}, "mask": {m: (0,) bool}, "targets": {k: (0, ...)}, "index": (0,) long}`` (with no rows, every
modality is absent from every row, so ``inputs`` is empty as the batch contract says).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from opacus.optimizers import DPOptimizer
from opacus.utils.batch_memory_manager import wrap_data_loader
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from torch.utils.data import DataLoader

from nextgen_ml.privacy.randomness import DPRandomness


def _empty_like(tree: Any) -> Any:
    if torch.is_tensor(tree):
        return tree[:0].clone()
    if isinstance(tree, dict):
        return {k: _empty_like(v) for k, v in tree.items()}
    raise TypeError(f"batch holds a {type(tree).__name__}; only tensors and dicts are supported")


class EmptySafeCollate:
    """Wrap a batch collate so an empty list of samples gives a well-formed empty batch dict.

    Args:
        collate: the data pipeline's collate (``nextgen_ml.data.dataset.Collate``).
        template: one sample of the dataset, used only for the target shapes and dtypes.
    """

    def __init__(self, collate: Callable[[Sequence[Any]], dict[str, Any]], template: Any) -> None:
        self.collate = collate
        self.empty = _empty_like(collate([template]))
        self.empty["inputs"] = {}

    def __call__(self, samples: Sequence[Any]) -> dict[str, Any]:
        if len(samples) == 0:
            return _empty_like(self.empty)
        return self.collate(samples)


class SecurePoissonSampler(UniformWithReplacementSampler):
    """Poisson batches of record indices, logical batch ``b`` drawn from the secure generator's stream ``b``.

    Args:
        num_samples: dataset size N.
        sample_rate: q.
        randomness: the run's secure generator.
        position: ``() -> (first logical batch, batches)`` of the epoch about to be iterated (called at the first
            draw of each epoch; the DP callback answers from its step count, so a resumed epoch continues where
            it stopped); None = continue from the previous iteration, ``round(1 / q)`` batches per epoch.
    """

    def __init__(self, num_samples: int, sample_rate: float, randomness: DPRandomness,
                 position: Callable[[], tuple[int, int]] | None = None) -> None:
        super().__init__(num_samples=num_samples, sample_rate=sample_rate, steps=round(1 / sample_rate))
        self.randomness, self.position, self._next = randomness, position, 0

    def __iter__(self) -> Iterator[list[int]]:
        first, count = self.position() if self.position is not None else (self._next, self.steps)
        self._next = first + count
        for batch in range(first, first + count):
            mask = self.randomness.poisson_mask(batch, self.num_samples, self.sample_rate)  # (N,) bool
            yield mask.nonzero(as_tuple=False).reshape(-1).tolist()


class PoissonDataLoader(DataLoader):
    """The Poisson loader; resumable for Lightning (``state_dict``/``load_state_dict``), with an empty state: its
    position (the step count, the interrupted epoch's batches) is in ``DPCallback``'s checkpoint state, which the
    sampler's ``position`` reads."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore here (see the class docstring)."""


class UnsizedLoader:
    """A loader of physical batches with no ``len``: Lightning then runs each epoch until the Poisson sampler is
    exhausted. (Opacus's physical-batch count is only an estimate; an epoch cut at it would leave a logical batch
    half-accumulated and carry its clipped gradients into the next step.)

    Args:
        loader: the ``BatchMemoryManager``-wrapped loader.
    """

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.dataset = loader.dataset

    def __iter__(self) -> Any:
        return iter(self.loader)


def batch_size_of(batch: dict[str, Any]) -> int:
    """Rows in a batch dict (0 for an empty Poisson draw)."""
    return int(batch["index"].shape[0])


def dp_loader(loader: DataLoader, sample_rate: float, randomness: DPRandomness | None = None,
              position: Callable[[], tuple[int, int]] | None = None, max_physical_batch_size: int | None = None,
              optimizer: DPOptimizer | None = None) -> DataLoader | UnsizedLoader:
    """Poisson-sampled copy of ``loader`` (same dataset and collate), optionally split into physical batches.

    Args:
        loader: the datamodule's training loader.
        sample_rate: probability q that each record is in a batch (``1 / len(loader)`` keeps the mean batch size).
        randomness: the secure generator of the masks (None = a fresh one, key from OS entropy).
        position: see :class:`SecurePoissonSampler`.
        max_physical_batch_size: with ``optimizer``, wrap with Opacus's ``BatchMemoryManager`` splitting so one
            logical (Poisson) batch becomes several physical ones and the optimizer steps once per logical batch.
        optimizer: the ``DPOptimizer`` (needed only for ``max_physical_batch_size``).
    """
    collate = EmptySafeCollate(loader.collate_fn, loader.dataset[0])
    sampler = SecurePoissonSampler(len(loader.dataset), sample_rate, randomness or DPRandomness(), position)
    out = PoissonDataLoader(loader.dataset, batch_sampler=sampler, collate_fn=collate, num_workers=loader.num_workers,
                     pin_memory=loader.pin_memory, persistent_workers=loader.persistent_workers)
    if max_physical_batch_size is not None:
        if optimizer is None:
            raise ValueError("max_physical_batch_size needs the DPOptimizer (it signals skipped steps)")
        return UnsizedLoader(wrap_data_loader(data_loader=out, max_batch_size=max_physical_batch_size,
                                              optimizer=optimizer))
    return out
