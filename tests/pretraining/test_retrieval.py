"""Cross-modal recall@k against a brute-force count, on perfect, shuffled and tied embeddings."""

import numpy as np
import pytest
import torch

from nextgen_ml.pretraining.retrieval import chance_recall, match_ranks, recall_at_k


def _brute_force(q: np.ndarray, g: np.ndarray, k: int) -> float:
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    gn = g / np.linalg.norm(g, axis=1, keepdims=True)
    hits = 0
    for i in range(len(q)):
        sims = [float(qn[i] @ gn[j]) for j in range(len(g))]
        better_or_tied = sum(1 for j in range(len(g)) if j != i and sims[j] >= sims[i])
        hits += better_or_tied < k
    return hits / len(q)


def test_recall_matches_a_brute_force_count():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(40, 8))
    g = q + rng.normal(scale=1.0, size=q.shape)  # noisy partners: recall strictly between chance and 1
    out = recall_at_k(torch.tensor(q), torch.tensor(g), ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert out[k] == pytest.approx(_brute_force(q, g, k))
    assert out[1] <= out[5] <= out[10]
    assert out[1] > chance_recall(40, 1)


def test_identity_is_perfect_and_a_shuffle_is_about_chance():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(200, 16)))
    assert recall_at_k(x, 3.0 * x) == {1: 1.0, 5: 1.0, 10: 1.0}  # cosine: scale does not matter
    shuffled = x[torch.randperm(200, generator=torch.Generator().manual_seed(0))]
    r = recall_at_k(x, shuffled, ks=(10,))[10]
    assert abs(r - chance_recall(200, 10)) < 0.08


def test_ties_count_against_the_match():
    same = torch.ones(5, 3)
    assert recall_at_k(same, same, ks=(1, 4, 5)) == {1: 0.0, 4: 0.0, 5: 1.0}
    assert match_ranks(same, same).tolist() == [4] * 5


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        recall_at_k(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="ks"):
        recall_at_k(torch.ones(3, 2), torch.ones(3, 2), ks=(0,))
    with pytest.raises(ValueError, match="chance_recall"):
        chance_recall(0, 1)
    assert chance_recall(100, 5) == 0.05 and chance_recall(3, 10) == 1.0
