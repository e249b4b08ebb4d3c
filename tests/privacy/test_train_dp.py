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
    n_train = round(1 / (10 * saved["privacy/delta"]))
    assert 75 <= n_train <= 130  # δ = 1/(10·N) for the tiny cohort's consented training split
    # everything needed to recompute ε is there, and recomputing gives the reported value
    again = epsilon_of("prv", saved["privacy/noise_multiplier"], saved["privacy/sample_rate"],
                       int(saved["privacy/steps"]), saved["privacy/delta"])
    assert again == pytest.approx(saved["privacy/epsilon"], rel=1e-6)
    report = json.loads((out / "privacy.json").read_text())
    assert report["accountant"] == "prv" and report["n_train"] == n_train
    assert "test/auroc" in metrics
