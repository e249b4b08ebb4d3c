"""The bundle shipped in pretrained/ loads in a fresh Python process outside the repository (no configs/) and
reproduces the predictions its source checkpoint made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "pretrained" / "mace_xattn_small"

SCRIPT = """
import json, sys
import pyarrow.ipc as ipc
import nextgen_ml

bundle = nextgen_ml.load_pretrained(sys.argv[1])
table = ipc.open_file(sys.argv[1] + "/reference_records.arrow").read_all()
frame = bundle.predict(table)
print(json.dumps({"ids": list(frame["patient_id"]), "p": frame["mace_probability"].tolist(),
                  "verify": bundle.verify()}))
"""


def test_shipped_bundle_is_small_and_complete():
    assert SHIPPED.is_dir(), "run scripts/make_pretrained.py"
    size = sum(f.stat().st_size for f in SHIPPED.iterdir())
    assert size < 5_000_000, f"{size / 1e6:.1f} MB"
    card = json.loads((SHIPPED / "model_card.json").read_text())
    assert "test/auroc" in card["confidence_intervals"]


def test_fresh_process_predicts_like_the_checkpoint(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(SHIPPED)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp_path / "configs").exists()
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = pd.read_csv(SHIPPED / "reference_predictions.csv")  # the checkpoint's own predictions at export
    assert out["ids"] == list(expected["patient_id"].astype(str)) and len(out["ids"]) >= 4
    assert out["p"] == pytest.approx(list(expected["mace_probability"]), abs=1e-5)
    assert out["verify"] <= 1e-5
