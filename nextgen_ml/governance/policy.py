"""The data steward's site policy for discovery: the protection is the site's decision, never the querier's.

The policy lives with the store, in ``<store>/_governance/policy.yaml``, written and owned by the steward;
nothing a querier sends (CLI flag, HTTP field) can change it. Without a file, :data:`DEFAULT_POLICY` applies.

```yaml
epsilon_per_query: 0.5     # ε of the discrete Laplace noise added to each released count (sensitivity 1)
epsilon_budget: 5.0        # total ε each authenticated identity may spend at this site
site_epsilon_budget: null  # optional cap over all identities together (bounds collusion, at the cost of DoS)
max_queries: 100           # fresh (non-cached) answers per identity
k: 5                       # noisy counts below k are released as "below k" (post-processing)
round_to: 1                # noisy counts are rounded to this unit (post-processing)
age_bin_years: 10          # age filters are widened to whole bins of this width
granularities: [boolean, count]
```
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

#: Where a store keeps its governance state (policy, keys, budget ledger, releases, audit log).
GOVERNANCE_DIR = "_governance"
POLICY_FILE = "policy.yaml"


@dataclass(frozen=True)
class SitePolicy:
    """What a site releases and how much each identity may learn.

    Args:
        epsilon_per_query: ε spent by one fresh answer (discrete Laplace noise of scale 1/ε on a count).
        epsilon_budget: ε each authenticated identity may spend in total at this site.
        site_epsilon_budget: optional total ε over all identities (None: no site-wide cap).
        max_queries: fresh answers each identity may get.
        k: noisy counts below ``k`` are released as suppressed (``exists: false``, no count).
        round_to: released noisy counts are rounded to a multiple of this.
        age_bin_years: age ranges are widened to whole bins of this many years (0 disables coarsening).
        granularities: granularities the site answers (``"boolean"``, ``"count"``).
    """

    epsilon_per_query: float = 0.5
    epsilon_budget: float = 5.0
    site_epsilon_budget: float | None = None
    max_queries: int = 100
    k: int = 5
    round_to: int = 1
    age_bin_years: float = 10.0
    granularities: tuple[str, ...] = ("boolean", "count")

    def __post_init__(self) -> None:
        object.__setattr__(self, "granularities", tuple(self.granularities))
        for name in ("epsilon_per_query", "epsilon_budget"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"policy {name} must be a finite number > 0, got {value!r}")
        if self.site_epsilon_budget is not None and not self.site_epsilon_budget > 0:
            raise ValueError(f"policy site_epsilon_budget must be > 0 or null, got {self.site_epsilon_budget!r}")
        if self.epsilon_per_query > self.epsilon_budget:
            raise ValueError("policy epsilon_per_query exceeds epsilon_budget: no query could ever be answered")
        for name in ("max_queries", "k", "round_to"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"policy {name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not self.age_bin_years >= 0:
            raise ValueError(f"policy age_bin_years must be >= 0, got {self.age_bin_years!r}")
        bad = set(self.granularities) - {"boolean", "count"}
        if bad or not self.granularities:
            raise ValueError(f"policy granularities must be a non-empty subset of [boolean, count], got {bad or '[]'}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["granularities"] = list(self.granularities)
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any], where: str = "policy") -> SitePolicy:
        """Build from a mapping; unknown keys are refused (a typo must not silently weaken the policy)."""
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(obj).__name__}")
        unknown = set(obj) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {[f.name for f in fields(cls)]}")
        return cls(**obj)


DEFAULT_POLICY = SitePolicy()


def policy_path(store_path: str | os.PathLike) -> Path:
    """``<store>/_governance/policy.yaml``."""
    return Path(store_path) / GOVERNANCE_DIR / POLICY_FILE


def load_policy(store_path: str | os.PathLike) -> SitePolicy:
    """The steward's policy for a store, or :data:`DEFAULT_POLICY` when the store has none."""
    path = policy_path(store_path)
    if not path.exists():
        return DEFAULT_POLICY
    return SitePolicy.from_dict(yaml.safe_load(path.read_text()) or {}, where=str(path))


def write_policy(store_path: str | os.PathLike, policy: SitePolicy) -> Path:
    """Write ``policy`` as the store's policy file (the steward's action)."""
    path = policy_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(policy.to_dict(), sort_keys=False))
    return path
