"""Normalisation helpers for DP-safe networks (GroupNorm instead of BatchNorm)."""

from __future__ import annotations

import math

#: Largest GroupNorm group count used by default.
MAX_GROUPS = 32


def group_count(channels: int, max_groups: int = MAX_GROUPS) -> int:
    """Largest divisor of ``channels`` that divides ``max_groups`` (GroupNorm needs an exact divisor)."""
    return math.gcd(channels, max_groups)
