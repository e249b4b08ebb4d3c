"""PretrainedModel.explain: Shapley contributions, attention maps and saliency on a real trained bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nextgen_ml.bundle import load_pretrained
from nextgen_ml.data.store import RecordStore


@pytest.fixture(scope="module")
def explanation(exported: Path, tiny_store: Path):
    bundle = load_pretrained(exported)
    records = [RecordStore(tiny_store).row(i) for i in range(4)]
    records[1] = dict(records[1], image=None)  # one patient without imaging
    return bundle, records, bundle.explain(records, method="saliency")


def test_shapley_sums_to_prediction_minus_no_data(explanation):
    bundle, records, e = explanation
    assert e.patient_ids == [r["patient_id"] for r in records]
    assert list(e.contributions.columns) == ["ecg", "genomics", "image", "tabular", "text"]
    np.testing.assert_allclose(e.contributions.sum(axis=1), e.prediction - e.base_value, atol=1e-5)
    np.testing.assert_allclose(e.prediction, bundle.predict(records)["mace_probability"], atol=1e-6)
    assert e.contributions.loc[records[1]["patient_id"], "image"] == 0.0
    assert not e.present.loc[records[1]["patient_id"], "image"]
    assert set(e.summary().columns) >= {"mace_probability", "base_value", "contribution_ecg"}


def test_attention_maps(explanation):
    _, _, e = explanation
    assert e.attention is not None and e.attention.modalities == ["ecg", "genomics", "image", "tabular", "text"]
    assert tuple(e.attention.cls.shape) == (4, 5) and tuple(e.attention.between.shape) == (4, 5, 5)
    assert float(e.attention.cls[1, 2]) == 0.0  # no attention on the absent image
    assert (e.attention.cls.sum(dim=1) <= 1 + 1e-5).all()
    assert float(e.attention.between[1, 2].abs().sum()) == 0.0  # absent modality's row is empty


def test_saliency_shapes(explanation):
    _, _, e = explanation
    assert e.saliency["ecg"].shape == e.inputs["ecg"].shape == (4, 12, 1000)
    assert e.saliency["image"].shape == e.inputs["image"].shape == (4, 2, 32, 32)
    assert np.abs(e.saliency["image"][1]).sum() == 0.0  # absent image → no saliency
    assert np.abs(e.saliency["ecg"]).sum() > 0


@pytest.mark.slow
def test_explain_output_by_name_and_limits(exported: Path, tiny_store: Path):
    bundle = load_pretrained(exported)
    view = RecordStore(tiny_store).subset(range(2))
    e = bundle.explain(view, output="mace_probability", saliency=("ecg",), method="integrated_gradients", n_steps=2)
    assert e.output == "mace_probability" and set(e.saliency) == {"ecg"}
    with pytest.raises(ValueError, match="max_records=1"):
        bundle.explain(view, max_records=1)
    with pytest.raises(ValueError, match="not one of the prediction columns"):
        bundle.explain(view, output="lvef")
