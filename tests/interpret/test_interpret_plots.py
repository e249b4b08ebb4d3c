"""The explanation figures draw what they are given and refuse mismatched shapes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nextgen_ml.interpret.plots import (  # noqa: E402
    plot_attention,
    plot_ecg,
    plot_image_saliency,
    plot_modality_contributions,
)


def test_ecg_plot_with_saliency(tmp_path):
    rng = np.random.default_rng(0)
    sig, sal = rng.normal(size=(12, 500)), np.zeros((12, 500))
    sal[1, 200:220] = 5.0
    fig = plot_ecg(sig, 100.0, saliency=sal, title="p1: 0.42")
    axes = [a for a in fig.axes if a.lines]
    by_lead = {a.texts[0].get_text(): a for a in axes}
    assert len(axes) == 12 and set(by_lead) == {"I", "II", "III", "aVR", "aVL", "aVF", *[f"V{i}" for i in range(1, 7)]}
    shading = by_lead["II"].images[0].get_array()
    assert shading.max() == pytest.approx(1.0) and shading[0, :150].max() == 0.0
    fig.savefig(tmp_path / "ecg.png")
    plt.close(fig)
    with pytest.raises(ValueError, match="saliency must have the signal's shape"):
        plot_ecg(sig, 100.0, saliency=sal[:, :10])


def test_image_contribution_attention_plots():
    frames, heat = np.random.default_rng(0).random((2, 16, 16)), np.zeros((16, 16))
    fig = plot_image_saliency(frames, heat, frame=1, frame_labels=["ED", "ES"])
    assert [a.get_title() for a in fig.axes[:2]] == ["ES", "saliency"]
    with pytest.raises(ValueError, match="heatmap must be"):
        plot_image_saliency(frames, np.zeros((8, 8)))
    import pandas as pd

    values = {"ecg": 0.1, "image": -0.05, "text": 0.0}
    for contributions in (values, pd.Series(values)):
        fig = plot_modality_contributions(contributions, 0.2, 0.25)
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels[-1] == "ecg" and len(fig.axes[0].patches) == 3
    fig = plot_attention(np.eye(3) * 0.5, ["ecg", "image", "text"], cls=np.array([0.2, 0.3, 0.1]))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["[CLS]", "ecg", "image", "text"]
    with pytest.raises(ValueError, match=r"must be \(2, 2\)"):
        plot_attention(np.eye(3), ["ecg", "image"])
    plt.close("all")
