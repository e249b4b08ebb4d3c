"""``heart_sound_stats_pool`` and its first-batch standardiser: exact statistics, frozen after the first batch,
refused under DP and at federated sites, and an encoder that separates murmur-like from transient-dominated sounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from nextgen_ml.encoders.heart_sound_stats import PER_SITE, QUANTILES, site_statistics
from nextgen_ml.layers.standardise import FirstRowsStandardiser
from nextgen_ml.models.builder import build_multimodal_net
from nextgen_ml.privacy import assert_dp_compatible, dp_problems
from nextgen_ml.privacy.compat import refuse_data_fitted_layers
from nextgen_ml.registry import create_encoder


def _standardised(x: torch.Tensor) -> torch.Tensor:
    x = x - x.mean(-1, keepdim=True)
    return x / x.std(-1, keepdim=True)


def test_site_statistics_are_exact_and_an_absent_site_is_zero() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 3, 500)
    x[:, :2] = _standardised(torch.randn(2, 2, 500, generator=g))  # site 3 absent
    stats = site_statistics(x)  # (B, S, PER_SITE)
    assert stats.shape == (2, 3, PER_SITE)
    v = x[1, 0].numpy().astype(np.float64)
    expected = [*np.quantile(v, QUANTILES), np.abs(v).mean(), np.abs(np.diff(v)).mean(), np.log1p((v**4).mean()), 1]
    np.testing.assert_allclose(stats[1, 0].numpy(), expected, rtol=1e-4, atol=1e-5)
    assert torch.count_nonzero(stats[:, 2]) == 0


def test_standardiser_pools_the_first_present_training_rows_then_stays_fixed() -> None:
    g = torch.Generator().manual_seed(0)
    layer = FirstRowsStandardiser(3, fit_rows=6)
    a = torch.randn(5, 3, generator=g) * torch.tensor([1.0, 10.0, 0.0]) + torch.tensor([2.0, -5.0, 7.0])
    b = torch.randn(5, 3, generator=g) * torch.tensor([1.0, 10.0, 0.0]) + torch.tensor([2.0, -5.0, 7.0])
    a[4] = 99.0  # an absent row: never counts
    present = torch.tensor([True, True, True, True, False])
    layer.eval()
    torch.testing.assert_close(layer(a, present)[:4], a[:4])  # identity until fitted; eval never fits
    layer.train()
    layer(a, present)  # 4 rows: not yet frozen
    assert not layer.fitted and float(layer.count) == 4
    out = layer(b, present)  # 8 rows >= fit_rows: frozen, pooled over both batches
    assert layer.fitted
    rows = torch.cat([a[:4], b[:4]]).double()
    torch.testing.assert_close(layer.mean, rows.mean(0))
    torch.testing.assert_close(((layer.m2 / (layer.count - 1)).sqrt()), rows.std(0))
    expected = (b[:4].double() - rows.mean(0)) / rows.std(0).clamp_min(1e-3)
    torch.testing.assert_close(out[:4], expected.float(), rtol=1e-5, atol=1e-5)
    assert torch.equal(out[4], torch.zeros(3))  # absent rows come out as zeros
    layer(a * 100, present)  # once frozen, more batches change nothing
    torch.testing.assert_close(layer.mean, rows.mean(0))
    restored = FirstRowsStandardiser(3, fit_rows=6)
    restored.load_state_dict(layer.state_dict())  # the statistics travel with checkpoints
    assert restored.fitted
    torch.testing.assert_close(restored.eval()(b, present), layer.eval()(b, present))


def test_standardising_encoder_is_refused_under_dp_and_at_federated_sites_and_the_plain_one_is_not() -> None:
    fitted = create_encoder("heart_sound_stats_pool", embed_dim=8)
    problems = dp_problems(fitted)
    assert len(problems) == 1 and "standardise: false" in problems[0] and "FirstRowsStandardiser" in problems[0]
    net = build_multimodal_net({"heart_sound": fitted, "tabular": "tabular_mlp"}, "concat", num_outputs=1,
                               embed_dim=8)
    with pytest.raises(ValueError, match="encoders.heart_sound.standardise: FirstRowsStandardiser"):
        assert_dp_compatible(net)
    with pytest.raises(ValueError, match="federated site 'site_a': the model has layers that fit on patient data"):
        refuse_data_fitted_layers(net, "federated site 'site_a'")
    plain = create_encoder("heart_sound_stats_pool", embed_dim=8, standardise=False)
    assert dp_problems(plain) == []
    refuse_data_fitted_layers(plain, "federated server")  # nothing to refuse


@pytest.mark.parametrize("fusion", ["concat", "cross_attention", "latent_attention"])
def test_fusions_take_it_with_absent_rows(fusion: str) -> None:
    torch.manual_seed(0)
    net = build_multimodal_net({"heart_sound": "heart_sound_stats_pool", "tabular": "tabular_mlp"}, fusion,
                               num_outputs=1, embed_dim=16).train()
    x = torch.zeros(10, 4, 400)
    x[:8] = _standardised(torch.randn(8, 4, 400))
    present = torch.tensor([True] * 8 + [False] * 2)
    out = net({"heart_sound": x, "tabular": torch.zeros(10, 12)},
              {"heart_sound": present, "tabular": torch.ones(10, dtype=torch.bool)})
    assert out["logits"].shape == (10, 1) and torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()
    assert float(net.encoders["heart_sound"].standardise.count) == 8  # the present rows only


def test_it_tells_murmur_like_sound_from_transient_dominated_sound() -> None:
    rng = np.random.default_rng(0)
    n, length = 240, 800
    y = rng.random(n) < 0.4
    beats = np.zeros(length)
    beats[::100] = 1.0
    beats = np.convolve(beats, np.hanning(15), "same")  # S1/S2-like transients
    murmur = rng.uniform(0.15, 0.5, n) * y  # murmur loudness; none in the negatives
    x = beats + (0.05 + murmur)[:, None] * rng.standard_normal((n, length))  # (n, N)
    x = _standardised(torch.as_tensor(x[:, None].repeat(2, 1), dtype=torch.float32))  # (n, 2, N), two sites
    torch.manual_seed(0)
    enc = create_encoder("heart_sound_stats_pool", embed_dim=8, in_channels=2)
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    target = torch.as_tensor(y, dtype=torch.float32)
    for _ in range(60):
        rows = torch.as_tensor(rng.choice(160, 32, replace=False))
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(head(enc(x[rows]))[:, 0], target[rows]).backward()
        opt.step()
    with torch.no_grad():
        score = head(enc.eval()(x[160:]))[:, 0].numpy()
    assert roc_auc_score(y[160:], score) > 0.95


def test_wrong_input_is_named() -> None:
    enc = create_encoder("heart_sound_stats_pool", in_channels=4)
    with pytest.raises(ValueError, match="heart_sound_stats_pool"):
        enc(torch.zeros(2, 3, 100))
    with pytest.raises(ValueError, match="in_channels must be >= 1"):
        create_encoder("heart_sound_stats_pool", in_channels=0)
