"""The ε the framework reports equals Google's dp-accounting (RDP and PLD) for the same q, σ and steps."""

from __future__ import annotations

import dp_accounting
import pytest
from dp_accounting import pld, rdp

from nextgen_ml.privacy.accounting import epsilon_of, last_step_within, noise_for_budget, planned_steps
from nextgen_ml.privacy.config import DPConfig

#: (sampling rate q, noise multiplier σ, steps, δ)
CASES = [(64 / 1200, 1.1, 200, 1e-5), (16 / 112, 0.8, 21, 1 / 1120), (0.01, 2.0, 1000, 1e-6)]


def _event(q: float, sigma: float, steps: int) -> dp_accounting.DpEvent:
    sampled = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    return dp_accounting.SelfComposedDpEvent(sampled, steps)


@pytest.mark.parametrize(("q", "sigma", "steps", "delta"), CASES)
def test_rdp_epsilon_matches_dp_accounting(q, sigma, steps, delta):
    ref = rdp.RdpAccountant()
    ref.compose(_event(q, sigma, steps))
    assert epsilon_of("rdp", sigma, q, steps, delta) == pytest.approx(ref.get_epsilon(delta), rel=0.01)


@pytest.mark.parametrize(("q", "sigma", "steps", "delta"), CASES)
def test_prv_epsilon_matches_dp_accounting_pld(q, sigma, steps, delta):
    ref = pld.PLDAccountant(value_discretization_interval=1e-4)
    ref.compose(_event(q, sigma, steps))
    assert epsilon_of("prv", sigma, q, steps, delta) == pytest.approx(ref.get_epsilon(delta), rel=0.01)


def test_derived_noise_spends_the_target_and_no_more():
    q, steps, delta = 16 / 112, 24, 1 / 1120
    sigma = noise_for_budget(3.0, delta, q, steps, "rdp")
    ref = rdp.RdpAccountant()
    ref.compose(_event(q, sigma, steps))
    assert 3.0 - 0.02 <= ref.get_epsilon(delta) <= 3.0 * 1.001
    # more noise than needed would waste utility: 5% less noise overspends
    assert epsilon_of("rdp", sigma * 0.95, q, steps, delta) > 3.0


def test_last_step_within_is_the_last_step_under_the_target():
    q, sigma, delta, target = 0.05, 1.2, 1e-4, 2.0
    k = last_step_within(target, "rdp", sigma, q, delta, planned=500)
    assert 0 < k < 500
    assert epsilon_of("rdp", sigma, q, k, delta) <= target < epsilon_of("rdp", sigma, q, k + 1, delta)
    assert last_step_within(target, "rdp", sigma, q, delta, planned=k) == k


def test_planned_steps_follows_the_trainer_limits():
    assert planned_steps(7, 3) == 21
    assert planned_steps(7, 3, limit_train_batches=2) == 6
    assert planned_steps(10, 2, limit_train_batches=0.5) == 10
    assert planned_steps(7, 3, max_steps=5) == 5
    assert planned_steps(7, 3, fast_dev_run=True) == 1
    with pytest.raises(ValueError, match="max_epochs"):
        planned_steps(7, None)


def test_default_delta_comes_from_a_public_bound_not_the_exact_n():
    # N is rounded up to a power of 10: every N in (100, 1000] gives the same δ, and δ <= 1/(10·N)
    assert {DPConfig().resolved_delta(n) for n in (101, 500, 1000)} == {1e-4}
    assert all(DPConfig().resolved_delta(n) <= 1 / (10 * n) for n in (1, 7, 10, 11, 999, 1001))
    assert DPConfig(n_bound=5000).resolved_delta(500) == pytest.approx(1 / 50_000)
    assert DPConfig(delta=1e-6).resolved_delta(500) == 1e-6
    with pytest.raises(ValueError, match="n_bound=400 is below"):
        DPConfig(n_bound=400).resolved_delta(500)


def test_a_noise_seed_outside_the_debug_mode_is_refused():
    with pytest.raises(ValueError, match="reproducible_noise"):
        DPConfig(noise_seed=0)
    assert DPConfig(noise_seed=0, reproducible_noise=True).noise_seed == 0
