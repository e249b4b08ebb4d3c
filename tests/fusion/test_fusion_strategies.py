"""Every registered fusion: shapes, gradients, every missing-modality pattern, mask semantics, DP compatibility."""

from __future__ import annotations

import pytest
import torch
from opacus import GradSampleModule
from opacus.validators import ModuleValidator

from nextgen_ml.fusion import DP_REFUSED
from nextgen_ml.registry import create_fusion, list_fusions
from tests.fusion.inputs import CONFIGS, IN_DIMS, PATTERNS, STOCHASTIC, build, make_inputs


def test_every_registered_fusion_is_tested() -> None:
    assert set(list_fusions()) <= {name for name, _ in CONFIGS.values()}


@pytest.mark.parametrize("name", list_fusions())
def test_builds_without_arguments(name: str) -> None:
    fusion = create_fusion(name)
    assert isinstance(fusion.out_dim, int) and isinstance(fusion.uses_tokens, bool)


@pytest.mark.parametrize("config", CONFIGS)
def test_shapes_and_backward_over_every_pattern(config: str) -> None:
    fusion = build(config)
    feats, mask = make_inputs(fusion)
    out = fusion(feats, mask)
    assert out.shape == (len(PATTERNS), fusion.out_dim)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    grads = [p.grad for p in fusion.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # every row with data differs from the empty row (the learned "no data" embedding)
    assert not torch.allclose(out[:-1], out[-1:].expand_as(out[:-1]))


@pytest.mark.parametrize("config", CONFIGS)
def test_absent_placeholders_do_not_change_output(config: str) -> None:
    fusion = build(config).eval()
    feats, mask = make_inputs(fusion)
    ref = fusion(feats, mask)
    poisoned = {}
    for m, x in feats.items():
        rows = mask[m].view(-1, *([1] * (x.ndim - 1)))
        poisoned[m] = torch.where(rows, x, torch.full_like(x, float("nan")))
    poisoned["image"] = torch.where(
        mask["image"].view(-1, *([1] * (feats["image"].ndim - 1))),
        poisoned["image"],
        torch.full_like(feats["image"], 1e6),
    )
    assert torch.equal(fusion(poisoned, mask), ref)


@pytest.mark.parametrize("config", CONFIGS)
def test_present_inputs_change_output(config: str) -> None:
    fusion = build(config).eval()
    feats, mask = make_inputs(fusion)
    ref = fusion(feats, mask)
    changed = dict(feats, ecg=feats["ecg"] + 1.0)
    out = fusion(changed, mask)
    ecg_rows = mask["ecg"]
    assert not torch.allclose(out[ecg_rows], ref[ecg_rows])
    torch.testing.assert_close(out[~ecg_rows], ref[~ecg_rows], rtol=0, atol=0)


@pytest.mark.parametrize("config", CONFIGS)
def test_all_false_mask_equals_leaving_the_modality_out(config: str) -> None:
    fusion = build(config).eval()
    feats, mask = make_inputs(fusion)
    for m in IN_DIMS:
        hidden = fusion(feats, {**mask, m: torch.zeros_like(mask[m])})
        dropped = fusion({k: v for k, v in feats.items() if k != m}, {k: v for k, v in mask.items() if k != m})
        torch.testing.assert_close(hidden, dropped, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
def test_rows_are_independent(config: str) -> None:
    fusion = build(config).eval()
    feats, mask = make_inputs(fusion)
    full = fusion(feats, mask)
    for row in (0, 3, len(PATTERNS) - 1):
        single = fusion({m: x[row : row + 1] for m, x in feats.items()}, {m: k[row : row + 1] for m, k in mask.items()})
        torch.testing.assert_close(single[0], full[row], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
def test_deterministic_under_seed(config: str) -> None:
    a, b, c = build(config, seed=3), build(config, seed=3), build(config, seed=4)
    if config in STOCHASTIC:
        a, b, c = a.eval(), b.eval(), c.eval()
    feats, mask = make_inputs(a)
    assert torch.equal(a(feats, mask), b(feats, mask))
    assert not torch.equal(a(feats, mask), c(feats, mask))


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("config", CONFIGS)
def test_opacus_per_sample_gradients(config: str) -> None:
    name = CONFIGS[config][0]
    if name in DP_REFUSED:  # refused: Opacus' validator must say why (see nextgen_ml/fusion/dp.py)
        errors = [str(e) for e in ModuleValidator.validate(build(config), strict=False)]
        assert any(DP_REFUSED[name] in e for e in errors), errors
        return
    fusion = build(config)
    assert ModuleValidator.validate(fusion, strict=False) == []
    feats, mask = make_inputs(fusion)
    if config in STOCHASTIC:  # the single-row reference must draw the same latent: use the posterior mean
        fusion.sample = False
    model = GradSampleModule(fusion, loss_reduction="sum")
    model(feats, mask).sum().backward()
    params = [(n, p) for n, p in fusion.named_parameters() if p.grad is not None]
    assert params
    for name, p in params:
        assert p.grad_sample is not None, name
        assert p.grad_sample.shape == (len(PATTERNS), *p.shape), name
        torch.testing.assert_close(p.grad_sample.sum(0), p.grad, rtol=1e-4, atol=1e-5, msg=name)
    # the per-sample gradient of row 2 equals the gradient of a batch holding only row 2
    ref = build(config)
    if config in STOCHASTIC:
        ref.sample = False
    ref({m: x[2:3] for m, x in feats.items()}, {m: k[2:3] for m, k in mask.items()}).sum().backward()
    for (name, p), q in zip(fusion.named_parameters(), ref.parameters()):
        if p.grad_sample is not None:
            expected = q.grad if q.grad is not None else torch.zeros_like(p)
            torch.testing.assert_close(p.grad_sample[2], expected, rtol=1e-4, atol=1e-5, msg=name)
    model._close()


def test_cross_attention_maps() -> None:
    fusion = build("cross_attention").eval()
    feats, mask = make_inputs(fusion)
    with pytest.raises(ValueError, match="record_attention"):
        fusion.cls_attention()
    fusion.record_attention()
    fusion(feats, mask)
    cls = fusion.cls_attention()  # (B, M)
    present = torch.stack([mask[m] for m in fusion.modalities], dim=1)
    assert cls.shape == (len(PATTERNS), 3)
    assert torch.all(cls[~present] == 0) and torch.all(cls[present] > 0)
    assert torch.all(cls.sum(1) < 1 + 1e-6)
    pair = fusion.modality_attention()  # (B, M, M)
    assert pair.shape == (len(PATTERNS), 3, 3)
    assert torch.all(pair[~present] == 0)
    assert torch.all(pair.transpose(1, 2)[~present] == 0)  # nobody attends to an absent modality


def test_gated_weights_renormalise_over_present() -> None:
    fusion = build("gated")
    feats, mask = make_inputs(fusion)
    fusion(feats, mask)
    gates = fusion.last_gates
    present = torch.stack([mask[m] for m in sorted(IN_DIMS)], dim=1)
    assert torch.all(gates[~present] == 0)
    torch.testing.assert_close(gates[:-1].sum(1), torch.ones(len(PATTERNS) - 1))


def test_late_mean_is_the_mean_of_present_decisions() -> None:
    fusion = build("late").eval()
    feats, mask = make_inputs(fusion)
    out = fusion(feats, mask)
    row = 1  # pattern (True, True, False): ecg and image
    expected = (fusion.heads["ecg"](feats["ecg"][row]) + fusion.heads["image"](feats["image"][row])) / 2
    torch.testing.assert_close(out[row], expected)


@pytest.mark.parametrize("config", ["concat", "cross_attention"])
def test_bad_inputs_raise_clear_errors(config: str) -> None:
    fusion = build(config)
    feats, mask = make_inputs(fusion)
    with pytest.raises(ValueError, match=r"unknown modalities \['wearable'\]"):
        fusion({**feats, "wearable": feats["ecg"]}, {**mask, "wearable": mask["ecg"]})
    with pytest.raises(ValueError, match=r"features\['ecg'\] must be"):
        fusion({**feats, "ecg": feats["ecg"][..., :-1]}, mask)
    with pytest.raises(ValueError, match=r"mask is missing for modalities \['image'\]"):
        fusion(feats, {k: v for k, v in mask.items() if k != "image"})
    with pytest.raises(ValueError, match=r"mask\['tabular'\] must be a bool"):
        fusion(feats, {**mask, "tabular": mask["tabular"].float()})
    with pytest.raises(ValueError, match="features is empty"):
        fusion({}, {})


def test_bad_construction_raises() -> None:
    with pytest.raises(KeyError, match="unknown fusion"):
        create_fusion("concatenate")
    with pytest.raises(ValueError, match="in_dims"):
        create_fusion("concat", in_dims={"ecg": 0})
    with pytest.raises(ValueError, match="combine"):
        create_fusion("late", combine="max")
    with pytest.raises(ValueError, match="gate"):
        create_fusion("gated", gate="relu")
