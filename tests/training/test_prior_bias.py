"""``python train.py`` runs start their head at the training labels' prior (``model.prior_bias``), except under
DP, when switched off, and at federated sites."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextgen_ml.training.factory import build_datamodule, build_module

RUN = ["data.modalities=[tabular]", "model/fusion=concat", "model/encoder/tabular=mlp"]


def _head_bias(cfg, **kwargs) -> tuple[np.ndarray, object]:  # noqa: ANN001
    torch.manual_seed(0)
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm, **kwargs)
    return module.net.head.bias.detach().numpy().copy(), dm


def _log_odds(y: np.ndarray) -> float:
    y = y[np.isfinite(y)]
    p = (y.sum() + 1) / (len(y) + 2)
    return float(np.log(p / (1 - p)))


def test_a_binary_run_starts_at_the_smoothed_log_odds_of_its_training_rows(make_cfg) -> None:
    bias, dm = _head_bias(make_cfg(RUN))
    y = dm.training_targets("mace")
    assert len(y) == len(dm.split_indices["train"])  # training rows only, not validation or test
    assert bias == pytest.approx([_log_odds(y)], rel=1e-6)


def test_a_multilabel_run_starts_per_label(make_cfg) -> None:
    bias, dm = _head_bias(make_cfg([*RUN, "task.target=findings"]))
    y = dm.training_targets("findings")  # (n, K)
    assert y.ndim == 2 and bias.shape == (y.shape[1],)
    assert bias == pytest.approx([_log_odds(y[:, k]) for k in range(y.shape[1])], rel=1e-6)


def test_off_switch_dp_and_federated_sites_keep_the_default_initialisation(make_cfg) -> None:
    prior, _ = _head_bias(make_cfg(RUN))
    off, _ = _head_bias(make_cfg([*RUN, "model.prior_bias=false"]))
    site, _ = _head_bias(make_cfg(RUN), label_prior=False)
    dp, _ = _head_bias(make_cfg([*RUN, "privacy=dp"]))
    for bias in (off, site, dp):
        assert abs(float(bias[0]) - float(prior[0])) > 1e-3 and abs(float(bias[0])) < 1.0  # |b| <= 1/sqrt(fan_in)
    assert off == pytest.approx(site)  # same seed, same default initialisation
