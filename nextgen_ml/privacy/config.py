"""``DPConfig``: every DP-SGD setting of a run, validated once (``configs/privacy/dp.yaml`` mirrors it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: accountant name → numeric code written as ``privacy/accountant`` in metrics.json (which holds numbers only).
ACCOUNTANT_CODES: dict[str, int] = {"rdp": 0, "prv": 1}
#: Opacus ``grad_sample_mode`` values this framework trains with.
GRAD_SAMPLE_MODES: tuple[str, ...] = ("hooks", "functorch", "ghost")
CLIPPING_MODES: tuple[str, ...] = ("flat", "per_layer")


@dataclass(frozen=True)
class DPConfig:
    """DP-SGD settings.

    Args:
        target_epsilon: the ε budget of the whole training run (> 0, finite; for ε = ∞ train with ``privacy=none``).
        delta: δ; None = ``1 / (10 · n_bound)`` (never the exact training-set size, which it would publish).
        n_bound: a declared public upper bound on the training-set size N (δ and nothing else use it); None =
            N rounded up to a power of 10 (publishes only N's order of magnitude). A bound below N is refused.
        max_grad_norm: per-sample clipping bound C (total L2 norm over all parameters).
        accountant: ``"prv"`` (default, tight) or ``"rdp"``.
        grad_sample_mode: ``"hooks"``, ``"functorch"`` or ``"ghost"`` (Opacus ghost clipping).
        clipping: ``"flat"`` (one bound C) or ``"per_layer"`` (C / sqrt(L) for each of the L parameter tensors,
            so the total norm is still ≤ C).
        noise_multiplier: fixed σ; None = derived from ``target_epsilon``, the planned steps and the sampling rate.
        epochs: epochs the noise is calibrated for; None = ``trainer.max_epochs``.
        max_physical_batch_size: split Poisson (logical) batches into physical batches of at most this many rows
            (Opacus ``BatchMemoryManager``); None = no split.
        poisson_sampling: must stay True — ε is only valid for Poisson-sampled batches (False is refused).
        reproducible_noise: DEBUG ONLY. False (default): the noise and the Poisson sampling draw from ChaCha20
            keyed with 256 bits of OS entropy (:mod:`nextgen_ml.privacy.csprng`), independent of the public
            ``seed``; True: the key is derived from ``noise_seed`` so two runs are bitwise identical, which lets
            anyone holding the config replay training. Warned at set-up and recorded in privacy.json.
        noise_seed: seed of the debug generators (``reproducible_noise=true`` only; None = 0); refused otherwise.
        epsilon_tolerance: precision of the σ search (ε(σ) ∈ [target - tol, target]).
    """

    target_epsilon: float = 8.0
    delta: float | None = None
    max_grad_norm: float = 1.0
    accountant: str = "prv"
    grad_sample_mode: str = "hooks"
    clipping: str = "flat"
    noise_multiplier: float | None = None
    epochs: int | None = None
    max_physical_batch_size: int | None = None
    poisson_sampling: bool = True
    noise_seed: int | None = None
    epsilon_tolerance: float = 0.01
    n_bound: int | None = None
    reproducible_noise: bool = False

    def __post_init__(self) -> None:
        if not (self.target_epsilon > 0 and math.isfinite(self.target_epsilon)):
            raise ValueError(f"privacy.target_epsilon must be finite and > 0, got {self.target_epsilon} "
                             "(for no privacy use privacy=none)")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ValueError(f"privacy.delta must be in (0, 1), got {self.delta}")
        if self.max_grad_norm <= 0:
            raise ValueError(f"privacy.max_grad_norm must be > 0, got {self.max_grad_norm}")
        if self.accountant not in ACCOUNTANT_CODES:
            raise ValueError(f"privacy.accountant must be one of {sorted(ACCOUNTANT_CODES)}, got {self.accountant!r}")
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise ValueError(f"privacy.grad_sample_mode must be one of {GRAD_SAMPLE_MODES}, "
                             f"got {self.grad_sample_mode!r}")
        if self.clipping not in CLIPPING_MODES:
            raise ValueError(f"privacy.clipping must be one of {CLIPPING_MODES}, got {self.clipping!r}")
        if self.clipping == "per_layer" and self.grad_sample_mode == "ghost":
            raise ValueError("privacy.clipping=per_layer is not available with grad_sample_mode=ghost "
                             "(ghost clipping clips the total per-sample norm); use flat clipping")
        if self.noise_multiplier is not None and self.noise_multiplier <= 0:
            raise ValueError(f"privacy.noise_multiplier must be > 0, got {self.noise_multiplier}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"privacy.epochs must be >= 1, got {self.epochs}")
        if self.max_physical_batch_size is not None and self.max_physical_batch_size < 1:
            raise ValueError(f"privacy.max_physical_batch_size must be >= 1, got {self.max_physical_batch_size}")
        if not self.poisson_sampling:
            raise ValueError("privacy.poisson_sampling=false is refused: the reported ε assumes Poisson-sampled "
                             "batches; shuffled fixed-size batches would make it wrong")

        if self.n_bound is not None and self.n_bound < 1:
            raise ValueError(f"privacy.n_bound must be >= 1, got {self.n_bound}")
        if self.noise_seed is not None and not self.reproducible_noise:
            raise ValueError("privacy.noise_seed is only used with privacy.reproducible_noise=true (a debug mode: "
                             "anyone with the seed can replay the noise); remove noise_seed for a private run")

    def resolved_n_bound(self, n_train: int) -> int:
        """The public bound on N: the declared ``n_bound``, else N rounded up to a power of 10."""
        if n_train < 1:
            raise ValueError(f"the training set is empty (n_train={n_train})")
        if self.n_bound is None:
            return 10 ** math.ceil(math.log10(n_train)) if n_train > 1 else 1
        if self.n_bound < n_train:
            raise ValueError(f"privacy.n_bound={self.n_bound} is below the training-set size; declare a public "
                             "upper bound (δ = 1/(10·n_bound) must not exceed 1/(10·N))")
        return self.n_bound

    def resolved_delta(self, n_train: int) -> float:
        """δ for a training set of ``n_train`` records: the configured one, else ``1 / (10 · n_bound)``."""
        n_bound = self.resolved_n_bound(n_train)
        return self.delta if self.delta is not None else 1.0 / (10 * n_bound)
