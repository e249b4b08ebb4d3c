"""Every registered encoder satisfies the encoder contract and trains under Opacus."""

from __future__ import annotations

import pytest
import torch
from opacus import GradSampleModule
from opacus.validators import ModuleValidator

from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.privacy import dp_problems
from nextgen_ml.privacy.compat import data_fitted_layers
from nextgen_ml.registry import ENCODER_PREFIXES, create_encoder
from tests.encoders.inputs import DP_OPTIONS, encoder_names, make_input

NAMES = encoder_names()
B = 3


def _build(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_encoder(name)


def _trainable(module: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def test_every_modality_has_an_encoder() -> None:
    assert {p for p in ENCODER_PREFIXES if any(n.startswith(p) for n in NAMES)} == set(ENCODER_PREFIXES)
    assert {p[:-1] for p in ENCODER_PREFIXES} == set(MODALITIES)


@pytest.mark.parametrize("name", NAMES)
def test_shapes(name: str) -> None:
    enc = _build(name)
    x = make_input(name, B)
    assert isinstance(enc.out_dim, int)
    out = enc(x)
    tokens = enc.forward_tokens(x)
    assert out.shape == (B, enc.out_dim)
    assert tokens.ndim == 3 and tokens.shape[0] == B and tokens.shape[2] == enc.out_dim
    assert torch.isfinite(out).all() and torch.isfinite(tokens).all()


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_finite_grads_on_all_trainable_params(name: str) -> None:
    enc = _build(name)
    x = make_input(name, B)
    (enc(x).pow(2).mean() + enc.forward_tokens(x).pow(2).mean()).backward()
    for pname, p in _trainable(enc):
        assert p.grad is not None, f"{name}: {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has non-finite gradient"


#: encoders whose initialisation is deterministic by design (a zero-initialised linear score)
DETERMINISTIC_INIT = {"genomics_linear"}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_outputs(name: str) -> None:
    a, b, c = _build(name, 7).eval(), _build(name, 7).eval(), _build(name, 8).eval()
    x = make_input(name, B)
    with torch.no_grad():
        ya, yb, yc = a(x), b(x), c(x)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    if name in DETERMINISTIC_INIT:
        torch.testing.assert_close(ya, yc, rtol=0, atol=0)
    else:
        assert not torch.allclose(ya, yc), f"{name}: seed has no effect on initialisation"


@pytest.mark.parametrize("name", NAMES)
def test_dp_compatible_by_construction(name: str) -> None:
    enc = _build(name)
    assert ModuleValidator.validate(enc, strict=False) == []
    if name in DP_OPTIONS:
        assert dp_problems(enc) == data_fitted_layers(enc) != []
        enc = create_encoder(name, **DP_OPTIONS[name])
    assert dp_problems(enc) == []


SLOW_DP = {"image_timm_efficientnet_b0", "ecg_xresnet1d_base"}  # > ~10 s of per-sample grads on 2 shared cores


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_DP else n for n in NAMES])
def test_opacus_per_sample_grads(name: str) -> None:
    enc = _build(name)
    gsm = GradSampleModule(enc, loss_reduction="sum")
    gsm(make_input(name, B)).pow(2).sum().backward()
    for pname, p in _trainable(enc):
        assert p.grad_sample is not None, f"{name}: {pname} has no grad_sample"
        assert p.grad_sample.shape == (B, *p.shape), f"{name}: {pname} grad_sample {tuple(p.grad_sample.shape)}"
        assert torch.isfinite(p.grad_sample).all()
    gsm._close()


@pytest.mark.parametrize(
    "name", ["ecg_xresnet1d_small", "image_timm_resnet18", "image_resnet18", "genomics_variant_embed",
             "tabular_ft_transformer", "text_transformer_small"]
)
def test_per_sample_grads_match_per_example_loop(name: str) -> None:
    enc = _build(name)
    x = make_input(name, B)
    expected = []  # gradient of sample i's loss alone, taken through the same batched forward
    for i in range(B):
        enc.zero_grad()
        enc(x)[i].pow(2).sum().backward()
        expected.append({n: p.grad.clone() for n, p in _trainable(enc)})
    enc.zero_grad()
    gsm = GradSampleModule(enc, loss_reduction="sum")
    gsm(x).pow(2).sum().backward()
    for n, p in _trainable(enc):
        for i in range(B):
            ref = expected[i][n]
            atol = 1e-4 * float(ref.abs().max()) + 1e-6  # float32 summation order differs between the two paths
            torch.testing.assert_close(p.grad_sample[i], ref, rtol=1e-3, atol=atol, msg=f"{name}: {n}[{i}]")
    gsm._close()


def test_unknown_encoder_lists_available_names() -> None:
    with pytest.raises(KeyError, match="ecg_xresnet1d_small"):
        create_encoder("ecg_resnet_tiny")
