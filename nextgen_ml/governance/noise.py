"""Differentially private counts with OpenDP's discrete Laplace (geometric) mechanism.

A count changes by at most 1 when one patient is added or removed (sensitivity 1 under add/remove
neighbouring), so integer noise of scale ``1/ε`` gives ε-DP. OpenDP samples from a cryptographically secure
generator, so the noise cannot be replayed from a seed. The measurement's own privacy map is checked against
the ε charged, so a change of scale can never release more than the budget covers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=32)
def count_measurement(epsilon: float) -> Any:
    """The OpenDP measurement releasing one integer count with ε-DP (sensitivity 1)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    measurement = dp.m.make_laplace(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=1.0 / epsilon)
    spent = measurement.map(d_in=1)
    if spent > epsilon * (1 + 1e-9):
        raise RuntimeError(f"OpenDP reports ε = {spent} for a count, more than the {epsilon} charged")
    return measurement


def noisy_count(n: int, epsilon: float) -> int:
    """``n`` plus discrete Laplace noise of scale ``1/epsilon`` (ε-DP for a count)."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    return int(count_measurement(float(epsilon))(int(n)))
