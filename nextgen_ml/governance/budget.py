"""Per-identity privacy budget of a discovery site: ε spent and fresh answers given, persisted atomically.

Every fresh answer costs its ε (pure ε-DP composes additively), charged to the *authenticated* identity. The
ledger (``<store>/_governance/budget.json``) is rewritten as a whole under a lock file, via a temporary file
and ``os.replace``, so a crash leaves the old or the new ledger, never a torn one, and budgets survive a
restart of the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nextgen_ml.governance.files import atomic_write_json, locked, read_json
from nextgen_ml.governance.keys import check_identity
from nextgen_ml.governance.policy import GOVERNANCE_DIR, SitePolicy

BUDGET_FILE = "budget.json"
_EPS_SLACK = 1e-9  # float tolerance when comparing sums of ε


class QueryBudgetExceeded(PermissionError):
    """An identity (or the whole site) has spent the ε or the number of answers the site policy allows."""


class PrivacyBudget:
    """ε and answers spent per identity at one site, against the site's :class:`SitePolicy`.

    Args:
        path: the ledger file (created on first charge).
        policy: the steward's policy (budget sizes).
    """

    def __init__(self, path: str | os.PathLike, policy: SitePolicy) -> None:
        self.path, self.policy = Path(path), policy

    @classmethod
    def for_store(cls, store_path: str | os.PathLike, policy: SitePolicy) -> PrivacyBudget:
        """``<store>/_governance/budget.json``."""
        return cls(Path(store_path) / GOVERNANCE_DIR / BUDGET_FILE, policy)

    def _state(self) -> dict[str, Any]:
        return read_json(self.path, {"identities": {}, "site_epsilon_spent": 0.0})

    def spent(self, identity: str) -> dict[str, float]:
        """``{"epsilon": ε spent, "queries": fresh answers}`` of ``identity``."""
        return dict(self._state()["identities"].get(identity, {"epsilon": 0.0, "queries": 0}))

    def remaining(self, identity: str) -> float:
        """ε ``identity`` may still spend."""
        return max(0.0, self.policy.epsilon_budget - self.spent(identity)["epsilon"])

    def charge(self, identity: str, epsilon: float) -> float:
        """Spend ``epsilon`` of ``identity``'s budget; returns the ε left.

        Raises:
            QueryBudgetExceeded: the identity's ε or answers, or the site's ε, would be exceeded (nothing spent).
        """
        check_identity(identity)
        with locked(self.path):
            state = self._state()
            mine = state["identities"].setdefault(identity, {"epsilon": 0.0, "queries": 0})
            if mine["epsilon"] + epsilon > self.policy.epsilon_budget + _EPS_SLACK:
                raise QueryBudgetExceeded(
                    f"identity {identity!r} has spent {mine['epsilon']:g} of its ε budget "
                    f"{self.policy.epsilon_budget:g} at this site; a fresh answer costs {epsilon:g}"
                )
            if mine["queries"] >= self.policy.max_queries:
                raise QueryBudgetExceeded(
                    f"identity {identity!r} has used all {self.policy.max_queries} answers allowed at this site"
                )
            cap = self.policy.site_epsilon_budget
            if cap is not None and state["site_epsilon_spent"] + epsilon > cap + _EPS_SLACK:
                raise QueryBudgetExceeded(f"this site has spent its total ε budget {cap:g}; ask the data steward")
            mine["epsilon"] += epsilon
            mine["queries"] += 1
            state["site_epsilon_spent"] += epsilon
            atomic_write_json(self.path, state)
        return self.policy.epsilon_budget - mine["epsilon"]
