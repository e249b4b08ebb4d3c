"""FiLM inside the encoders (``film_encoders``) with real ECG and image CNNs: identity at init, the mask contract
with NaN placeholders, exact per-sample gradients under Opacus, and mask-aware attributions."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from opacus import GradSampleModule
from torch import Tensor

from nextgen_ml.interpret.modalities import coalition_outputs
from nextgen_ml.models.builder import build_multimodal_net
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.privacy import dp_problems

MODALITIES = ("ecg", "image", "tabular")
PATTERNS = list(itertools.product([True, False], repeat=3))  # every presence pattern, one row each
ENCODERS = {
    "ecg": {"name": "ecg_xresnet1d_small", "widths": (4, 8, 8, 8), "in_channels": 3},
    "image": {"name": "image_resnet18", "widths": (4, 4, 8, 8), "in_channels": 2},
    "tabular": {"name": "tabular_mlp", "cardinalities": (0, 0, 0, 0), "hidden": (8,)},
}


def make_net(fusion: str | dict = "film_encoders", perturb: bool = True, encoders: dict | None = None) -> MultimodalNet:
    torch.manual_seed(0)
    net = build_multimodal_net(encoders or ENCODERS, fusion, num_outputs=1, embed_dim=8)
    if perturb:  # a trained-looking modulation instead of the zero init
        gen = torch.Generator().manual_seed(3)
        for p in net.fusion.film.parameters():
            p.data = 0.5 * torch.randn(p.shape, generator=gen)
    return net


def make_batch(placeholder: float = 0.0) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(1)
    n = len(PATTERNS)
    inputs = {"ecg": torch.randn(n, 3, 128, generator=gen), "image": torch.randn(n, 2, 64, 64, generator=gen),
              "tabular": torch.randn(n, 4, generator=gen)}
    mask = {m: torch.tensor([p[i] for p in PATTERNS]) for i, m in enumerate(MODALITIES)}
    for m, x in inputs.items():
        rows = mask[m].view(-1, *([1] * (x.ndim - 1)))
        inputs[m] = torch.where(rows, x, torch.full_like(x, placeholder))
    return inputs, mask


def plain_encodings(net: MultimodalNet, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
    return {m: net.encoders[m](x) for m, x in inputs.items()}


def test_declares_targets_and_stage_channels() -> None:
    net = make_net(perturb=False)
    assert net.fusion.conditions_encoders == {"conditioner": "tabular", "targets": ("ecg", "image")}
    assert [layer.out_features for layer in net.fusion.film["ecg"]] == [8, 16, 16, 16]  # 2 * C_s
    assert [layer.out_features for layer in net.fusion.film["image"]] == [8, 8, 16, 16]


def test_identity_at_init_and_conditioned_after() -> None:
    net = make_net(perturb=False).eval()
    inputs, mask = make_batch()
    with torch.no_grad():
        plain = plain_encodings(net, inputs)
        assert all(torch.equal(a, plain[m]) for m, a in net.encode(inputs, mask).items())
        for p in net.fusion.film.parameters():
            p.add_(0.3)
        film = net.encode(inputs, mask)
    assert torch.equal(film["tabular"], plain["tabular"])
    for m in ("ecg", "image"):
        cond = mask["tabular"]
        assert torch.equal(film[m][~cond], plain[m][~cond])  # conditioner absent: identity
        assert not torch.isclose(film[m][cond], plain[m][cond]).all(dim=1).any()  # present: every row changes


@pytest.mark.parametrize("combine", ["concat", "cross_attention"])
def test_nan_placeholders_change_nothing(combine: str) -> None:
    net = make_net({"name": "film_encoders", "combine": combine, "combine_kwargs": {}}).eval()
    zeros, mask = make_batch(0.0)
    nan, _ = make_batch(float("nan"))
    noise, _ = make_batch(7.0)
    with torch.no_grad():
        ref = net(zeros, mask)
        for poisoned in (nan, noise):
            out = net(poisoned, mask)
            assert torch.isfinite(out["logits"]).all()
            assert torch.equal(out["logits"], ref["logits"]) and torch.equal(out["embedding"], ref["embedding"])


def test_coalitions_mask_the_conditioner_inside_the_encoders() -> None:
    net = make_net().eval()
    inputs, mask = make_batch()
    without = coalition_outputs(net, inputs, mask, [("ecg", "image")])[0]
    with torch.no_grad():
        expected = net(inputs, {**mask, "tabular": torch.zeros_like(mask["tabular"])})["logits"][:, 0]
    torch.testing.assert_close(without, expected)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_per_sample_gradients_under_opacus_are_exact() -> None:
    net = make_net()
    assert dp_problems(net) == []
    inputs, mask = make_batch()
    reference = copy.deepcopy(net)
    model = GradSampleModule(net, loss_reduction="sum")
    model(inputs, mask)["logits"].sum().backward()
    for name, p in net.named_parameters():
        if p.grad is None:
            continue
        assert p.grad_sample is not None and p.grad_sample.shape == (len(PATTERNS), *p.shape), name
        torch.testing.assert_close(p.grad_sample.sum(0), p.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert all(p.grad is not None for p in net.fusion.film.parameters())
    row = 0  # every modality present: the FiLM path carries gradient
    single = {m: x[row:row + 1] for m, x in inputs.items()}
    reference(single, {m: k[row:row + 1] for m, k in mask.items()})["logits"].sum().backward()
    ref_params = dict(reference.named_parameters())
    for name, p in net.named_parameters():
        if name.startswith(("fusion.film.", "encoders.ecg.backbone.blocks.0.", "encoders.tabular.")):
            torch.testing.assert_close(p.grad_sample[row], ref_params[name].grad, rtol=1e-4, atol=1e-6, msg=name)
    model._close()


def test_encoder_without_stages_is_refused_with_its_name() -> None:
    encoders = {**ENCODERS, "ecg": {"name": "ecg_inception_small", "in_channels": 3, "depth": 3}}
    with pytest.raises(ValueError, match=r"\['ecg'\] expose no feature-map stages"):
        make_net(encoders=encoders, perturb=False)


def test_without_the_conditioner_it_is_its_combine_fusion() -> None:
    encoders = {m: ENCODERS[m] for m in ("ecg", "image")}
    net = make_net(perturb=False, encoders=encoders)
    assert net.fusion.conditions_encoders is None and not list(net.fusion.film.parameters())


def test_a_combine_with_an_auxiliary_loss_keeps_it() -> None:
    net = make_net({"name": "film_encoders", "combine": "subspace", "combine_kwargs": {"latent_dim": 4}})
    inputs, mask = make_batch()
    out = net(inputs, mask)
    assert out["aux_loss"].shape == (len(PATTERNS),) and torch.isfinite(out["aux_loss"]).all()
