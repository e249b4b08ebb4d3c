"""The thin LightningModule: forward the net, compute the task loss, update and log torchmetrics per stage."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection

from nextgen_ml.tasks.param_groups import LR_SCALE, apply_lr_scales, parameter_groups

STAGES: tuple[str, ...] = ("train", "val", "test")


class MultimodalModule(pl.LightningModule):
    """Owns only the loss, one torchmetrics collection per stage and ``stage/metric`` logging.

    Args:
        net: any module with ``forward(inputs, mask) -> {"logits": (B, K), ...}`` (e.g. ``MultimodalNet``, possibly
            wrapped by Opacus); nothing else of it is used.
        task: a task from :mod:`nextgen_ml.tasks.tasks` (``loss``, ``metrics``, ``update``, ``predict``,
            ``main_metric``).
        optimizer: ``functools.partial`` (or any callable) taking the parameters and returning an optimizer.
        scheduler: optional ``partial`` taking the optimizer and returning an LR scheduler; a
            ``ReduceLROnPlateau`` monitors ``val/loss``.

    Batches are ``{"inputs": {m: Tensor}, "mask": {m: BoolTensor}, "targets": {name: Tensor}, "index": ...}``.

    A net output ``"aux_loss"`` ``(B,)`` (a fusion's own per-row loss, e.g. the subspace fusion's ELBO terms) is
    averaged and added to the training loss (``train/aux_loss`` is logged; ``train/loss`` stays the task loss);
    under DP it is added to each row's loss before clipping. Validation and test losses are the task loss only.

    Training metrics cost nothing per step: each step only keeps its detached logits and targets (a few floats per
    sample, on the device), and the metric collection is updated once with the whole epoch in
    :meth:`on_train_epoch_end` (the same values as per-step updates; no per-step metric kernels or host syncs).
    Validation and test update their metrics per batch (no backward pass to compete with).
    """

    def __init__(self, net: nn.Module, task: Any, optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                 scheduler: Callable[[torch.optim.Optimizer], Any] | None = None) -> None:
        super().__init__()
        # No save_hyperparameters: the net, task and optimizer partial are objects, and the resolved run config
        # goes into checkpoints through nextgen_ml.training.train.RunInfo.
        self.net, self.task = net, task
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        metrics = task.metrics()
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self._train_outputs: list[tuple[Tensor, dict[str, Tensor]]] = []
        #: optional training objective ``(logits, targets) -> scalar`` backpropagated instead of the task loss
        #: (DP-SGD installs the exact per-sample-loss sum, see nextgen_ml.privacy.objective); logging is unchanged.
        self.train_objective: Any = None

    def stage_metrics(self, stage: str) -> MetricCollection:
        """The metric collection of ``stage`` (``"train"``, ``"val"`` or ``"test"``)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        return getattr(self, f"{stage}_metrics")

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.net(inputs, mask)

    def _step(self, batch: dict[str, Any], stage: str) -> Tensor:
        out = self(batch["inputs"], batch["mask"])
        loss = self.task.loss(out["logits"], batch["targets"])
        if stage == "train":  # metrics are updated once per epoch (see the class docstring)
            self._train_outputs.append((out["logits"].detach(), {k: v.detach() for k, v in batch["targets"].items()}))
        else:
            self.task.update(self.stage_metrics(stage), out["logits"].detach(), batch["targets"])
        batch_size = out["logits"].shape[0]
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=stage == "val",
                 batch_size=batch_size)
        aux = out.get("aux_loss") if stage == "train" else None  # (B,) the fusion's own per-row loss (subspace ELBO)
        if aux is not None:
            self.log("train/aux_loss", aux.mean(), on_step=True, on_epoch=True, batch_size=batch_size)
        if stage == "train" and self.train_objective is not None:  # DP: the per-row aux joins each row's loss
            extra = {} if aux is None else {"aux": aux}
            return self.train_objective(out["logits"], batch["targets"], **extra)
        return loss if aux is None else loss + aux.mean()

    def _log_epoch(self, stage: str) -> None:
        metrics = self.stage_metrics(stage)
        if any(m.update_count for m in metrics.values(copy_state=False)):
            values = metrics.compute()
            main = f"{stage}/{self.task.main_metric}"
            self.log_dict({k: v for k, v in values.items() if k != main})
            if main in values:
                self.log(main, values[main], prog_bar=stage == "val")
        metrics.reset()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if self.train_objective is not None and batch["index"].numel() == 0:
            # an empty Poisson batch (DP-SGD): no forward, but a zero loss so the noisy optimizer step still happens
            return self.train_objective.empty_batch_loss()
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def on_train_epoch_start(self) -> None:
        self._train_outputs = []

    def on_train_epoch_end(self) -> None:
        if self._train_outputs:
            logits = torch.cat([o[0] for o in self._train_outputs])  # (N, K) over the epoch
            targets = {k: torch.cat([o[1][k] for o in self._train_outputs]) for k in self._train_outputs[0][1]}
            self._train_outputs = []
            self.task.update(self.train_metrics, logits, targets)
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        out = self(batch["inputs"], batch["mask"])
        return {"prediction": self.task.predict(out["logits"]), "embedding": out["embedding"],
                "index": batch.get("index")}

    def configure_optimizers(self) -> Any:
        return optimization(self, self.optimizer_factory, self.scheduler_factory)


def optimization(module: nn.Module, optimizer_factory: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                 scheduler_factory: Callable[[torch.optim.Optimizer], Any] | None) -> Any:
    """Lightning's ``configure_optimizers`` value: the optimizer over the module's **trainable** parameters (frozen
    encoders of a fine-tuning run are left out) and, if given, its scheduler (``ReduceLROnPlateau`` monitors
    ``val/loss``). Encoders built with an ``lr_scale`` get their own parameter group at that multiple of the
    learning rate (:mod:`nextgen_ml.tasks.param_groups`)."""
    groups = parameter_groups(module)
    if all(g[LR_SCALE] == 1.0 for g in groups):
        optimizer = optimizer_factory(p for g in groups for p in g["params"])
    else:
        optimizer = apply_lr_scales(optimizer_factory(groups))
    if scheduler_factory is None:
        return optimizer
    scheduler = scheduler_factory(optimizer)
    config: dict[str, Any] = {"scheduler": scheduler}
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        config["monitor"] = "val/loss"
    return {"optimizer": optimizer, "lr_scheduler": config}
