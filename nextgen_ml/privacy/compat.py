"""Make third-party backbones safe for Opacus per-sample gradients.

Opacus hooks every trainable layer: it stores the layer's input and receives the gradient of its output. Three
things in common backbones break that contract, and :func:`make_dp_compatible` removes all three:

* **BatchNorm** mixes samples of a batch → replaced by ``GroupNorm`` (affine weights copied). timm's
  ``BatchNormAct2d`` (norm + activation in one module) becomes ``GroupNormAct`` with the same activation.
* **In-place activations/dropout** (``nn.ReLU(inplace=True)``) overwrite a hooked output → ``inplace=False``.
* **In-place residual adds** (``out += residual`` in MONAI ``ResNetBlock``/``ResNetBottleneck`` and timm
  ``BasicBlock``/``Bottleneck``) → the block's class is swapped for a subclass whose ``forward`` adds
  out-of-place (parameters, buffers and state-dict keys are unchanged).
"""

from __future__ import annotations

import torch
from monai.networks.nets import resnet as monai_resnet
from opacus.validators import ModuleValidator
from timm.layers import BatchNormAct2d, GroupNormAct
from timm.models import resnet as timm_resnet
from torch import Tensor, nn

from nextgen_ml.layers.norm import group_count


class _MonaiResNetBlockOutOfPlace(monai_resnet.ResNetBlock):
    """MONAI ``ResNetBlock`` with ``out = out + residual`` instead of ``out += residual``."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.act(out + residual)


class _MonaiResNetBottleneckOutOfPlace(monai_resnet.ResNetBottleneck):
    """MONAI ``ResNetBottleneck`` with an out-of-place residual add."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.act(out + residual)


class _TimmBasicBlockOutOfPlace(timm_resnet.BasicBlock):
    """timm ``BasicBlock`` with an out-of-place residual add."""

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x)))))
        x = self.bn2(self.conv2(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        return self.act2(x + shortcut)


class _TimmBottleneckOutOfPlace(timm_resnet.Bottleneck):
    """timm ``Bottleneck`` with an out-of-place residual add."""

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.aa(self.act2(self.drop_block(self.bn2(self.conv2(x)))))
        x = self.bn3(self.conv3(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        if self.downsample is not None:
            shortcut = self.downsample(shortcut)
        return self.act3(x + shortcut)


#: Block class with an in-place residual add → drop-in subclass that adds out-of-place.
OUT_OF_PLACE_BLOCKS: dict[type[nn.Module], type[nn.Module]] = {
    monai_resnet.ResNetBlock: _MonaiResNetBlockOutOfPlace,
    monai_resnet.ResNetBottleneck: _MonaiResNetBottleneckOutOfPlace,
    timm_resnet.BasicBlock: _TimmBasicBlockOutOfPlace,
    timm_resnet.Bottleneck: _TimmBottleneckOutOfPlace,
}


def _group_norm_like(bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    channels = bn.num_features
    if isinstance(bn, BatchNormAct2d):
        gn: nn.GroupNorm = GroupNormAct(channels, group_count(channels), eps=bn.eps, affine=bn.affine, apply_act=False)
        gn.act, gn.drop = bn.act, bn.drop
    else:
        gn = nn.GroupNorm(group_count(channels), channels, eps=bn.eps, affine=bn.affine)
    if bn.affine:
        with torch.no_grad():
            gn.weight.copy_(bn.weight)
            gn.bias.copy_(bn.bias)
    return gn


def _convert(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module = _group_norm_like(module)
    swap = OUT_OF_PLACE_BLOCKS.get(type(module))
    if swap is not None:
        module.__class__ = swap
    if getattr(module, "inplace", False) is True:
        module.inplace = False
    for name, child in module.named_children():
        new = _convert(child)
        if new is not child:
            setattr(module, name, new)
    return module


def make_dp_compatible(module: nn.Module) -> nn.Module:
    """Convert ``module`` (in place where possible) so Opacus can compute per-sample gradients.

    Args:
        module: any network, e.g. a MONAI or timm backbone.

    Returns:
        The converted module (a new object only when ``module`` itself is a BatchNorm layer).
    """
    return _convert(module)


def dp_problems(module: nn.Module) -> list[str]:
    """Everything that stops ``module`` from training under Opacus, as readable strings (empty when fine)."""
    problems = [str(err) for err in ModuleValidator.validate(module, strict=False)]
    for name, sub in module.named_modules():
        where = name or type(module).__name__
        if type(sub) in OUT_OF_PLACE_BLOCKS:
            problems.append(f"{where}: {type(sub).__name__} adds its residual in place (use make_dp_compatible)")
        if getattr(sub, "inplace", False) is True:
            problems.append(f"{where}: {type(sub).__name__} runs in place (inplace=True)")
    return problems + data_fitted_layers(module)


def data_fitted_layers(module: nn.Module) -> list[str]:
    """Layers of ``module`` that fit un-noised statistics of patient data while training (their ``dp_refusal``),
    as ``"<where>: <Type> <reason>"`` strings; such layers are refused under DP and at federated sites.

    Opacus validates only modules with parameters, so a parameter-free layer declares itself with a ``dp_refusal``
    attribute instead (e.g. :class:`~nextgen_ml.layers.standardise.FirstRowsStandardiser`).
    """
    return [f"{name or type(module).__name__}: {type(sub).__name__} {sub.dp_refusal}"
            for name, sub in module.named_modules() if getattr(sub, "dp_refusal", None)]


def refuse_data_fitted_layers(module: nn.Module, context: str) -> None:
    """Raise ``ValueError`` naming every layer of ``module`` that fits on patient data (``context``: who refuses)."""
    layers = data_fitted_layers(module)
    if layers:
        listing = "\n  - ".join(layers)
        raise ValueError(f"{context}: the model has layers that fit on patient data:\n  - {listing}")


def assert_dp_compatible(module: nn.Module) -> None:
    """Raise ``ValueError`` listing every DP problem of ``module`` (see :func:`dp_problems`)."""
    problems = dp_problems(module)
    if problems:
        listing = "\n  - ".join(problems)
        raise ValueError(f"module {type(module).__name__} is not DP-compatible:\n  - {listing}")
