"""1D convolutional backbones for ECG: xresnet1d and InceptionTime, DP-safe by construction.

Both use GroupNorm (no batch statistics), non-inplace activations and out-of-place residual adds, so Opacus
can hook every layer. Both map ``(B, L, T) -> (B, C, T')`` and work for any lead count ``L`` and length ``T``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.layers.norm import group_count


def conv_norm_act(c_in: int, c_out: int, kernel: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    """``Conv1d → GroupNorm → ReLU`` (no ReLU if ``act`` is False). Shapes: ``(B, c_in, T) -> (B, c_out, T/stride)``."""
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.GroupNorm(group_count(c_out), c_out),
    ]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class XResBlock1d(nn.Module):
    """xresnet residual block (basic: two convs; bottleneck: 1x1 → k → 1x1 with ``expansion``).

    The shortcut follows xresnet ("ResNet-D"): average-pool for the stride, then a 1x1 conv if widths differ.

    Args:
        c_in: input channels.
        width: inner width; output channels are ``width * expansion``.
        stride: temporal stride (1 or 2).
        kernel: kernel size of the inner conv(s).
        expansion: 1 for a basic block, 4 for a bottleneck block.

    Shapes: ``(B, c_in, T) -> (B, width * expansion, ceil(T / stride))``.
    """

    def __init__(self, c_in: int, width: int, stride: int = 1, kernel: int = 5, expansion: int = 1) -> None:
        super().__init__()
        c_out = width * expansion
        if expansion == 1:
            self.convs = nn.Sequential(
                conv_norm_act(c_in, width, kernel, stride), conv_norm_act(width, c_out, kernel, act=False)
            )
        else:
            self.convs = nn.Sequential(
                conv_norm_act(c_in, width, 1),
                conv_norm_act(width, width, kernel, stride),
                conv_norm_act(width, c_out, 1, act=False),
            )
        pool: nn.Module = nn.AvgPool1d(stride, ceil_mode=True) if stride > 1 else nn.Identity()
        proj: nn.Module = conv_norm_act(c_in, c_out, 1, act=False) if c_in != c_out else nn.Identity()
        self.shortcut = nn.Sequential(pool, proj)
        self.act = nn.ReLU()
        self.out_channels = c_out

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convs(x) + self.shortcut(x))


class XResNet1d(nn.Module):
    """xresnet1d: a 3-conv stem, max-pool, then stages of :class:`XResBlock1d`.

    Args:
        in_channels: leads ``L``.
        layers: blocks per stage.
        widths: inner width per stage (first stage stride 1, later stages stride 2).
        stem_widths: widths of the three stem convs (the first has stride 2).
        kernel: kernel size of the block convs.
        expansion: 1 = basic blocks, 4 = bottleneck blocks.

    Shapes: ``(B, L, T) -> (B, widths[-1] * expansion, ~T / 2**(1 + len(layers)))``; ``stages`` and
    ``stage_channels`` name each stage's output feature map (FiLM conditioning hooks them).
    """

    def __init__(
        self,
        in_channels: int = 12,
        layers: Sequence[int] = (1, 1, 1, 1),
        widths: Sequence[int] = (32, 64, 128, 128),
        stem_widths: Sequence[int] = (32, 32, 64),
        kernel: int = 5,
        expansion: int = 1,
    ) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"layers ({len(layers)}) and widths ({len(widths)}) must have the same length")
        s0, s1, s2 = stem_widths
        self.stem = nn.Sequential(
            conv_norm_act(in_channels, s0, kernel, stride=2),
            conv_norm_act(s0, s1, kernel),
            conv_norm_act(s1, s2, kernel),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        ends: list[int] = []
        channels: list[int] = []
        c = s2
        for i, (n, w) in enumerate(zip(layers, widths)):
            for j in range(n):
                block = XResBlock1d(c, w, stride=2 if (i > 0 and j == 0) else 1, kernel=kernel, expansion=expansion)
                blocks.append(block)
                c = block.out_channels
            if n:
                ends.append(len(blocks) - 1)
                channels.append(c)
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = c
        #: channels ``C_s`` of each stage's output feature map
        self.stage_channels: tuple[int, ...] = tuple(channels)
        self._stage_ends = tuple(ends)

    @property
    def stages(self) -> tuple[nn.Module, ...]:
        """The last block of each stage: its output is the stage's feature map ``(B, stage_channels[s], T_s)``
        (hook point for conditioning inside the encoder; ``blocks`` keeps its flat layout, so state dicts are
        unchanged)."""
        return tuple(self.blocks[i] for i in self._stage_ends)

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x))


class InceptionModule1d(nn.Module):
    """InceptionTime module: 1x1 bottleneck, parallel convs of several kernel sizes and a max-pool branch.

    Args:
        c_in: input channels.
        n_filters: filters per branch; output channels are ``n_filters * (len(kernels) + 1)``.
        kernels: kernel sizes of the parallel convs (odd sizes keep the length).
        bottleneck: width of the 1x1 bottleneck (skipped when ``c_in == 1``).

    Shapes: ``(B, c_in, T) -> (B, n_filters * (len(kernels) + 1), T)``.
    """

    def __init__(self, c_in: int, n_filters: int = 16, kernels: Sequence[int] = (39, 19, 9), bottleneck: int = 16):
        super().__init__()
        use_bottleneck = c_in > 1
        c_b = bottleneck if use_bottleneck else c_in
        self.bottleneck = nn.Conv1d(c_in, c_b, 1, bias=False) if use_bottleneck else nn.Identity()
        self.convs = nn.ModuleList(nn.Conv1d(c_b, n_filters, k, padding=k // 2, bias=False) for k in kernels)
        self.pool_branch = nn.Sequential(
            nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, n_filters, 1, bias=False)
        )
        self.out_channels = n_filters * (len(kernels) + 1)
        self.norm = nn.GroupNorm(group_count(self.out_channels), self.out_channels)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        b = self.bottleneck(x)
        out = torch.cat([conv(b) for conv in self.convs] + [self.pool_branch(x)], dim=1)  # (B, C_out, T)
        return self.act(self.norm(out))


class InceptionTime1d(nn.Module):
    """InceptionTime: ``depth`` inception modules with a residual shortcut around every ``residual_every``.

    Args:
        in_channels: leads ``L``.
        depth: number of inception modules.
        n_filters: filters per branch.
        kernels: kernel sizes of the parallel convs.
        residual_every: modules per residual group (3 in the paper).

    Shapes: ``(B, L, T) -> (B, n_filters * (len(kernels) + 1), T)``.
    """

    def __init__(
        self,
        in_channels: int = 12,
        depth: int = 6,
        n_filters: int = 16,
        kernels: Sequence[int] = (39, 19, 9),
        residual_every: int = 3,
    ) -> None:
        super().__init__()
        if depth % residual_every:
            raise ValueError(f"depth ({depth}) must be a multiple of residual_every ({residual_every})")
        groups, shortcuts = [], []
        c = in_channels
        for _ in range(depth // residual_every):
            c_group_in, modules = c, []
            for _ in range(residual_every):
                module = InceptionModule1d(c, n_filters, kernels, bottleneck=n_filters)
                modules.append(module)
                c = module.out_channels
            groups.append(nn.Sequential(*modules))
            shortcuts.append(conv_norm_act(c_group_in, c, 1, act=False))
        self.groups, self.shortcuts = nn.ModuleList(groups), nn.ModuleList(shortcuts)
        self.act = nn.ReLU()
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        for group, shortcut in zip(self.groups, self.shortcuts):
            x = self.act(group(x) + shortcut(x))
        return x
