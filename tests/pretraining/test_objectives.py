"""The pretraining losses against direct computations, and their handling of missing modalities."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nextgen_ml.pretraining.contrastive import MAX_LOGIT_SCALE, LogitScale, contrastive_loss, info_nce
from nextgen_ml.pretraining.masked import choose_hidden, context_mask, masked_modality_loss
from nextgen_ml.pretraining.objectives import PretrainObjective, create_objective
from nextgen_ml.privacy.losses import per_sample_loss_fn


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def _loop_info_nce(za: torch.Tensor, zb: torch.Tensor, rows: list[int], tau: float) -> float:
    """InfoNCE written out with Python loops: -log softmax of the positive, both directions, mean."""
    total = 0.0
    for i in rows:
        sims_ab = [float(za[i] @ zb[j]) / tau for j in rows]
        sims_ba = [float(zb[i] @ za[j]) / tau for j in rows]
        k = rows.index(i)
        total += -(sims_ab[k] - math.log(sum(math.exp(s) for s in sims_ab)))
        total += -(sims_ba[k] - math.log(sum(math.exp(s) for s in sims_ba)))
    return total / (2 * len(rows))


@pytest.mark.parametrize("tau", [0.07, 0.5, 1.0])
def test_info_nce_matches_a_loop_in_both_directions(tau: float) -> None:
    za, zb = _unit(6, 8, seed=1), _unit(6, 8, seed=2)
    present = torch.ones(6, dtype=torch.bool)
    got = info_nce(za, zb, present, torch.tensor(math.log(1 / tau)))
    assert got.item() == pytest.approx(_loop_info_nce(za, zb, list(range(6)), tau), rel=1e-5)
    # symmetric: swapping the modalities gives the same loss; a non-symmetric version would differ here
    assert info_nce(zb, za, present, torch.tensor(math.log(1 / tau))).item() == pytest.approx(got.item(), rel=1e-6)


def test_absent_rows_change_nothing_for_the_others() -> None:
    za, zb = _unit(7, 8, seed=3), _unit(7, 8, seed=4)
    present = torch.tensor([1, 1, 0, 1, 0, 1, 1], dtype=torch.bool)
    scale = torch.tensor(math.log(1 / 0.1))
    ref = info_nce(za, zb, present, scale)
    rows = [i for i in range(7) if present[i]]
    assert ref.item() == pytest.approx(_loop_info_nce(za, zb, rows, 0.1), rel=1e-5)
    for poison in (float("nan"), 1e6):
        pa, pb = za.clone(), zb.clone()
        pa[~present], pb[2] = poison, poison  # rows missing a partner hold any placeholder
        pa.requires_grad_(True)
        got = info_nce(pa, pb, present, scale)
        assert torch.equal(got, ref)
        got.backward()
        assert torch.isfinite(pa.grad).all() and (pa.grad[~present] == 0).all()


def test_fewer_than_two_rows_give_a_zero_with_a_graph() -> None:
    za = _unit(3, 4).requires_grad_(True)
    scale = LogitScale()
    loss = info_nce(za, _unit(3, 4, seed=1), torch.tensor([True, False, False]), scale())
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert scale.value.grad is not None and scale.value.grad.item() == 0.0


def test_temperature_is_learnable_and_clamped() -> None:
    scale = LogitScale()
    assert scale().item() == pytest.approx(math.log(1 / 0.07))
    za, zb = _unit(5, 8, seed=5), _unit(5, 8, seed=6)
    info_nce(za, zb, torch.ones(5, dtype=torch.bool), scale()).backward()
    assert scale.value.grad is not None and scale.value.grad.item() != 0.0
    with torch.no_grad():
        scale.value.fill_(10.0)
    assert scale().item() == pytest.approx(MAX_LOGIT_SCALE)


def test_contrastive_loss_is_the_mean_over_pairs_with_two_rows() -> None:
    z = {m: _unit(6, 8, seed=i) for i, m in enumerate(["ecg", "image", "text"])}
    mask = {"ecg": torch.ones(6, dtype=torch.bool), "image": torch.tensor([1, 1, 1, 0, 0, 0], dtype=torch.bool),
            "text": torch.tensor([0, 0, 0, 0, 0, 1], dtype=torch.bool)}
    scale = torch.tensor(2.0)
    loss, pairs = contrastive_loss(z, mask, scale)
    # ecg–text and image–text have < 2 shared rows: only ecg–image counts
    assert pairs == 1
    assert torch.allclose(loss, info_nce(z["ecg"], z["image"], mask["image"], scale))
    mask["text"] = torch.ones(6, dtype=torch.bool)
    loss, pairs = contrastive_loss(z, mask, scale)
    expected = (info_nce(z["ecg"], z["image"], mask["image"], scale) + info_nce(z["ecg"], z["text"], mask["ecg"], scale)
                + info_nce(z["image"], z["text"], mask["image"], scale)) / 3
    assert pairs == 3 and torch.allclose(loss, expected)


def test_choose_hidden_hides_a_present_modality_and_keeps_another() -> None:
    mods = ["ecg", "image", "text"]
    mask = {"ecg": torch.tensor([1, 1, 0, 1, 0], dtype=torch.bool),
            "image": torch.tensor([1, 0, 0, 1, 1], dtype=torch.bool),
            "text": torch.tensor([0, 0, 1, 1, 1], dtype=torch.bool)}
    for seed in range(20):
        hidden = choose_hidden(mask, mods, torch.Generator().manual_seed(seed))
        assert hidden[1] == -1 and hidden[2] == -1  # one present modality: nothing to hide
        for row in (0, 3, 4):
            h = int(hidden[row])
            assert mask[mods[h]][row]
            ctx = context_mask(mask, mods, hidden)
            assert not ctx[mods[h]][row] and any(bool(ctx[m][row]) for m in mods)
    fixed = [choose_hidden(mask, mods, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert torch.equal(fixed[0], fixed[1])


def test_masked_modality_loss_counts_only_rows_with_a_hidden_modality() -> None:
    mods = ["ecg", "image"]
    z = {"ecg": _unit(4, 8, seed=1), "image": _unit(4, 8, seed=2)}
    pred = torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    hidden = torch.tensor([0, -1, 1, -1])
    loss, n = masked_modality_loss(pred, z, mods, hidden)
    direct = ((1 - F.cosine_similarity(pred[0, 0], z["ecg"][0], dim=0))
              + (1 - F.cosine_similarity(pred[2, 1], z["image"][2], dim=0))) / 2
    assert n == 2 and torch.allclose(loss, direct)
    poisoned = pred.detach().clone()
    poisoned[1], poisoned[3] = float("nan"), float("nan")  # rows without a hidden modality are never read
    poisoned[0, 1], poisoned[2, 0] = 1e6, 1e6  # nor the predictions of the modalities a row did not hide
    assert torch.allclose(masked_modality_loss(poisoned, z, mods, hidden)[0], direct.detach())
    loss.backward()
    assert (pred.grad[[1, 3]] == 0).all() and (pred.grad[0, 1] == 0).all()


def test_masked_modality_targets_are_stop_gradient() -> None:
    z = {"ecg": _unit(3, 4).requires_grad_(True), "image": _unit(3, 4, seed=1).requires_grad_(True)}
    pred = torch.randn(3, 2, 4, requires_grad=True)
    masked_modality_loss(pred, z, ["ecg", "image"], torch.tensor([0, 1, 0]))[0].backward()
    assert z["ecg"].grad is None and z["image"].grad is None and pred.grad is not None


def test_objectives_registry_and_dp_refusal() -> None:
    with pytest.raises(ValueError, match="unknown objective 'simclr'"):
        create_objective("simclr")
    clip = PretrainObjective({"contrastive": 1.0, "masked_modality": 0.5})
    with pytest.raises(ValueError, match=r"refuses pretraining objective\(s\) \['contrastive'\].*in-batch negatives"):
        per_sample_loss_fn(clip)  # what DPCallback.setup asks first
    masked = PretrainObjective({"masked_modality": 1.0})
    assert per_sample_loss_fn(masked) is not None
    with pytest.raises(ValueError, match="weights must be > 0"):
        PretrainObjective({"contrastive": 0.0})
