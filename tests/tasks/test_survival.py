"""Cox partial likelihood (Breslow) and Harrell's C-index against hand computations and lifelines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index as lifelines_cindex

from nextgen_ml.tasks import ConcordanceIndex, SurvivalTask, concordance_index, cox_ph_loss


def breslow_reference(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    total, n_events = 0.0, 0
    for i in range(len(risk)):
        if event[i]:
            total += risk[i] - math.log(sum(math.exp(risk[j]) for j in range(len(risk)) if time[j] >= time[i]))
            n_events += 1
    return -total / n_events


def test_cox_loss_hand_example_with_ties() -> None:
    risk = torch.tensor([0.5, -1.0, 2.0, 0.0])
    time = torch.tensor([1.0, 2.0, 2.0, 3.0])
    event = torch.tensor([1.0, 1.0, 1.0, 0.0])
    # events at t=1 (risk set all 4) and two tied events at t=2 (shared risk set {1, 2, 3}, Breslow)
    e = math.exp
    den1, den2 = e(0.5) + e(-1) + e(2) + e(0), e(-1) + e(2) + e(0)
    hand = -((0.5 - math.log(den1)) + (-1 - math.log(den2)) + (2 - math.log(den2))) / 3
    assert math.isclose(cox_ph_loss(risk, time, event).item(), hand, rel_tol=1e-6)


def test_cox_loss_random_and_masked() -> None:
    rng = np.random.default_rng(0)
    risk, time = rng.normal(size=30), rng.integers(1, 8, size=30).astype(float)
    event = rng.random(30) < 0.6
    valid = rng.random(30) < 0.8
    got = cox_ph_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event, dtype=torch.float64),
                      torch.tensor(valid))
    ref = breslow_reference(risk[valid], time[valid], event[valid])
    assert math.isclose(got.item(), ref, rel_tol=1e-9)


def test_cox_loss_recovers_lifelines_coefficients() -> None:
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=(n, 2))
    t_event = rng.exponential(1 / np.exp(x @ np.array([0.8, -0.5])))
    t_cens = rng.exponential(1.5, size=n)
    time, event = np.minimum(t_event, t_cens), (t_event <= t_cens).astype(float)  # continuous: no ties
    cph = CoxPHFitter().fit(pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "T": time, "E": event}), "T", "E")
    beta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([beta], max_iter=100, tolerance_grad=1e-10, line_search_fn="strong_wolfe")
    xt, tt, et = torch.tensor(x), torch.tensor(time), torch.tensor(event)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = cox_ph_loss(xt @ beta, tt, et)
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(beta.detach().numpy(), cph.params_.to_numpy(), atol=1e-4)


def test_cox_loss_no_nan_gradient_for_invalid_rows() -> None:
    risk = torch.zeros(4, requires_grad=True)
    loss = cox_ph_loss(risk, torch.tensor([1.0, 2.0, -5.0, 3.0]), torch.tensor([1.0, 0.0, 1.0, 1.0]),
                       torch.tensor([True, True, False, False]))
    loss.backward()
    assert torch.isfinite(risk.grad).all() and torch.all(risk.grad[2:] == 0)


def test_cindex_hand_example() -> None:
    risk = torch.tensor([3.0, 2.0, 2.0, 1.0])
    time = torch.tensor([1.0, 2.0, 3.0, 3.0])
    event = torch.tensor([1.0, 1.0, 0.0, 1.0])
    # comparable (earlier event first): (0,1) (0,2) (0,3) (1,2) (1,3); tie t=3 with 2 censored, 3 event: (3,2)
    # concordant: (0,1) (0,2) (0,3) (1,3) = 4; (1,2) risk tie = 0.5; (3,2) risk 1 < 2 = 0  → 4.5 / 6
    assert math.isclose(concordance_index(risk, time, event).item(), 4.5 / 6)
    assert math.isclose(lifelines_cindex(time.numpy(), -risk.numpy(), event.numpy()), 4.5 / 6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cindex_metric_matches_lifelines_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 257
    risk = rng.normal(size=n).round(1)  # ties in risk
    time = rng.integers(1, 40, size=n).astype(float)  # ties in time
    event = (rng.random(n) < 0.5).astype(float)
    metric = ConcordanceIndex()
    for part in np.array_split(np.arange(n), 3):
        metric.update(torch.tensor(risk[part]), torch.tensor(time[part]), torch.tensor(event[part]))
    expected = lifelines_cindex(time, -risk, event)
    assert math.isclose(metric.compute().item(), expected, rel_tol=1e-9)
    small_chunks = concordance_index(torch.tensor(risk), torch.tensor(time), torch.tensor(event), chunk=10)
    assert math.isclose(small_chunks.item(), expected, rel_tol=1e-9)


def test_survival_task_uses_valid_rows_only() -> None:
    task = SurvivalTask()
    logits = torch.tensor([[0.2], [1.0], [-0.3], [0.7]])
    time, event = torch.tensor([2.0, float("nan"), 1.0, 4.0]), torch.tensor([1.0, 1.0, 1.0, 0.0])
    targets = {"time_to_mace": torch.stack([time, event], dim=1)}  # (B, 2)
    keep = torch.tensor([True, False, True, True])
    expected = cox_ph_loss(logits[keep, 0], time[keep], event[keep])
    torch.testing.assert_close(task.loss(logits, targets), expected)
    metrics = task.metrics()
    task.update(metrics, logits, targets)
    expected_c = lifelines_cindex(np.array([2.0, 1.0, 4.0]), -np.array([0.2, -0.3, 0.7]), np.array([1, 1, 0]))
    assert math.isclose(metrics.compute()["cindex"].item(), expected_c)
    assert math.isnan(concordance_index(torch.ones(2), torch.ones(2), torch.zeros(2)).item())
