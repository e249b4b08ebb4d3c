"""``DPCallback``: DP-SGD with Opacus for any Lightning fit of a ``MultimodalModule`` on a ``CardioDataModule``.

At ``setup`` it refuses settings that would falsify ε, and derives q, δ and σ; at ``on_fit_start`` it attaches
Opacus's per-sample-gradient hooks to the module's net (no wrapping: state-dict keys stay those of the plain net,
so checkpoints load into non-DP evaluation), swaps the optimizer for a ``DPOptimizer`` and installs the exact
per-sample-sum objective; the callback wraps the datamodule's training loader into Opacus's Poisson
Poisson loader for the duration of the fit (the DataModule class knows nothing of DP). Noise and sampling draw
from :class:`~nextgen_ml.privacy.randomness.DPRandomness` (ChaCha20 keyed from OS entropy; never the config's
``seed``). Every noisy step advances the accountant; training stops after the last step whose ε ≤ target; the
accountant is saved in every checkpoint and restored on resume (same budget). δ comes from a public bound on N
(``privacy.n_bound``), so the report does not publish the training-set size.

Exact resume: the noise of step ``t`` and the mask of logical batch ``b`` are positional streams of the secret key,
so a resumed run continues them from the key, its restored step count and the interrupted epoch's position
(``epoch``, ``batches_in_epoch`` in the checkpoint). The key is never in the checkpoint: only its public id is;
the key goes to a 0600 file next to the checkpoints (:mod:`nextgen_ml.privacy.noise_key`), removed when the fit
completes. A resume that cannot find it continues with a fresh key, loudly (ε is unaffected; only the bitwise
replay of the uninterrupted run is lost).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
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
from nextgen_ml.privacy.noise_key import find_key, write_key_file
from nextgen_ml.privacy.objective import DPObjective
from nextgen_ml.privacy.randomness import DPRandomness

log = logging.getLogger(__name__)


class DPCallback(pl.Callback):
    """Differentially private training (DP-SGD, Opacus) of the fit it is attached to.

    Args:
        config: the DP settings (see :class:`~nextgen_ml.privacy.config.DPConfig`).

    Attributes after ``setup``: ``sample_rate`` (q), ``delta`` (δ), ``n_bound`` (the public bound on N),
    ``noise_multiplier`` (σ), ``n_train`` (private: never reported), ``planned`` (steps the noise is calibrated
    for), ``randomness`` (the noise and sampling generators); ``steps`` counts the noisy steps on this budget;
    ``noise_continued`` (a resumed fit: whether the noise key was found, so the streams continue exactly).
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
        self._trainer: pl.Trainer | None = None
        self._position: tuple[int, int] | None = None  # restored (epoch, logical batches trained in it)
        self._epoch_first = 0  # step count at the start of the current epoch
        self._key_dir: Path | None = None
        self._key_file: Path | None = None
        self.noise_continued: bool | None = None
        self._fitting = False

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
        self._trainer = trainer
        ckpt = getattr(trainer.checkpoint_callback, "dirpath", None)
        self._key_dir = Path(ckpt or trainer.default_root_dir)
        restored, self._restored = self._restored, None
        if restored is not None:  # a checkpoint's or a federated site's earlier round: continue the same budget
            self._continue_budget(restored)
        if restored is not None and getattr(trainer, "ckpt_path", None):  # resuming a fit: and the same streams
            self._position = (int(restored.get("epoch", -1)), int(restored.get("batches_in_epoch", 0)))
        else:  # a new fit (a federated round): a fresh key, batches from the epoch's start
            restored = None
        self.randomness = self._randomness(trainer, restored)
        self._fitting = True
        if len(trainer.strategy.optimizers) != 1:
            raise ValueError(f"privacy=dp supports one optimizer, got {len(trainer.strategy.optimizers)}")
        self._hooks, self._optimizer = make_private_parts(pl_module.net, trainer.strategy.optimizers[0], cfg,
                                                          self.noise_multiplier, self.sample_rate * self.n_train,
                                                          randomness=self.randomness, first_step=self.steps)
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

    def _randomness(self, trainer: pl.Trainer, restored: dict[str, Any] | None) -> DPRandomness:
        """The fit's secure generator: the debug one, the resumed run's key, or a fresh key."""
        cfg = self.config
        kid = (restored or {}).get("noise_key_id")
        if cfg.reproducible_noise:
            rng = DPRandomness(reproducible=True, seed=cfg.noise_seed)
            self.noise_continued = None if restored is None else kid == rng.key_id
            return rng
        if restored is None:
            return DPRandomness()
        ckpt_path = getattr(trainer, "ckpt_path", None)
        found = find_key(kid, [Path(ckpt_path).parent if ckpt_path else None, self._key_dir]) if kid else None
        self.noise_continued = found is not None
        if found is None:
            log.warning("privacy=dp: RESUMING WITH A FRESH NOISE KEY — the key file %s was not found next to the "
                        "checkpoint nor in %s. ε and the step count continue exactly (privacy does not depend on "
                        "the key); the noise and sampling differ from the interrupted run's continuation.",
                        f"dp_noise_{(kid or '?')[:16]}.key", self._key_dir)
            return DPRandomness()
        log.info("privacy=dp: continuing the noise streams with the key in %s", found[1])
        self._key_file = found[1] if found[1].parent.resolve() == self._key_dir.resolve() else None
        return DPRandomness(key=found[0])

    def _epoch_draws(self) -> tuple[int, int]:
        """(first logical batch, batches) of the epoch the Poisson sampler is about to draw.

        Called at the sampler's first draw of each epoch (after the previous epoch's last step, and after
        Lightning restored ``current_epoch`` on resume): a resumed, interrupted epoch skips the batches it trained.
        """
        skip = 0
        if self._position is not None:
            epoch, done = self._position
            self._position = None
            if epoch == self._trainer.current_epoch:
                skip = done
        self._epoch_first = self.steps - skip
        return self.steps, max(round(1 / self.sample_rate) - skip, 0)

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
        return dp_loader(loader, self.sample_rate, randomness=self.randomness, position=self._epoch_draws,
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
        self._fitting = False
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
        if self._key_file is not None:  # a completed fit needs no resume: its noise key is not kept
            self._key_file.unlink(missing_ok=True)
            self._key_file = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._detach()

    # ------------------------------------------------------------------ checkpoints: the same budget on resume
    def state_dict(self) -> dict[str, Any]:
        """The budget and the streams' position; the noise key's public id only (the key goes to its 0600 file)."""
        state = {"accountant": self.accountant.state_dict(), "mechanism": self.config.accountant,
                 "noise_multiplier": self.noise_multiplier, "sample_rate": self.sample_rate, "delta": self.delta,
                 "target_epsilon": self.config.target_epsilon, "max_grad_norm": self.config.max_grad_norm}
        if self.randomness is not None and self._trainer is not None:
            state.update(noise_key_id=self.randomness.key_id, epoch=int(self._trainer.current_epoch),
                         batches_in_epoch=self.steps - self._epoch_first)
            if self._fitting and not self.config.reproducible_noise and self._key_file is None:  # a checkpoint
                self._key_file = write_key_file(self._key_dir, self.randomness.generator.key)
        return state

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
