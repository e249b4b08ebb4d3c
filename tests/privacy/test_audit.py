"""The one-run audit's bound (Steinke, Nasr and Jagielski 2023): level, monotonicity, no bound from chance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nextgen_ml.privacy.audit import audit, epsilon_lower_bound, guesses, p_value


def test_p_value_is_the_binomial_tail_for_pure_dp():
    # ε = 0: every guess is a fair coin, so P[V >= v] is Binomial(r, 1/2)'s tail
    assert p_value(100, 10, 10, 0.0) == pytest.approx(0.5**10)
    assert p_value(100, 10, 0, 0.0) == 1.0
    assert p_value(100, 10, 8, 1.0) > p_value(100, 10, 8, 0.5)  # a larger ε explains more correct guesses ...
    assert p_value(100, 10, 8, 1.0, delta=1e-3) > p_value(100, 10, 8, 1.0)  # ... and δ only weakens it


def test_random_guessing_gives_no_bound():
    assert epsilon_lower_bound(1000, 1000, 500) == 0.0
    assert epsilon_lower_bound(1000, 200, 100, delta=1e-5) == 0.0
    assert epsilon_lower_bound(10, 2, 2) == 0.0  # two right guesses prove nothing at 95%


def test_the_bound_grows_with_correct_guesses_and_shrinks_with_delta():
    bounds = [epsilon_lower_bound(1000, 200, v) for v in range(100, 201, 10)]
    assert all(a <= b for a, b in zip(bounds, bounds[1:], strict=False)) and bounds[-1] > bounds[0]
    assert bounds[-1] > 2.5  # 200 of 200 right
    assert epsilon_lower_bound(1000, 200, 180, delta=1e-3) < epsilon_lower_bound(1000, 200, 180)


def test_the_bound_is_valid_for_randomised_response():
    # ε-DP randomised response on each canary's bit: the 95% bound must exceed ε in at most ~5% of runs
    eps, m, runs = 1.0, 400, 200
    rng = np.random.default_rng(0)
    over = 0
    for _ in range(runs):
        bits = rng.random(m) < 0.5
        keep = rng.random(m) < math.exp(eps) / (1 + math.exp(eps))
        scores = np.where(bits == keep, 1.0, -1.0) + rng.random(m) * 1e-3  # answer = bit w.p. q
        over += audit(scores, bits).epsilon_lower_bound > eps
    assert over <= 0.1 * runs
    assert audit(scores, bits).epsilon_lower_bound > 0.2  # and it does detect something


def test_guesses_abstain_in_the_middle():
    t = guesses(np.array([0.1, 0.9, 0.5, 0.3, 0.7]), 1, 2)
    assert t.tolist() == [-1, 1, 0, -1, 0]
    with pytest.raises(ValueError, match="exceeds"):
        guesses(np.zeros(3), 2, 2)


def test_a_perfect_membership_signal_gives_a_large_bound():
    included = np.arange(200) % 2 == 0
    result = audit(np.where(included, 1.0, 0.0), included)
    assert result.epsilon_lower_bound > 3 and result.accuracy == 1.0 and result.tests == 5
