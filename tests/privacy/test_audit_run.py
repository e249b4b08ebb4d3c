"""The canary audit end to end (slow): a non-private run leaks measurably, a DP run stays below its ε."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_dp.py"
#: 100 canaries, 100 other training records, 60 epochs: ~1 min per run on 2 CPU cores
SMALL = ["--canaries", "100", "--others", "100", "--epochs", "60", "--batch-size", "16", "--lr", "1e-2"]


@pytest.fixture(scope="module")
def audit_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nextgen_ml.data.cohort import CohortConfig, write_cohort

    out = tmp_path_factory.mktemp("audit_store")
    write_cohort(out, n=600, sites=3, seed=0, config=CohortConfig(ecg_fs_hz=100.0, image_size=32), progress=False)
    return out


def _audit(store: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    spec = importlib.util.spec_from_file_location("audit_dp", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main([*SMALL, *args, "--", f"data.data_dir={store}", "data.cohort=null"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "empirical ε lower bound" in "\n".join(lines[:-1])  # the readable table comes first ...
    return json.loads(lines[-1])  # ... and the figures are the last line


@pytest.mark.slow
def test_a_non_private_run_shows_a_positive_lower_bound(audit_store, capsys):
    figures = _audit(audit_store, capsys)
    assert figures["reported_epsilon"] is None and figures["epsilon_lower_bound"] > 0.3
    assert figures["accuracy"] > 0.8 and figures["m"] == 100


@pytest.mark.slow
def test_a_dp_run_stays_below_its_reported_epsilon(audit_store, capsys):
    figures = _audit(audit_store, capsys, "--epsilon", "8")
    assert 0 < figures["reported_epsilon"] <= 8.0
    assert figures["epsilon_lower_bound"] < figures["reported_epsilon"]
    assert not math.isnan(figures["delta"]) and figures["delta"] <= 1e-3
