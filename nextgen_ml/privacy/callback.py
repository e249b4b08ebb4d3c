"""``DPCallback``: DP-SGD with Opacus for any Lightning fit of a ``MultimodalModule`` on a ``CardioDataModule``.

At ``setup`` it refuses settings that would falsify ε, and derives q, δ and σ; at ``on_fit_start`` it attaches
Opacus's per-sample-gradient hooks to the module's net (no wrapping: state-dict keys stay those of the plain net,
so checkpoints load into non-DP evaluation), swaps the optimizer for a ``DPOptimizer`` and installs the exact
per-sample-sum objective; the callback wraps the datamodule's training loader into Opacus's Poisson
``DPDataLoader`` for the duration of the fit (the DataModule class knows nothing of DP). Noise and sampling draw
from :class:`~nextgen_ml.privacy.randomness.DPRandomness` (OS entropy, reseeded every step; never the config's
``seed``). Every noisy step advances the accountant; training stops after the last step whose ε ≤ target; the
accountant is saved in every checkpoint and restored on resume (same budget). δ comes from a public bound on N
(``privacy.n_bound``), so the report does not publish the training-set size.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
from opacus.accountants import create_accountant
from opacus.optimizers import DPOptimizer
from torch.utils.data import DataLoader

from nextgen_ml.privacy.accounting import accountant_epsilon, last_step_within, noise_for_budget, planned_steps
from nextgen_ml.privacy.config import ACCOUNTANT_CODES, DPConfig
from nextgen_ml.privacy.engine import fill_missing_grads, make_private_parts
from nextgen_ml.privacy.guards import check_trainer
from nextgen_ml.privacy.loader import batch_size_of, dp_loader
from nextgen_ml.privacy.losses import per_sample_loss_fn
from nextgen_ml.privacy.objective import DPObjective
from nextgen_ml.privacy.randomness import DPRandomness

log = logging.getLogger(__name__)


class DPCallback(pl.Callback):
    """Differentially private training (DP-SGD, Opacus) of the fit it is attached to.

    Args:
        config: the DP settings (see :class:`~nextgen_ml.privacy.config.DPConfig`).

    Attributes after ``setup``: ``sample_rate`` (q), ``delta`` (δ), ``n_bound`` (the public bound on N),
    ``noise_multiplier`` (σ), ``n_train`` (private: never reported), ``planned`` (steps the noise is calibrated
    for), ``randomness`` (the noise and sampling generators); ``steps`` counts the noisy steps on this budget.
    """

    def __init__(self, config: DPConfig | None = None) -> None:
        self.config = config or DPConfig()
        self.accountant = create_accountant(mechanism=self.config.accountant)
        self.sample_rate: float | None = None
        self.delta: float | None = None
        self.noise_multiplier: float | None = None
        self.n_train = 0
        self.n_bound = 0
        self.randomness: DPRandomness | None = None
        self._datamodule: Any = None
        self.planned = 0
        self.max_steps = 0
        self._fits = 0
        self._hooks: Any = None
        self._optimizer: DPOptimizer | None = None
        self._module: Any = None
        self._rows = 0
        self._restored: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return "DPCallback"

    @property
    def steps(self) -> int:
        """Noisy optimizer steps taken on this budget (restored ones included)."""
        return sum(int(s) for _, _, s in self.accountant.history)

    def epsilon(self) -> float:
        """ε spent so far (0 before the first step)."""
        return accountant_epsilon(self.accountant, self.delta)

    # ------------------------------------------------------------------ set-up: refusals and the budget plan
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if self._fits:
            raise RuntimeError(f"privacy=dp: this DPCallback already trained on its budget ({self.steps} steps, "
                               f"ε={self.epsilon():.3f}); a second fit would spend it again unaccounted. Resume with "
                               "ckpt_path (same budget) or start a new run with a new DPCallback.")
        self._fits += 1
        check_trainer(trainer)
        per_sample_loss_fn(pl_module.task)  # refuses tasks without per-sample losses (survival)
        dm = trainer.datamodule
        if not dm.datasets:
            dm.setup("fit")
        self.n_train = len(dm.datasets["train"])
        batches = math.ceil(self.n_train / dm.batch_size)
        self.sample_rate = 1.0 / batches
        self.n_bound = self.config.resolved_n_bound(self.n_train)
        self.delta = self.config.resolved_delta(self.n_train)
        epochs = self.config.epochs or trainer.max_epochs
        self.planned = planned_steps(batches, epochs, trainer.max_steps, trainer.limit_train_batches,
                                     trainer.fast_dev_run)
        self.noise_multiplier = self.config.noise_multiplier or noise_for_budget(
            self.config.target_epsilon, self.delta, self.sample_rate, self.planned, self.config.accountant,
            self.config.epsilon_tolerance)
        self._wrap_train_dataloader(dm)
        log.info("DP-SGD: q=%.5f δ=%.3g (N <= %d) σ=%.4f over %d planned steps (target ε=%s, %s accountant)",
                 self.sample_rate, self.delta, self.n_bound, self.noise_multiplier, self.planned,
                 self.config.target_epsilon, self.config.accountant)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        cfg = self.config
        if self._restored is not None:  # resuming (trainer.fit(ckpt_path=...)): continue the same budget
            self._continue_budget(self._restored)
            self._restored = None
        # the noise is drawn on the parameters' device, known only now (the strategy moved the module after setup)
        self.randomness = DPRandomness(pl_module.device, cfg.reproducible_noise, cfg.noise_seed)
        if len(trainer.strategy.optimizers) != 1:
            raise ValueError(f"privacy=dp supports one optimizer, got {len(trainer.strategy.optimizers)}")
        self._hooks, self._optimizer = make_private_parts(pl_module.net, trainer.strategy.optimizers[0], cfg,
                                                          self.noise_multiplier, self.sample_rate * self.n_train,
                                                          generator=self.randomness.noise,
                                                          secure_mode=self.randomness.secure_mode)
        params = [p for p in pl_module.net.parameters() if p.requires_grad]
        self._optimizer.attach_step_hook(self._on_noisy_step)
        trainer.strategy.optimizers = [self._optimizer]
        ghost = self._hooks if cfg.grad_sample_mode == "ghost" else None
        pl_module.train_objective = DPObjective(pl_module.task, params, ghost=ghost)
        self._module = pl_module
        self.max_steps = last_step_within(cfg.target_epsilon, cfg.accountant, self.noise_multiplier,
                                          self.sample_rate, self.delta, max(self.planned, self.steps + 1))
        if self.steps >= self.max_steps:
            raise RuntimeError(f"privacy=dp: the budget ε={cfg.target_epsilon} is spent ({self.steps} steps, "
                               f"ε={self.epsilon():.3f}); the next step would exceed it")

    def _wrap_train_dataloader(self, dm: pl.LightningDataModule) -> None:
        """Make ``dm.train_dataloader()`` return the Poisson loader for this fit (undone in :meth:`_detach`).

        Lightning requests the training loader through ``getattr(datamodule, "train_dataloader")`` after
        ``on_fit_start`` (so the DP optimizer exists for ``max_physical_batch_size``); an instance attribute
        shadows the class's method for this fit only, and the DataModule needs no DP-specific attribute.
        """
        plain = type(dm).train_dataloader.__get__(dm)

        def poisson_loader() -> Any:
            return self._wrap_loader(plain())

        dm.train_dataloader = poisson_loader
        self._datamodule = dm

    def _wrap_loader(self, loader: DataLoader) -> Any:
        return dp_loader(loader, self.sample_rate, generator=self.randomness.sampling,
                         max_physical_batch_size=self.config.max_physical_batch_size, optimizer=self._optimizer)

    # ------------------------------------------------------------------ every step
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._rows = batch_size_of(batch)
        if self.config.grad_sample_mode == "ghost":
            self._hooks.enable_hooks()

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        fill_missing_grads(self._optimizer, self._rows, ghost=self.config.grad_sample_mode == "ghost")

    def _on_noisy_step(self, optimizer: DPOptimizer) -> None:
        self.accountant.step(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate)
        self.randomness.reseed()  # the next batch's sampling and the next step's noise: fresh entropy

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.steps >= self.max_steps and not trainer.should_stop:
            log.info("privacy=dp: stopping after step %d, the last one with ε <= %s", self.steps,
                     self.config.target_epsilon)
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pl_module.log("privacy/epsilon", self.epsilon())
        pl_module.log("privacy/steps", float(self.steps))

    # ------------------------------------------------------------------ teardown
    def _detach(self) -> None:
        if self._hooks is not None:
            self._hooks.cleanup()
            self._hooks = None
        if self._module is not None:
            self._module.train_objective = None
        if self._datamodule is not None:
            self._datamodule.__dict__.pop("train_dataloader", None)  # the class's plain loader again
            self._datamodule = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._detach()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._detach()

    # ------------------------------------------------------------------ checkpoints: the same budget on resume
    def state_dict(self) -> dict[str, Any]:
        return {"accountant": self.accountant.state_dict(), "mechanism": self.config.accountant,
                "noise_multiplier": self.noise_multiplier, "sample_rate": self.sample_rate, "delta": self.delta,
                "target_epsilon": self.config.target_epsilon, "max_grad_norm": self.config.max_grad_norm}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Applied at on_fit_start only: validate/test(ckpt_path=best) also restore callbacks, and must not rewind
        # the budget spent by the whole run to that of the best checkpoint.
        self._restored = dict(state_dict)

    def _continue_budget(self, state_dict: dict[str, Any]) -> None:
        for key, mine in (("mechanism", self.config.accountant), ("target_epsilon", self.config.target_epsilon),
                          ("max_grad_norm", self.config.max_grad_norm)):
            if state_dict[key] != mine:
                raise ValueError(f"privacy.{key if key != 'mechanism' else 'accountant'}: the checkpoint's budget "
                                 f"used {state_dict[key]!r}, this run {mine!r}; a resumed run must keep its budget")
        for key in ("sample_rate", "delta"):
            if self.__dict__[key] is not None and not math.isclose(state_dict[key], self.__dict__[key], rel_tol=1e-9):
                raise ValueError(f"privacy: the checkpoint's {key} {state_dict[key]} differs from this run's "
                                 f"{self.__dict__[key]} (training set or batch size changed); the budget cannot "
                                 "be continued")
        if self.noise_multiplier is not None and not math.isclose(state_dict["noise_multiplier"],
                                                                  self.noise_multiplier, rel_tol=1e-9):
            log.warning("privacy: continuing with the checkpoint's σ=%.4f (this plan derived σ=%.4f)",
                        state_dict["noise_multiplier"], self.noise_multiplier)
        self.noise_multiplier = state_dict["noise_multiplier"]
        self.sample_rate, self.delta = state_dict["sample_rate"], state_dict["delta"]
        self.accountant.load_state_dict(state_dict["accountant"])

    # ------------------------------------------------------------------ report
    def metrics(self) -> dict[str, float]:
        """The numbers that recompute ε (``privacy/accountant``: 0 = rdp, 1 = prv)."""
        return {
            "privacy/epsilon": self.epsilon(),
            "privacy/target_epsilon": float(self.config.target_epsilon),
            "privacy/delta": float(self.delta),
            "privacy/noise_multiplier": float(self.noise_multiplier),
            "privacy/sample_rate": float(self.sample_rate),
            "privacy/steps": float(self.steps),
            "privacy/max_grad_norm": float(self.config.max_grad_norm),
            "privacy/accountant": float(ACCOUNTANT_CODES[self.config.accountant]),
        }
