"""DP-compatibility conversion of third-party backbones and one real DP-SGD step."""

from __future__ import annotations

import pytest
import timm
import torch
from monai.networks.nets.resnet import ResNetBlock, ResNetBottleneck
from opacus import PrivacyEngine
from torch.utils.data import DataLoader, TensorDataset

from nextgen_ml.privacy import assert_dp_compatible, dp_problems, make_dp_compatible
from nextgen_ml.registry import create_encoder


def test_raw_timm_resnet_is_reported_then_fixed() -> None:
    model = timm.create_model("resnet18", pretrained=False, num_classes=0)
    with pytest.raises(ValueError, match="BatchNorm") as info:
        assert_dp_compatible(model)
    assert "adds its residual in place" in str(info.value) and "inplace=True" in str(info.value)
    fixed = make_dp_compatible(model)
    assert dp_problems(fixed) == []
    assert fixed(torch.randn(2, 3, 32, 32)).shape == (2, 512)


@pytest.mark.parametrize("block_cls", [ResNetBlock, ResNetBottleneck])
def test_residual_swap_keeps_outputs_and_state_dict(block_cls: type[torch.nn.Module]) -> None:
    torch.manual_seed(0)
    planes = 8 if block_cls is ResNetBlock else 2  # bottleneck expands 4x back to 8 channels
    block = block_cls(8, planes, spatial_dims=2, norm=("group", {"num_groups": 2})).eval()
    x = torch.randn(2, 8, 16, 16)
    before, keys = block(x), list(block.state_dict())
    assert dp_problems(block)  # in-place residual and ReLU are reported
    fixed = make_dp_compatible(block)
    torch.testing.assert_close(fixed(x), before)
    assert list(fixed.state_dict()) == keys
    assert dp_problems(fixed.train()) == []  # Opacus also wants training mode


def test_batchnorm_act_keeps_its_activation() -> None:
    model = make_dp_compatible(timm.create_model("efficientnet_b0", pretrained=False, num_classes=0))
    norm = model.bn1
    assert isinstance(norm, torch.nn.GroupNorm) and not isinstance(norm.act, torch.nn.Identity)
    assert norm.act.inplace is False


def test_one_dp_sgd_step_with_privacy_engine() -> None:
    torch.manual_seed(0)
    enc = create_encoder("ecg_xresnet1d_small", in_channels=2, embed_dim=8)
    model = torch.nn.Sequential(enc, torch.nn.Linear(8, 1))
    data = DataLoader(TensorDataset(torch.randn(8, 2, 200), torch.randn(8, 1)), batch_size=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt, data = PrivacyEngine().make_private(
        module=model, optimizer=opt, data_loader=data, noise_multiplier=1.0, max_grad_norm=1.0
    )
    before = [p.detach().clone() for p in model.parameters()]
    x, y = next(iter(data))
    torch.nn.functional.mse_loss(model(x), y).backward()
    opt.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
