"""``wearable_stats_pool``: masked statistics are exact, gaps never count, shapes, and bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nextgen_ml.encoders.wearable_stats import masked_mean_sd
from nextgen_ml.registry import create_encoder


def test_masked_mean_and_sd_match_numpy_over_the_observed_bins_only() -> None:
    rng = np.random.default_rng(0)
    v, w = rng.normal(size=(3, 50)), (rng.random((3, 50)) > 0.4).astype(float)
    w[2] = 0.0  # a row with no observed bin
    mean, sd = masked_mean_sd(torch.as_tensor(v), torch.as_tensor(w))
    for i in range(2):
        obs = v[i][w[i] > 0]
        assert mean[i].item() == pytest.approx(obs.mean()) and sd[i].item() == pytest.approx(obs.std(), rel=1e-4)
    assert mean[2].item() == 0.0 and sd[2].item() == 0.0


def _day(b: int = 2, t: int = 300) -> torch.Tensor:
    """``(B, 8, T)``: 3 standardised signals, their masks (all observed), 2 time-of-day rows."""
    torch.manual_seed(0)
    x = torch.randn(b, 8, t)
    x[:, 3:6] = 1.0
    return x


def test_values_inside_gaps_change_nothing() -> None:
    enc = create_encoder("wearable_stats_pool", embed_dim=16).eval()
    x = _day()
    x[:, 3:6, 120:180] = 0.0  # hour 3 is a gap for every signal ...
    x[0, 4, 200:230] = 0.0  # ... and activity alone is missing for half an hour of patient 0
    a, b = x.clone(), x.clone()
    a[:, :3, 120:180], b[:, :3, 120:180] = 0.0, 7.0  # whatever the value rows hold there
    a[0, 1, 200:230], b[0, 1, 200:230] = 0.0, -4.0
    with torch.no_grad():
        torch.testing.assert_close(enc(a), enc(b))
        torch.testing.assert_close(enc.forward_tokens(a), enc.forward_tokens(b))
        c = a.clone()
        c[:, :3, 0:60] += 1.0  # an observed change does count
        assert not torch.allclose(enc(a), enc(c))


def test_shapes_padding_and_an_all_gap_recording() -> None:
    enc = create_encoder("wearable_stats_pool", embed_dim=16, window=60).eval()
    with torch.no_grad():
        assert enc.forward_tokens(_day(t=1000)).shape == (2, 17, 16)  # 1000 bins → 17 windows (last padded)
        assert enc(_day(t=1000)).shape == (2, 16)
        empty = torch.zeros(2, 8, 100)  # no observed bin at all (an absent row's placeholder)
        assert torch.isfinite(enc(empty)).all() and torch.isfinite(enc.forward_tokens(empty)).all()


def test_bad_input_names_the_encoder_and_settings_are_checked() -> None:
    enc = create_encoder("wearable_stats_pool", embed_dim=16)
    with pytest.raises(ValueError, match=r"wearable_stats_pool: expected input of shape \(B, 8, T\)"):
        enc(torch.zeros(2, 6, 100))
    with pytest.raises(ValueError, match="n_signals=5 needs"):
        create_encoder("wearable_stats_pool", in_channels=8, n_signals=5)
    with pytest.raises(ValueError, match="must be >= 1"):
        create_encoder("wearable_stats_pool", window=0)


@pytest.mark.parametrize("fusion", ["concat", "late", "cross_attention", "directional_attention", "latent_attention",
                                    "bottleneck"])
def test_vector_and_token_fusions_take_it_with_absent_rows(fusion: str) -> None:
    from nextgen_ml.models.builder import build_multimodal_net

    torch.manual_seed(0)
    net = build_multimodal_net({"wearable": "wearable_stats_pool", "tabular": "tabular_mlp"}, fusion, num_outputs=1,
                               embed_dim=16, modality_specs={"wearable": {"in_channels": 8, "n_signals": 3}})
    x = _day(b=4, t=240)
    x[2:] = 0.0  # rows 2-3: wearable absent (all-gap placeholders)
    out = net({"wearable": x, "tabular": torch.zeros(4, 12)},
              {"wearable": torch.tensor([True, True, False, False]), "tabular": torch.ones(4, dtype=torch.bool)})
    assert out["logits"].shape == (4, 1) and torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()
