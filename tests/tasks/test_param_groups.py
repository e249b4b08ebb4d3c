"""``lr_scale`` in an encoder spec: its own optimizer parameter group at that multiple of the run's rate."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from nextgen_ml.models.builder import build_encoder, build_multimodal_net
from nextgen_ml.tasks.module import optimization


def test_encoder_lr_scale_becomes_its_own_parameter_group() -> None:
    net = build_multimodal_net({"tabular": {"name": "tabular_mlp", "lr_scale": 5},
                                "genomics": {"name": "genomics_prs_linear"}},
                               "concat", num_outputs=1, embed_dim=8,
                               modality_specs={"tabular": {"num_features": 3}, "genomics": {"n_variants": 4}})
    scaled = {id(p) for p in net.encoders["tabular"].parameters()}
    net.encoders["genomics"].requires_grad_(False)  # frozen parameters stay out of every group
    opt = optimization(net, partial(torch.optim.AdamW, lr=1e-3), None)
    base, fast = opt.param_groups
    assert base["lr"] == pytest.approx(1e-3) and fast["lr"] == pytest.approx(5e-3)
    assert {id(p) for p in fast["params"]} == scaled
    assert not scaled & {id(p) for p in base["params"]} and base["params"]  # the fusion and head, once
    assert not {id(p) for p in net.encoders["genomics"].parameters()} & {id(p) for g in opt.param_groups
                                                                         for p in g["params"]}
    sched = optimization(net, partial(torch.optim.AdamW, lr=1e-3),
                         partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=4))["lr_scheduler"]["scheduler"]
    assert sched.base_lrs == pytest.approx([1e-3, 5e-3])  # the scheduler anneals each group from its own rate
    plain = optimization(build_multimodal_net({"tabular": "tabular_mlp"}, "concat", 1, embed_dim=8,
                                              modality_specs={"tabular": {"num_features": 3}}),
                         partial(torch.optim.AdamW, lr=1e-3), None)
    assert len(plain.param_groups) == 1
    for bad in (0, -1.0, "fast", True, float("nan")):
        with pytest.raises(ValueError, match=r"encoders\['tabular'\]\.lr_scale"):
            build_encoder("tabular", {"name": "tabular_mlp", "lr_scale": bad}, 8, {"num_features": 3})
