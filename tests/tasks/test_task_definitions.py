"""Task losses and metrics checked against sklearn / torch references; missing labels are excluded."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

from nextgen_ml.tasks import (
    TASKS,
    BinaryTask,
    MulticlassTask,
    MultilabelTask,
    RegressionTask,
    SurvivalTask,
    create_task,
)

GEN = torch.Generator().manual_seed(0)
B = 40


def test_binary_loss_and_metrics_skip_missing_labels() -> None:
    task = BinaryTask(target="mace")
    logits = torch.randn(B, 1, generator=GEN)
    y = (torch.rand(B, generator=GEN) > 0.5).float()
    y[:6] = float("nan")
    keep = ~torch.isnan(y)
    expected = F.binary_cross_entropy_with_logits(logits[keep, 0], y[keep])
    torch.testing.assert_close(task.loss(logits, {"mace": y}), expected)
    metrics = task.metrics()
    task.update(metrics, logits[:20], {"mace": y[:20]})
    task.update(metrics, logits[20:], {"mace": y[20:]})
    got = metrics.compute()
    p, t = torch.sigmoid(logits[keep, 0]).numpy(), y[keep].numpy()
    assert math.isclose(got["auroc"], skm.roc_auc_score(t, p), rel_tol=1e-5)
    assert math.isclose(got["auprc"], skm.average_precision_score(t, p), rel_tol=1e-5)
    assert math.isclose(got["accuracy"], skm.accuracy_score(t, p > 0.5), rel_tol=1e-5)
    assert math.isclose(got["f1"], skm.f1_score(t, p > 0.5), rel_tol=1e-5)
    torch.testing.assert_close(task.predict(logits), torch.sigmoid(logits[:, 0]))


def test_multiclass_loss_and_metrics() -> None:
    task = MulticlassTask(target="diagnosis", num_classes=5)
    logits = torch.randn(B, 5, generator=GEN)
    y = torch.arange(B) % 5
    y[[0, 7]] = -1
    keep = y >= 0
    torch.testing.assert_close(task.loss(logits, {"diagnosis": y}), F.cross_entropy(logits[keep], y[keep]))
    metrics = task.metrics()
    task.update(metrics, logits, {"diagnosis": y})
    got = metrics.compute()
    p, t = logits[keep].softmax(1).numpy(), y[keep].numpy()
    assert math.isclose(got["accuracy"], skm.accuracy_score(t, p.argmax(1)), rel_tol=1e-5)
    assert math.isclose(got["f1"], skm.f1_score(t, p.argmax(1), average="macro"), rel_tol=1e-5)
    assert math.isclose(got["auroc"], skm.roc_auc_score(t, p, multi_class="ovr", average="macro"), rel_tol=1e-5)
    assert task.num_outputs == 5 and task.predict(logits).sum(1).allclose(torch.ones(B))
    with pytest.raises(ValueError, match="num_classes"):
        task.loss(logits, {"diagnosis": torch.full((B,), 5)})


def test_multilabel_loss_and_metrics_mask_entries() -> None:
    task = MultilabelTask(target="findings", num_labels=3)
    logits = torch.randn(B, 3, generator=GEN)
    y = (torch.rand(B, 3, generator=GEN) > 0.5).float()
    y[0, 1] = y[5, 2] = y[9, 0] = float("nan")
    valid = ~torch.isnan(y)
    expected = F.binary_cross_entropy_with_logits(logits[valid], y[valid])
    torch.testing.assert_close(task.loss(logits, {"findings": y}), expected)
    metrics = task.metrics()
    task.update(metrics, logits, {"findings": y})
    got = metrics.compute()
    p = torch.sigmoid(logits)
    aucs = [skm.roc_auc_score(y[valid[:, k], k], p[valid[:, k], k]) for k in range(3)]
    aps = [skm.average_precision_score(y[valid[:, k], k], p[valid[:, k], k]) for k in range(3)]
    f1s = [skm.f1_score(y[valid[:, k], k], p[valid[:, k], k] > 0.5) for k in range(3)]
    assert math.isclose(got["auroc"], np.mean(aucs), rel_tol=1e-5)
    assert math.isclose(got["auprc"], np.mean(aps), rel_tol=1e-5)
    assert math.isclose(got["f1"], np.mean(f1s), rel_tol=1e-5)


def test_regression_standardised_loss_and_metrics_in_units() -> None:
    task = RegressionTask(target="lvef", loc=55.0, scale=10.0)
    logits = torch.randn(B, 1, generator=GEN)
    y = 55 + 10 * torch.randn(B, generator=GEN)
    y[3] = float("nan")
    keep = ~torch.isnan(y)
    pred = 55 + 10 * logits[:, 0]
    torch.testing.assert_close(task.loss(logits, {"lvef": y}), F.mse_loss(logits[keep, 0], (y[keep] - 55) / 10))
    metrics = task.metrics()
    task.update(metrics, logits, {"lvef": y})
    got = metrics.compute()
    t, p = y[keep].numpy(), pred[keep].numpy()
    assert math.isclose(got["mae"], skm.mean_absolute_error(t, p), rel_tol=1e-5)
    assert math.isclose(got["rmse"], math.sqrt(skm.mean_squared_error(t, p)), rel_tol=1e-5)
    assert math.isclose(got["r2"], skm.r2_score(t, p), rel_tol=1e-4)
    torch.testing.assert_close(task.predict(logits), pred)


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_all_missing_labels_give_zero_loss_with_graph(kind: str) -> None:
    task = create_task(kind)
    logits = torch.randn(4, task.num_outputs, requires_grad=True)
    nan = torch.full((4,), float("nan"))
    targets = {"mace": nan, "diagnosis": torch.full((4,), -1), "findings": torch.full((4, 6), float("nan")),
               "lvef": nan, "time_to_mace": torch.full((4, 2), float("nan"))}
    loss = task.loss(logits, targets)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits.grad == 0)
    metrics = task.metrics()
    task.update(metrics, logits, targets)  # nothing to add, nothing raised
    assert all(m.update_count == 0 for m in metrics.values(copy_state=False))


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_bad_shapes_and_missing_targets_raise(kind: str) -> None:
    task = create_task(kind)
    with pytest.raises(ValueError, match="logits must be"):
        task.loss(torch.randn(4, task.num_outputs + 1), {})
    with pytest.raises(ValueError, match="targets has no"):
        task.loss(torch.randn(4, task.num_outputs), {"other": torch.zeros(4)})


def test_task_registry_and_survival_defaults() -> None:
    assert isinstance(create_task("survival"), SurvivalTask)
    assert create_task("multiclass", num_classes=3).num_outputs == 3
    with pytest.raises(ValueError, match="unknown task kind 'ranking'"):
        create_task("ranking")
    with pytest.raises(ValueError, match="targets\\['mace'\\] must have shape"):
        BinaryTask().loss(torch.randn(4, 1), {"mace": torch.zeros(4, 1)})
