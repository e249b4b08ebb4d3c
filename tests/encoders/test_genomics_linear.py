"""``genomics_linear``: dosages standardised by declared allele frequencies, a zero-initialised linear score whose
first gradient follows the marginal variant–outcome covariances, and a score that learns an additive effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from nextgen_ml.data.cohort.genotype import build_panel
from nextgen_ml.data.transforms import GenomicsTransform
from nextgen_ml.models.builder import build_encoder
from nextgen_ml.registry import create_encoder

AF = [0.5, 0.1, 0.25, 0.02]


def test_standardisation_is_exact_and_missing_calls_sit_at_the_expected_dosage() -> None:
    enc = create_encoder("genomics_linear", embed_dim=3, n_variants=4, allele_freq=AF, clip=5.0)
    x = torch.tensor([[1.0, 0.2, 0.5, 0.04], [2.0, float("nan"), 0.0, 2.0]])
    z = enc.standardise(x)
    p = torch.tensor(AF)
    expected = (x - 2 * p) / torch.sqrt(2 * p * (1 - p))
    torch.testing.assert_close(z[0], torch.zeros(4), atol=1e-6, rtol=0)  # the expected dosage → 0
    torch.testing.assert_close(z[1, [0, 2]], expected[1, [0, 2]])
    assert z[1, 1] == 0.0  # a missing call counts as the expected dosage
    assert z[1, 3] == pytest.approx(5.0)  # a rare homozygote (≈ 9.9 SD) is clipped


def test_the_score_starts_at_zero_and_its_first_gradient_is_the_marginal_covariance() -> None:
    rng = np.random.default_rng(0)
    af = rng.uniform(0.1, 0.5, 16)
    x = torch.as_tensor(rng.binomial(2, af, (400, 16)), dtype=torch.float32)
    y = torch.as_tensor(rng.random(400) < 0.3, dtype=torch.float32)
    enc = create_encoder("genomics_linear", embed_dim=1, n_variants=16, allele_freq=af.tolist())
    score = enc(x)[:, 0]
    assert torch.count_nonzero(score) == 0
    prior = y.mean()
    logit = score + torch.log(prior / (1 - prior))  # a head started at the prior (tasks.prior)
    nn.functional.binary_cross_entropy_with_logits(logit, y).backward()
    z = enc.standardise(x)
    covariance = (z * (y - prior)[:, None]).mean(0)  # (V,) marginal covariance of each variant with the outcome
    torch.testing.assert_close(-enc.score.weight.grad[0], covariance, rtol=1e-4, atol=1e-6)
    uncentred = (x * (y - prior)[:, None]).mean(0)  # what an uncentred dosage input would follow
    assert not torch.allclose(-enc.score.weight.grad[0], uncentred, rtol=0.1)


def test_it_learns_an_additive_genetic_effect() -> None:
    rng = np.random.default_rng(1)
    n, v = 3000, 32
    af = rng.uniform(0.1, 0.5, v)
    beta = rng.uniform(0.1, 0.4, v) * rng.choice([-1, 1], v)
    g = rng.binomial(2, af, (n, v)).astype(np.float32)
    risk = (g - 2 * af) @ beta
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1.0)))).astype(np.float32)
    torch.manual_seed(0)
    enc = create_encoder("genomics_linear", embed_dim=4, n_variants=v, allele_freq=af.tolist())
    head = nn.Linear(4, 1)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    xt, yt = torch.as_tensor(g[:2000]), torch.as_tensor(y[:2000])
    for _ in range(300):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(head(enc(xt))[:, 0], yt).backward()
        opt.step()
    with torch.no_grad():
        pred = head(enc(torch.as_tensor(g[2000:])))[:, 0].numpy()
    oracle = roc_auc_score(y[2000:], risk[2000:])
    assert roc_auc_score(y[2000:], pred) > oracle - 0.03


def test_the_builder_reads_the_panel_frequencies_from_the_transform_spec() -> None:
    panel = build_panel()
    spec = GenomicsTransform(panel).spec()
    enc = build_encoder("genomics", "genomics_linear", 8, spec)
    torch.testing.assert_close(enc.centre, torch.tensor([2 * v.af for v in panel.variants]))
    assert enc.n_variants == len(panel) and enc.out_dim == 8
    variant_embed = build_encoder("genomics", "genomics_variant_embed", 8, spec)  # does not take allele_freq
    assert variant_embed.n_variants == len(panel)


def test_bad_frequencies_and_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="genomics_linear: allele_freq has 3 entries, expected n_variants=4"):
        create_encoder("genomics_linear", n_variants=4, allele_freq=AF[:3])
    with pytest.raises(ValueError, match=r"genomics_linear: allele_freq must lie in \(0, 1\)"):
        create_encoder("genomics_linear", n_variants=4, allele_freq=[0.5, 0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="genomics_linear: clip must be positive"):
        create_encoder("genomics_linear", n_variants=4, allele_freq=AF, clip=0)
    enc = create_encoder("genomics_linear", n_variants=4, allele_freq=AF)
    with pytest.raises(ValueError, match="genomics_linear"):
        enc(torch.zeros(2, 5))
