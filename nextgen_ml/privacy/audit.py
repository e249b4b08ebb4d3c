"""One-run privacy audit: an empirical lower bound on ε from canaries scored after a single training run.

Steinke, Nasr and Jagielski, "Privacy Auditing with One (1) Training Run", NeurIPS 2023 (arXiv:2305.08846).
``m`` canaries are each included in the training set independently with probability 1/2 (``S_i = ±1``). After
training, a guesser scores every canary and guesses "in" (+1) for the ``k_pos`` highest scores, "out" (−1) for
the ``k_neg`` lowest, and abstains on the rest; ``r = k_pos + k_neg`` guesses, ``v`` of them correct. Their
Theorem 5.2: if training is (ε, δ)-DP, then for every v

    P[V ≥ v] ≤ β + 2·m·δ·α,   β = P[Binomial(r, q) ≥ v],   q = e^ε / (1 + e^ε),
    α = max_{1 ≤ i ≤ v} P[v > Binomial(r, q) ≥ v − i] / i.

The audit reports the largest ε that this p-value rejects at level ``alpha`` (the paper's Algorithm, bisection
on ε): with probability ≥ 1 − alpha an (ε, δ)-DP run never yields a larger bound. Trying several ``(k_pos,
k_neg)`` is several tests; :func:`audit` divides ``alpha`` among them (Bonferroni), so the reported maximum keeps
its level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


def p_value(m: int, r: int, v: int, epsilon: float, delta: float = 0.0) -> float:
    """Probability of ≥ ``v`` correct guesses out of ``r`` if training is (ε, δ)-DP (Steinke et al., Thm 5.2).

    Args:
        m: canaries (each included with probability 1/2).
        r: guesses made (abstentions excluded), ``0 <= r <= m``.
        v: correct guesses, ``0 <= v <= r``.
        epsilon: ε of the null hypothesis (>= 0).
        delta: δ of the null hypothesis.
    """
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got v={v}, r={r}, m={m}")
    if epsilon < 0 or not 0 <= delta <= 1:
        raise ValueError(f"need epsilon >= 0 and 0 <= delta <= 1, got {epsilon}, {delta}")
    q = 1.0 / (1.0 + math.exp(-epsilon))  # accuracy of ε-DP randomised response
    beta = float(stats.binom.sf(v - 1, r, q))  # P[Binomial(r, q) >= v]
    alpha, window = 0.0, 0.0  # window = P[v > Binomial(r, q) >= v - i]
    if delta > 0:
        for i in range(1, v + 1):
            window += float(stats.binom.pmf(v - i, r, q))
            alpha = max(alpha, window / i)
    return min(1.0, beta + alpha * delta * 2 * m)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float = 0.0, alpha: float = 0.05,
                        iterations: int = 40) -> float:
    """The largest ε rejected at level ``alpha``: training is not (ε, δ)-DP for any smaller ε (0 if none).

    Args:
        m / r / v: canaries, guesses and correct guesses (see :func:`p_value`).
        delta: δ of the hypotheses tested.
        alpha: significance level (0.05 = 95% confidence).
        iterations: bisection steps.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if p_value(m, r, v, 0.0, delta) >= alpha:
        return 0.0
    lo, hi = 0.0, 1.0  # p(lo) < alpha <= p(hi)
    while p_value(m, r, v, hi, delta) < alpha:
        lo, hi = hi, 2 * hi
        if hi > 1e3:
            return lo
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p_value(m, r, v, mid, delta) < alpha else (lo, mid)
    return lo


@dataclass(frozen=True)
class AuditResult:
    """Outcome of :func:`audit`: the bound and the guess that achieved it."""

    epsilon_lower_bound: float
    m: int
    guesses: int
    correct: int
    k_pos: int
    k_neg: int
    tests: int
    alpha: float
    delta: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.guesses if self.guesses else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "accuracy": self.accuracy}


def guesses(scores: np.ndarray, k_pos: int, k_neg: int) -> np.ndarray:
    """``+1`` for the ``k_pos`` highest scores, ``-1`` for the ``k_neg`` lowest, 0 (abstain) otherwise."""
    if k_pos + k_neg > len(scores):
        raise ValueError(f"k_pos + k_neg = {k_pos + k_neg} exceeds the {len(scores)} canaries")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    out = np.zeros(len(scores), dtype=int)
    out[order[:k_pos]] = 1
    if k_neg:
        out[order[-k_neg:]] = -1
    return out


def audit(scores: Sequence[float], included: Sequence[bool], delta: float = 0.0, alpha: float = 0.05,
          fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.5, 1.0)) -> AuditResult:
    """Empirical ε lower bound from canary scores (higher score = "more likely trained on").

    Args:
        scores: one score per canary (e.g. minus its loss under the trained model).
        included: whether each canary was in the training set (the auditor's coin flips).
        delta: δ of the audited run.
        alpha: overall significance level, split evenly over the guess sizes tried.
        fractions: guess sizes to try, as fractions of ``m``, each split half "in", half "out".
    """
    s = np.where(np.asarray(included, dtype=bool), 1, -1)
    m = len(s)
    if len(scores) != m or m == 0:
        raise ValueError(f"scores ({len(scores)}) and included ({m}) must be non-empty and equally long")
    sizes = sorted({max(1, int(round(f * m / 2))) for f in fractions})
    best = AuditResult(0.0, m, 0, 0, 0, 0, len(sizes), alpha, delta)
    for k in sizes:
        t = guesses(np.asarray(scores), k, k)
        r, v = int(np.abs(t).sum()), int((t * s > 0).sum())
        eps = epsilon_lower_bound(m, r, v, delta, alpha / len(sizes))
        if eps > best.epsilon_lower_bound or best.guesses == 0:
            best = AuditResult(eps, m, r, v, k, k, len(sizes), alpha, delta)
    return best
