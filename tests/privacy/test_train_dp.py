"""DP-SGD through the real ``train(cfg)``: metrics.json privacy entries, budget, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.privacy.accounting import epsilon_of
from nextgen_ml.privacy.config import ACCOUNTANT_CODES
from nextgen_ml.training import train

PRIVACY_KEYS = {"privacy/epsilon", "privacy/delta", "privacy/noise_multiplier", "privacy/sample_rate",
                "privacy/steps", "privacy/accountant"}


def test_fast_dev_dp_run_of_the_default_config_writes_privacy_metrics(make_dp_cfg):
    cfg = make_dp_cfg(["privacy.accountant=prv"])
    with open_dict(cfg):
        cfg.trainer.fast_dev_run = True
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved) >= PRIVACY_KEYS
    assert saved["privacy/steps"] == 1 and saved["privacy/accountant"] == ACCOUNTANT_CODES["prv"]
    assert 0 < saved["privacy/epsilon"] <= 8.0
    # δ = 1/(10·n_bound): the tiny cohort's consented training split (75-130 records) rounds up to a power of 10,
    # so δ publishes only N's order of magnitude
    assert saved["privacy/delta"] in (pytest.approx(1e-3), pytest.approx(1e-4))
    # everything needed to recompute ε is there, and recomputing gives the reported value
    again = epsilon_of("prv", saved["privacy/noise_multiplier"], saved["privacy/sample_rate"],
                       int(saved["privacy/steps"]), saved["privacy/delta"])
    assert again == pytest.approx(saved["privacy/epsilon"], rel=1e-6)
    report = json.loads((out / "privacy.json").read_text())
    assert report["accountant"] == "prv" and report["n_bound"] == round(0.1 / saved["privacy/delta"])
    assert "n_train" not in report
    assert report["reproducible_noise"] is True and "DEBUG" in report["WARNING"]  # the tests' debug mode says so
    assert "test/auroc" in metrics
