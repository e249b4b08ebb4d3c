"""Options of the image and genomics encoders that the configs turn on (small-image stem, genomics linear path), the
image encoder's stage hook point, and that the function defaults still build what saved bundles hold."""

from __future__ import annotations

import pytest
import torch
from opacus import GradSampleModule
from torch import nn

from nextgen_ml.privacy import dp_problems
from nextgen_ml.registry import create_encoder

B = 3
SMALL_STEM = {"widths": [16, 32, 64, 128], "stem_kernel": 3, "stem_stride": 1, "max_pool": True}


def _check_dp_and_per_sample_grads(enc: nn.Module, x: torch.Tensor) -> None:
    assert dp_problems(enc) == []
    gsm = GradSampleModule(enc, loss_reduction="sum")
    gsm(x).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad_sample is not None and p.grad_sample.shape == (B, *p.shape), name
        assert torch.isfinite(p.grad_sample).all(), name
    gsm._close()


def test_image_stages_are_the_hook_point() -> None:
    torch.manual_seed(0)
    enc = create_encoder("image_resnet18", embed_dim=16, in_channels=2, **SMALL_STEM)
    assert isinstance(enc.stages, nn.Sequential) and len(enc.stages) == 4
    assert enc.stage_channels == (16, 32, 64, 128)
    x = torch.randn(B, 2, 32, 32)
    seen = []
    hooks = [s.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape))) for s in enc.stages]
    enc(x)
    for h in hooks:
        h.remove()
    assert [s[1] for s in seen] == list(enc.stage_channels)
    assert [s[2] for s in seen] == [16, 8, 4, 2]  # a 3x3 stride-1 stem and the max-pool halve 32 once
    assert not any(k.startswith("stages.") for k in enc.state_dict())  # no duplicate state-dict keys
    time_enc = create_encoder("image_resnet18", embed_dim=16, in_channels=2, frames_as="time", widths=[8, 8, 8, 8])
    assert time_enc.stage_channels == (8, 8, 8, 8) and len(time_enc.stages) == 4
    assert not hasattr(create_encoder("image_vit_small", embed_dim=16), "stages")


def test_image_small_stem_is_dp_compatible() -> None:
    torch.manual_seed(0)
    enc = create_encoder("image_resnet18", embed_dim=16, in_channels=2, **SMALL_STEM)
    _check_dp_and_per_sample_grads(enc, torch.randn(B, 2, 32, 32))


def test_image_resnet_widths_are_checked() -> None:
    with pytest.raises(ValueError, match="widths"):
        create_encoder("image_resnet18", widths=[16, 32, 64])


def test_genomics_linear_path_learns_an_additive_score_and_is_dp_compatible() -> None:
    torch.manual_seed(0)
    enc = create_encoder("genomics_variant_embed", embed_dim=16, n_variants=12, gene_index=[0, 0, 1, 1, 2, 2] * 2,
                         num_heads=2, linear=True)
    x = torch.randint(0, 3, (B, 12)).float()
    x[0, 3] = float("nan")
    assert enc.forward_tokens(x).shape == (B, 1 + 3, 16) and enc(x).shape == (B, 16)
    assert torch.isfinite(enc(x)).all()
    # the linear token is linear in the dosages (no call = 0)
    lin = enc.forward_tokens(x)[:, 0]
    doubled = enc.forward_tokens(torch.nan_to_num(x, nan=0.0) * 2)[:, 0]
    torch.testing.assert_close(doubled - enc.linear.bias, 2 * (lin - enc.linear.bias))
    _check_dp_and_per_sample_grads(enc, x)


def test_function_defaults_build_what_saved_bundles_hold() -> None:
    """Bundles store encoder kwargs as configured; the function defaults must keep their parameter names."""
    genomics = create_encoder("genomics_variant_embed", embed_dim=16)
    assert genomics.linear is None and not any(k.startswith("linear") for k in genomics.state_dict())
    image = create_encoder("image_resnet18", embed_dim=16, widths=[8, 16, 32, 64])
    assert tuple(image.backbone.stem[0].kernel_size) == (7, 7) and not isinstance(image.backbone.stem[3], nn.Identity)


def test_image_stage_pool_adds_one_token_per_stage_and_is_dp_compatible() -> None:
    torch.manual_seed(0)
    enc = create_encoder("image_resnet18", embed_dim=16, in_channels=2, widths=[8, 8, 16, 16], stage_pool=True)
    x = torch.randn(B, 2, 32, 32)
    assert enc.forward_tokens(x).shape == (B, 1 + 4, 16) and enc(x).shape == (B, 16)
    _check_dp_and_per_sample_grads(enc, x)
    with pytest.raises(ValueError, match="stage_pool"):
        _image_stage_pool_on_vit()


def _image_stage_pool_on_vit() -> None:
    from nextgen_ml.encoders import image_backbones as bb
    from nextgen_ml.encoders.image import _image_encoder

    _image_encoder("image_vit_small", lambda c: bb.monai_vit(2, c, (64, 64), 8, 32, 1, 2), embed_dim=16,
                   in_channels=2, spatial_dims=2, frames_as="channels", patch_tokens=True, stage_pool=True)
