"""Per-requester query budget of a discovery catalog, persisted in a JSON file.

Small-cell suppression alone does not stop a *differencing attack* (ask for cohort A, then for A minus one
trait, subtract). Bounding how many questions each requester may ask a site limits how many such
differences can be taken. The file maps requester → queries used and is updated under an ``fcntl`` lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class QueryBudgetExceeded(PermissionError):
    """A requester has used up the queries allowed at a catalog."""


class QueryBudget:
    """Count queries per requester against a limit.

    Args:
        path: JSON file holding ``{"max_queries": int, "used": {requester: int}}`` (created).
        max_queries: queries each requester may ask.
    """

    def __init__(self, path: str | os.PathLike, max_queries: int = 100) -> None:
        if max_queries < 1:
            raise ValueError(f"max_queries must be >= 1, got {max_queries}")
        self.path, self.max_queries = Path(path), int(max_queries)

    def used(self, requester: str) -> int:
        """Queries ``requester`` has asked so far."""
        if not self.path.exists():
            return 0
        return int(json.loads(self.path.read_text() or "{}").get("used", {}).get(requester, 0))

    def remaining(self, requester: str) -> int:
        return max(0, self.max_queries - self.used(requester))

    def charge(self, requester: str) -> int:
        """Spend one query of ``requester``; returns the queries left.

        Raises:
            QueryBudgetExceeded: the requester has no query left (nothing is spent).
        """
        if not requester:
            raise ValueError("requester must be a non-empty id")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                state = json.loads(handle.read() or "{}")
                used = state.setdefault("used", {})
                spent = int(used.get(requester, 0))
                if spent >= self.max_queries:
                    raise QueryBudgetExceeded(
                        f"requester {requester!r} has used all {self.max_queries} queries allowed at this catalog "
                        f"({self.path}); ask the data steward for a new budget"
                    )
                used[requester] = spent + 1
                state["max_queries"] = self.max_queries
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state, indent=2, sort_keys=True))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return self.max_queries - spent - 1
