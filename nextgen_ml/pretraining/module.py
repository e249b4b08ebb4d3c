"""``PretrainModule``: the thin LightningModule of self-supervised pretraining (labels are never read)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from nextgen_ml.pretraining.distributed import gather_rows
from nextgen_ml.pretraining.net import PretrainNet
from nextgen_ml.pretraining.objectives import PretrainObjective
from nextgen_ml.tasks.module import optimization


def embedding_std(z: dict[str, Tensor], mask: dict[str, Tensor]) -> Tensor:
    """Mean over modalities and dimensions of the SD of the present rows' embeddings (→ 0 on collapse)."""
    stds = [v.detach()[mask[m]].std(dim=0).mean() for m, v in z.items() if int(mask[m].sum()) > 1]
    return torch.stack(stds).mean() if stds else torch.zeros((), device=next(iter(z.values())).device)


class PretrainModule(pl.LightningModule):
    """Forward the :class:`PretrainNet`, compute the configured objectives, log ``stage/loss`` and each part.

    Args:
        net: the pretraining net (encoders, projections, optional fusion + predictors and temperature).
        objective: the weighted objectives; also the module's ``task`` (what ``DPCallback`` asks for its
            per-sample loss).
        optimizer: ``functools.partial`` taking the parameters and returning an optimizer.
        scheduler: optional ``partial`` taking the optimizer and returning an LR scheduler.
        gather_negatives: under DDP, InfoNCE negatives come from every process's batch (else per process).

    Batches are those of :class:`~nextgen_ml.data.datamodule.CardioDataModule`; their ``targets`` are ignored, so
    every record takes part, and rows with missing modalities are handled by the ``mask``. Validation hides the
    same modalities every epoch (a generator seeded with the batch index), so ``val/loss`` is comparable across
    epochs.
    """

    def __init__(self, net: PretrainNet, objective: PretrainObjective,
                 optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                 scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
                 gather_negatives: bool = True) -> None:
        super().__init__()
        self.net, self.task = net, objective
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.gather_negatives = gather_negatives
        self.modalities = sorted(net.encoders)
        #: DP-SGD's per-sample-sum objective (installed by ``DPCallback``), backpropagated instead of the mean loss.
        self.train_objective: Any = None

    @property
    def objective(self) -> PretrainObjective:
        return self.task

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor], generator: torch.Generator | None = None
                ) -> dict[str, Any]:
        return self.net(inputs, mask, masked=self.task.needs_masking, generator=generator)

    def _gather(self, z: dict[str, Tensor], mask: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        return gather_rows(self, z, mask, self.modalities)

    def _step(self, batch: dict[str, Any], stage: str, generator: torch.Generator | None = None) -> Tensor:
        out = self(batch["inputs"], batch["mask"], generator)
        scale = self.net.logit_scale() if self.net.logit_scale is not None else None
        gather = self._gather if self.gather_negatives else None
        loss, parts = self.task.loss(out, batch["mask"], scale, gather)
        rows, sync = int(batch["index"].shape[0]), stage != "train"
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=rows,
                 sync_dist=sync)
        for name, value in parts.items():
            self.log(f"{stage}/{name}", value, on_step=False, on_epoch=True, batch_size=rows, sync_dist=sync)
        self.log(f"{stage}/embedding_std", embedding_std(out["z"], batch["mask"]), on_step=False, on_epoch=True,
                 batch_size=rows, sync_dist=sync)
        if scale is not None and stage == "train":
            self.log("train/temperature", (-scale.detach()).exp(), on_step=False, on_epoch=True, batch_size=rows)
        if stage == "train" and self.train_objective is not None:
            return self.train_objective(out, batch["mask"])
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if self.train_objective is not None and batch["index"].numel() == 0:
            # an empty Poisson batch (DP-SGD): no forward, a zero loss so the noisy step still happens
            return self.train_objective.empty_batch_loss()
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "val", torch.Generator().manual_seed(batch_idx))

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "test", torch.Generator().manual_seed(batch_idx))

    @torch.no_grad()
    def embed(self, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
        """Modality → ``(B, P)`` L2-normalised embeddings (rows where ``mask`` is False are placeholders)."""
        return self.net(inputs, mask)["z"]

    def configure_optimizers(self) -> Any:
        return optimization(self, self.optimizer_factory, self.scheduler_factory)
