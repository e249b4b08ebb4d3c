"""Exact resume: a run killed at any point and resumed from ``last.ckpt`` trains on the same batches, with the
same random draws, as the uninterrupted run.

Lightning restores weights, optimizer, scheduler and loop progress, but not (1) the order of the shuffled training
batches (a ``RandomSampler`` draws its permutation from torch's global generator, whose state differs after a
restart), (2) the position inside an interrupted epoch (a plain ``DataLoader`` restarts from its first batch), nor
(3) the global torch / numpy / python generators that dropout and augmentation use. :class:`ExactResume` fixes all
three for the fit it is attached to:

* the training loader is rebuilt with :class:`EpochSampler` (permutation = f(seed, epoch), set through Lightning's
  ``set_epoch``) and its own base-seed generator, so iterating it draws nothing from the global generator;
* the loader is :class:`ResumableLoader`, which Lightning recognises as stateful: its state (epoch, batches
  trained in it) is saved in every checkpoint and, on resume, the already-trained batches are skipped;
* the callback's checkpoint state holds the global generators' states, restored when training restarts.

Under DP the training loader is ``DPCallback``'s (Poisson sampling from the secret ChaCha20 streams, which resume
from the key file, the step count and the interrupted epoch's position); :class:`ExactResume` then restores only
the global generators (dropout, augmentation), so a DP run resumed with its key file ends bitwise where the
uninterrupted run does, with the same ε and steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler[int]):
    """A shuffled order of ``n`` indices that is a function of ``(seed, epoch)`` only.

    Args:
        n: dataset size.
        seed: the run's seed.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, int(seed), 0
        self.resume: tuple[int, int] | None = None  # (epoch, samples already trained in it)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before every epoch (with the restored epoch on resume)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        # runs at the first fetch, after Lightning's set_epoch (the loader iterator is created before it)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        start = self.resume[1] if self.resume is not None and self.resume[0] == self.epoch else 0
        self.resume = None
        return iter(order[start:])

    def __len__(self) -> int:
        return self.n


class ResumableLoader:
    """A training loader that Lightning saves and restores (``state_dict`` / ``load_state_dict``).

    Args:
        loader: a ``DataLoader`` over :class:`EpochSampler`.
        trained: ``() -> int``, batches of the current epoch already trained (Lightning's batch progress; the
            loader itself runs one batch ahead of training because Lightning prefetches).
    """

    def __init__(self, loader: DataLoader, trained: Any) -> None:
        self.loader, self.dataset, self.trained = loader, loader.dataset, trained
        self.sampler, self.batch_size = loader.sampler, loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.loader)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "trained": int(self.trained())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # the interrupted epoch continues after the batches it already trained on (Lightning runs the rest)
        self.sampler.resume = (int(state["epoch"]), int(state["trained"]) * int(self.batch_size))


def _rng_state() -> dict[str, Any]:
    """The global generators' states in plain types (checkpoints load with ``weights_only``)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the legacy global state is the one used)
    return {"torch": torch.get_rng_state(), "numpy": [name, keys.tolist(), pos, has_gauss, gauss],
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ExactResume(pl.Callback):
    """Makes a resumed fit continue exactly where the checkpointed one was (see the module docstring).

    Args:
        seed: the run's seed (the batch order of epoch e is a function of it and e).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._datamodule: Any = None
        self._restored: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return "ExactResume"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        dm = trainer.datamodule
        if stage != "fit" or dm is None or "train_dataloader" in vars(dm):  # another callback (DP) owns it
            return
        plain = type(dm).train_dataloader.__get__(dm)
        progress = trainer.fit_loop.epoch_loop.batch_progress

        def resumable_loader() -> ResumableLoader:
            loader = plain()
            rebuilt = DataLoader(
                loader.dataset, batch_size=loader.batch_size, sampler=EpochSampler(len(loader.dataset), self.seed),
                collate_fn=loader.collate_fn, num_workers=loader.num_workers, pin_memory=loader.pin_memory,
                persistent_workers=loader.persistent_workers, drop_last=loader.drop_last,
                prefetch_factor=loader.prefetch_factor, multiprocessing_context=loader.multiprocessing_context,
                generator=torch.Generator().manual_seed(self.seed),  # iterating draws nothing from torch's global
            )
            return ResumableLoader(rebuilt, lambda: progress.current.processed)

        dm.train_dataloader = resumable_loader
        self._datamodule = dm

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._datamodule is not None:
            self._datamodule.__dict__.pop("train_dataloader", None)
            self._datamodule = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._restored is not None:  # resuming: the generators as they were when the checkpoint was written
            _set_rng_state(self._restored)
            self._restored = None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = state_dict.get("rng")
