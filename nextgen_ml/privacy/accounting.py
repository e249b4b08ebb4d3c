"""Budget arithmetic: noise multiplier from a target ε, ε of a step count, the last step within the budget.

Every number comes from Opacus's accountants (``opacus.accountants``) for one Poisson-subsampled Gaussian
mechanism composed ``steps`` times: ε is a function of (σ, q, steps, δ) only.
"""

from __future__ import annotations

import math
from typing import Any

from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier

#: PRV's ε is an upper bound within ``eps_error`` (absolute); Opacus's default 0.01 is 1.4% at ε≈0.7, so reports
#: use a tighter bound (the σ search keeps the default: a looser upper bound only makes σ safer).
PRV_EPS_ERROR = 0.002


def accountant_epsilon(accountant: Any, delta: float) -> float:
    """ε of an Opacus accountant object at ``delta`` (PRV with :data:`PRV_EPS_ERROR`)."""
    if not accountant.history:
        return 0.0
    kwargs = {"eps_error": PRV_EPS_ERROR} if accountant.mechanism() == "prv" else {}
    return float(accountant.get_epsilon(delta=delta, **kwargs))


def epsilon_of(accountant: str, noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε after ``steps`` DP-SGD steps with noise σ and sampling rate q (0 for no step).

    Args:
        accountant: ``"prv"`` or ``"rdp"``.
        noise_multiplier: σ.
        sample_rate: q.
        steps: number of noisy steps.
        delta: δ.
    """
    if steps <= 0:
        return 0.0
    acc = create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sample_rate, int(steps))]
    return accountant_epsilon(acc, delta)


def noise_for_budget(target_epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str,
                     tolerance: float = 0.01) -> float:
    """σ such that ``steps`` steps at rate q spend at most ``target_epsilon`` (within ``tolerance`` below it)."""
    if steps < 1:
        raise ValueError(f"no training step is planned (steps={steps}); check trainer.max_epochs / limits")
    return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta, sample_rate=sample_rate,
                                      steps=steps, accountant=accountant, epsilon_tolerance=tolerance))


def last_step_within(target_epsilon: float, accountant: str, noise_multiplier: float, sample_rate: float,
                     delta: float, planned: int) -> int:
    """The largest step count k ≤ ``planned`` with ε(k) ≤ ``target_epsilon`` (``planned`` when the plan fits).

    One ε evaluation when the plan fits the budget (the usual case: σ was derived for it); a bisection otherwise.
    """
    def fits(k: int) -> bool:
        return epsilon_of(accountant, noise_multiplier, sample_rate, k, delta) <= target_epsilon

    if fits(planned):
        return planned
    lo, hi = 0, planned  # fits(lo), not fits(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def planned_steps(batches_per_epoch: int, max_epochs: int | None, max_steps: int | None = None,
                  limit_train_batches: int | float | None = None, fast_dev_run: int | bool = False) -> int:
    """Optimizer steps a Lightning fit will take (the noise is calibrated for these).

    Args:
        batches_per_epoch: ``1 / q`` Poisson batches per epoch.
        max_epochs: ``trainer.max_epochs`` (or the configured ``privacy.epochs``).
        max_steps: ``trainer.max_steps`` (-1/None = unlimited).
        limit_train_batches: ``trainer.limit_train_batches`` (int = batches, float = fraction).
        fast_dev_run: ``trainer.fast_dev_run`` (True = 1 batch).
    """
    if fast_dev_run:
        return int(fast_dev_run)
    per_epoch = batches_per_epoch
    if isinstance(limit_train_batches, int) and not isinstance(limit_train_batches, bool):
        per_epoch = min(per_epoch, limit_train_batches)
    elif isinstance(limit_train_batches, float):
        per_epoch = int(per_epoch * limit_train_batches)
    total = math.inf if max_epochs is None or max_epochs < 0 else max_epochs * per_epoch
    if max_steps is not None and max_steps >= 0:
        total = min(total, max_steps)
    if math.isinf(total):
        raise ValueError("privacy=dp needs a finite plan: set trainer.max_epochs (or privacy.epochs / max_steps)")
    return int(total)
