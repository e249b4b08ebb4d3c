"""Shapley / leave-one-out modality attribution: axioms on hand-made nets and agreement with brute force."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor, nn

from nextgen_ml.interpret import coalition_outputs, leave_one_out, modality_shapley
from nextgen_ml.models.builder import build_multimodal_net

NAMES = ("ecg", "genomics", "tabular")


class AdditiveNet(nn.Module):
    """f = bias + Σ_m weight_m · mask_m · sum(x_m): each present modality adds its own term."""

    def __init__(self, weights: dict[str, float], bias: float = 0.5) -> None:
        super().__init__()
        self.weights, self.bias = weights, bias

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
        out = torch.full((next(iter(inputs.values())).shape[0],), self.bias)
        for m, x in inputs.items():
            out = out + self.weights[m] * mask[m].float() * x.sum(dim=1)
        return {"logits": out[:, None]}


class InteractionNet(nn.Module):
    """f = 3·[ecg and genomics present] + 2·[tabular present]·x_tab + 7·[ecg and genomics and tabular present]."""

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
        e, g, t = (mask[m].float() for m in NAMES)
        out = 3 * e * g + 2 * t * inputs["tabular"][:, 0] + 7 * e * g * t
        return {"logits": out[:, None]}


def _batch(b: int = 6, seed: int = 0) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    inputs = {m: torch.randn(b, 3, generator=gen) for m in NAMES}
    mask = {m: torch.rand(b, generator=gen) > 0.3 for m in NAMES}
    mask["ecg"][0] = mask["genomics"][0] = mask["tabular"][0] = True  # one complete row
    return inputs, mask


def brute_force_shapley(net: nn.Module, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
    """Average marginal contribution over every ordering of each row's present modalities."""
    b = next(iter(mask.values())).shape[0]
    out = {m: torch.zeros(b) for m in mask}
    for row in range(b):
        present = [m for m in sorted(mask) if bool(mask[m][row])]
        x = {m: v[row : row + 1] for m, v in inputs.items()}

        def value(coalition: set[str], x: dict[str, Tensor] = x) -> float:
            sub = {m: torch.tensor([m in coalition]) for m in mask}
            return float(net(x, sub)["logits"][0, 0])

        for order in itertools.permutations(present):
            seen: set[str] = set()
            for m in order:
                out[m][row] += (value(seen | {m}) - value(seen)) / math.factorial(len(present))
                seen.add(m)
    return out


def test_additive_net_gets_its_own_terms_and_zero_for_absent() -> None:
    inputs, mask = _batch()
    weights = {"ecg": 1.5, "genomics": -2.0, "tabular": 0.25}
    net = AdditiveNet(weights)
    phi, loo = modality_shapley(net, inputs, mask), leave_one_out(net, inputs, mask)
    for m in NAMES:
        expected = weights[m] * inputs[m].sum(dim=1) * mask[m].float()
        torch.testing.assert_close(phi[m], expected)
        torch.testing.assert_close(loo[m], expected)  # additive: LOO equals Shapley


def test_efficiency_symmetry_dummy_on_interaction_net() -> None:
    inputs, mask = _batch(b=8, seed=1)
    net = InteractionNet()
    phi = modality_shapley(net, inputs, mask)
    values = coalition_outputs(net, inputs, mask, [list(NAMES), []])  # f(all present), f(none)
    torch.testing.assert_close(sum(phi.values()), values[0] - values[1])  # efficiency
    both = mask["ecg"] & mask["genomics"]
    torch.testing.assert_close(phi["ecg"][both], phi["genomics"][both])  # symmetry: ecg, genomics interchangeable
    full = both & mask["tabular"]
    x_tab = inputs["tabular"][:, 0]
    # complete rows: ecg gets 3/2 (pair) + 7/3 (triple); tabular gets 2·x + 7/3
    torch.testing.assert_close(phi["ecg"][full], torch.full((int(full.sum()),), 1.5 + 7 / 3))
    torch.testing.assert_close(phi["tabular"][full], 2 * x_tab[full] + 7 / 3)
    for m in NAMES:  # absent → exactly 0
        assert bool((phi[m][~mask[m]] == 0).all())


def test_dummy_modality_gets_zero() -> None:
    inputs, mask = _batch(seed=2)
    net = AdditiveNet({"ecg": 1.0, "genomics": 0.0, "tabular": 2.0})
    phi = modality_shapley(net, inputs, mask)
    assert torch.count_nonzero(phi["genomics"]) == 0
    assert torch.count_nonzero(phi["ecg"][mask["ecg"]]) == int(mask["ecg"].sum())


def test_matches_brute_force_on_interaction_net() -> None:
    inputs, mask = _batch(b=7, seed=3)
    net = InteractionNet()
    phi, ref = modality_shapley(net, inputs, mask), brute_force_shapley(net, inputs, mask)
    for m in NAMES:
        torch.testing.assert_close(phi[m], ref[m], atol=1e-5, rtol=1e-5)


class _Wrapped(nn.Module):
    """The same MultimodalNet without encode/fusion/head attributes (forces one full forward per coalition)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.inner = net

    def forward(self, inputs: dict[str, Tensor], mask: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.inner(inputs, mask)


@pytest.mark.parametrize("fusion", ["gated", "cross_attention"])
def test_real_multimodal_net_fast_path_equals_forward_and_is_efficient(fusion: str) -> None:
    torch.manual_seed(0)
    net = build_multimodal_net({"genomics": "genomics_prs_linear", "tabular": "tabular_mlp"}, fusion, num_outputs=2,
                               embed_dim=16, modality_specs={"genomics": {"n_variants": 5}})
    net.train()  # the attribution must switch to eval (dropout off) and restore the mode
    b = 9
    gen = torch.Generator().manual_seed(0)
    from nextgen_ml.encoders.tabular import default_cardinalities

    cards = default_cardinalities()
    tab = torch.stack([torch.randint(0, c, (b,), generator=gen).float() if c else torch.randn(b, generator=gen)
                       for c in cards], dim=1)
    inputs = {"genomics": torch.rand(b, 5, generator=gen) * 2, "tabular": tab}
    mask = {"genomics": torch.tensor([1, 1, 0, 1, 0, 1, 1, 0, 1], dtype=torch.bool),
            "tabular": torch.tensor([1, 0, 1, 1, 0, 1, 1, 1, 1], dtype=torch.bool)}
    phi = modality_shapley(net, inputs, mask)
    assert net.training
    ref = modality_shapley(_Wrapped(net), inputs, mask)
    for m in mask:
        torch.testing.assert_close(phi[m], ref[m], atol=1e-5, rtol=1e-4)
    net.eval()
    with torch.no_grad():
        f_all = net(inputs, mask)["logits"][:, 0]
        f_none = net(inputs, {m: torch.zeros(b, dtype=torch.bool) for m in mask})["logits"][:, 0]
    torch.testing.assert_close(phi["genomics"] + phi["tabular"], f_all - f_none, atol=1e-5, rtol=1e-4)
    second = modality_shapley(net, inputs, mask, output_fn=lambda out: out["logits"][:, 1])
    assert not torch.allclose(second["tabular"], phi["tabular"])


def test_errors_name_the_argument() -> None:
    inputs, mask = _batch()
    with pytest.raises(ValueError, match="mask is missing"):
        modality_shapley(InteractionNet(), inputs, {"ecg": mask["ecg"]})
    with pytest.raises(ValueError, match="not in mask"):
        coalition_outputs(InteractionNet(), inputs, mask, [["image"]])
