"""Per-sample gradients of every encoder and fusion match a per-example loop; clipping bounds every record."""

from __future__ import annotations

import pytest
import torch
from opacus.grad_sample.utils import prepare_module
from torch import nn

from nextgen_ml.fusion import DP_REFUSED
from nextgen_ml.privacy.config import DPConfig
from nextgen_ml.privacy.engine import make_private_parts
from nextgen_ml.registry import create_encoder, create_fusion, list_fusions
from tests.encoders.inputs import DP_OPTIONS, encoder_names, make_input

HEAVY = {"image_densenet121", "image_timm_efficientnet_b0", "image_timm_resnet18", "image_resnet18"}
#: (encoder, mode): hooks for every encoder (heavy backbones in the slow suite), functorch (slow) for the light
#: ones — the heavy image backbones run the same conv/GroupNorm/Linear samplers already checked under hooks.
CASES = [pytest.param(n, "hooks", marks=pytest.mark.slow) if n in HEAVY else (n, "hooks") for n in encoder_names()]
CASES += [pytest.param(n, "functorch", marks=pytest.mark.slow) for n in encoder_names() if n not in HEAVY]
B = 3


class _Head(nn.Module):
    """encoder → linear head, so every record's loss is a scalar."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, nn.Linear(encoder.out_dim, 1)

    def forward(self, x):
        return self.head(self.encoder(x))[:, 0]


def _rows(x, i):
    return x[i:i + 1]


def _assert_matches_loop(model: nn.Module, run, mode: str, rows: int = B) -> None:
    """``run(model, sl)`` returns the (rows,) per-record losses of rows ``sl``; compare Opacus to a loop."""
    hooks = prepare_module(model, grad_sample_mode=mode, wrap_model=False, batch_first=True, loss_reduction="sum")
    run(model, slice(0, rows)).sum().backward()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    batched = {n: p.grad_sample.detach().clone() for n, p in named if p.grad_sample is not None}
    hooks.cleanup()
    assert batched, "no per-sample gradient was computed"
    for i in range(rows):
        model.zero_grad(set_to_none=True)
        run(model, slice(i, i + 1)).sum().backward()
        for n, p in named:
            ref = torch.zeros_like(p) if p.grad is None else p.grad
            got = batched.get(n, torch.zeros((rows, *p.shape), dtype=p.dtype))[i]
            scale = float(ref.abs().max()) + 1e-8  # relative to the tensor's largest entry
            where = f"{n} row {i}"
            torch.testing.assert_close(got / scale, ref / scale, rtol=0, atol=1e-6, msg=lambda m, w=where: f"{w}: {m}")


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_encoder_per_sample_gradients_match_a_per_example_loop(name: str, mode: str) -> None:
    torch.manual_seed(0)
    # float64: GroupNorm over near-constant groups makes float32 batched-vs-single sums differ by a few percent
    # as under DP: an encoder that would fit on patient data runs with its DP-compatible options
    model = _Head(create_encoder(name, embed_dim=8, **DP_OPTIONS.get(name, {}))).train().double()
    for m in model.modules():  # dropout would make the loop draw other masks than the batch
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    x = make_input(name, b=B)
    x = x.double() if torch.is_tensor(x) and x.is_floating_point() else x
    _assert_matches_loop(model, lambda mdl, sl: mdl(x[sl]), mode)


FUSION_DIMS = {"ecg": 8, "image": 6, "tabular": 5}


@pytest.mark.parametrize("mode", ["hooks", "functorch"])
@pytest.mark.parametrize("name", list_fusions())
def test_fusion_per_sample_gradients_match_a_per_example_loop(name: str, mode: str) -> None:
    if name in DP_REFUSED:
        pytest.skip(f"fusion {name!r} is refused under DP: {DP_REFUSED[name]}")
    torch.manual_seed(0)
    kwargs = {"num_heads": 2} if name in ("bottleneck", "cross_attention") else {}
    if name == "subspace":
        kwargs["sample"] = False  # a per-example loop cannot redraw the batch's latent noise
    fusion = create_fusion(name, in_dims=FUSION_DIMS, embed_dim=16, **kwargs)
    for m in fusion.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    model = nn.ModuleDict({"fusion": fusion, "head": nn.Linear(fusion.out_dim, 1)}).train().double()
    g = torch.Generator().manual_seed(1)
    rows = 4
    feats = {m: torch.randn((rows, 3, d) if fusion.uses_tokens else (rows, d), generator=g, dtype=torch.float64)
             for m, d in FUSION_DIMS.items()}
    mask = {"ecg": torch.tensor([True, True, False, True]), "image": torch.tensor([True, False, True, False]),
            "tabular": torch.tensor([False, True, True, True])}

    def run(mdl, sl):
        out = mdl["fusion"]({m: x[sl] for m, x in feats.items()}, {m: k[sl] for m, k in mask.items()})
        return mdl["head"](out)[:, 0]

    _assert_matches_loop(model, run, mode, rows=rows)


@pytest.mark.parametrize(("mode", "clipping"), [("hooks", "flat"), ("functorch", "flat"), ("ghost", "flat"),
                                                ("hooks", "per_layer")])
def test_clipping_bounds_every_per_sample_gradient(mode: str, clipping: str) -> None:
    """With σ = 0 and one record per step, the clipped sum Opacus builds is that record's clipped gradient."""
    from nextgen_ml.privacy.objective import DPObjective
    from nextgen_ml.tasks.tasks import RegressionTask

    torch.manual_seed(0)
    net = _Head(create_encoder("ecg_xresnet1d_small", in_channels=12, embed_dim=8)).train()
    c = 0.05  # far below the raw gradient norms, so clipping is active
    config = DPConfig(max_grad_norm=c, grad_sample_mode=mode, clipping=clipping)
    hooks, opt = make_private_parts(net, torch.optim.SGD(net.parameters(), lr=0.0), config, noise_multiplier=0.0,
                                    expected_batch_size=1.0)
    task = RegressionTask(target="y")
    objective = DPObjective(task, [p for p in net.parameters()], ghost=hooks if mode == "ghost" else None)
    x = torch.randn(3, 12, 500)
    y = torch.tensor([30.0, -20.0, 10.0])
    params = [p for p in net.parameters() if p.requires_grad]
    for i in range(3):
        if mode == "ghost":
            hooks.enable_hooks()
        opt.zero_grad()
        logits = net(x[i:i + 1])[:, None]
        objective(logits, {"y": y[i:i + 1]}).backward()
        opt.step()  # lr = 0: only clipping (and zero noise) happen
        grads = [p.grad for p in params]
        total = torch.sqrt(sum((g ** 2).sum() for g in grads))
        assert total <= c * (1 + 1e-4), f"record {i}: clipped norm {total} > {c}"
        assert total >= c * 0.99, f"record {i}: clipping should be active (norm {total})"
        if clipping == "per_layer":
            per = c / len(params) ** 0.5
            assert all(g.norm() <= per * (1 + 1e-4) for g in grads)
    hooks.cleanup()
