"""Released noisy counts of a discovery site, remembered so that asking again reveals nothing new.

Asking the same (coarsened) question twice returns the *same* noisy count at no ε cost, whoever asks: a past
release is public to the site's queriers anyway (post-processing), and averaging repeated answers, alone or
with colluding identities, gains nothing. The file (``<store>/_governance/releases.json``) maps the canonical
JSON of a coarsened query to its noisy count and is rewritten atomically.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from nextgen_ml.governance.files import atomic_write_json, read_json
from nextgen_ml.governance.policy import GOVERNANCE_DIR

RELEASES_FILE = "releases.json"


class ReleaseCache:
    """Noisy counts already released, by canonical query.

    Args:
        path: the JSON file (created on first release).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def for_store(cls, store_path: str | os.PathLike) -> ReleaseCache:
        """``<store>/_governance/releases.json``."""
        return cls(Path(store_path) / GOVERNANCE_DIR / RELEASES_FILE)

    def get(self, key: str) -> dict[str, Any] | None:
        """The release for ``key`` (``{"noisy": int, "epsilon": float, "released": iso}``), or None."""
        return read_json(self.path, {}).get(key)

    def put(self, key: str, noisy: int, epsilon: float) -> dict[str, Any]:
        """Remember a fresh release (callers hold the catalog's lock)."""
        state = read_json(self.path, {})
        state[key] = {"noisy": int(noisy), "epsilon": epsilon, "released": dt.datetime.now(dt.timezone.utc).isoformat()}
        atomic_write_json(self.path, state)
        return state[key]
