"""A modality defined outside the package, in this one file: overnight pulse oximetry (SpO2 %, 1 Hz).

Record column ``pulse_ox``: ``{values: list<float32> SpO2 %, fs_hz: float32}``. Model input ``(T,)`` float32: the
trace resampled to ``length`` points and standardised around 95 %. Encoder ``pulse_oximetry_mlp``.
Load it with ``python train.py plugins=[tests/plugins/pulse_oximetry.py] data.modalities=[tabular,pulse_oximetry]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from nextgen_ml.data.transforms import ModalityTransform
from nextgen_ml.data.validate import RecordValidationError
from nextgen_ml.modalities import ModalitySpec, register_modality
from nextgen_ml.registry import register_encoder


class PulseOxTransform(ModalityTransform):
    """SpO2 trace → ``(length,)``: linear resampling, ``(x - 95) / 3``."""

    modality, column = "pulse_oximetry", "pulse_ox"

    def __init__(self, length: int = 64) -> None:
        self.length = length

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        x = np.asarray(value["values"], dtype=np.float64)
        grid = np.linspace(0, len(x) - 1, self.length)
        return ((np.interp(grid, np.arange(len(x)), x) - 95.0) / 3.0).astype(np.float32)

    def spec(self) -> dict[str, Any]:
        return {"length": self.length}

    def state_dict(self) -> dict[str, Any]:
        return {"length": self.length}


def check(record_id: str, value: dict[str, Any], **_: Any) -> None:
    x = np.asarray(value["values"], dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all() or x.min() < 50 or x.max() > 100:
        raise RecordValidationError(record_id, "pulse_ox.values", "SpO2 must be finite values in [50, 100] %")


def example(rng: np.random.Generator, desaturating: bool = False) -> dict[str, Any]:
    base = 96.0 - (4.0 if desaturating else 0.0)
    dips = -6.0 * (rng.random(600) < (0.08 if desaturating else 0.01))
    return {"values": np.clip(base + rng.normal(0, 0.8, 600) + dips, 50, 100).tolist(), "fs_hz": 1.0}


class PulseOxMLP(nn.Module):
    """``(B, T)`` → ``(B, D)``; tokens: ``(B, 4, D)`` from four quarters of the night."""

    def __init__(self, length: int = 64, embed_dim: int = 32) -> None:
        super().__init__()
        self.out_dim = embed_dim
        self.net = nn.Sequential(nn.Linear(length, 2 * embed_dim), nn.GELU(), nn.Linear(2 * embed_dim, embed_dim))
        self.quarter = nn.Linear(length // 4, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, D)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape
        return self.quarter(x.reshape(b, 4, t // 4))  # (B, 4, D)


SPEC = register_modality(ModalitySpec(
    name="pulse_oximetry", column="pulse_ox",
    arrow_type=pa.struct([pa.field("values", pa.list_(pa.float32()), nullable=False),
                          pa.field("fs_hz", pa.float32(), nullable=False)]),
    transform=PulseOxTransform, default_encoder="pulse_oximetry_mlp", validate=check, example=example,
    description="overnight pulse oximetry (SpO2 %)", input_shape="(T,) float32", module=__name__,
))  # fmt: skip


@register_encoder
def pulse_oximetry_mlp(length: int = 64, embed_dim: int = 32) -> nn.Module:
    return PulseOxMLP(length, embed_dim)
