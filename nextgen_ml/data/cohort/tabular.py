"""The ``tabular`` struct: clinical variables of :data:`nextgen_ml.data.schema.TABULAR_VARIABLES`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.data.cohort.latent import SMOKING
from nextgen_ml.data.schema import TABULAR_VARIABLES

#: Per-variable probability that a recorded value is missing (null), before ``tabular_missing_scale``.
TABULAR_MISSING: dict[str, float] = {
    "age": 0.0, "sex": 0.0, "bmi": 0.04, "sbp": 0.02, "ldl": 0.06, "hba1c": 0.10, "smoking": 0.05,
    "diabetes": 0.01, "statin": 0.01, "beta_blocker": 0.01, "ace_inhibitor": 0.01, "anticoagulant": 0.01,
}

_YES_NO = np.array(["no", "yes"], dtype=object)

#: How each variable is read off the latent state: name → (N,) values (float for numeric, str for categorical).
_VALUES = {
    "age": lambda d: np.round(d["age"].to_numpy(), 1),
    "sex": lambda d: np.where(d["male"].to_numpy(), "male", "female"),
    "bmi": lambda d: np.round(d["bmi"].to_numpy(), 1),
    "sbp": lambda d: np.round(d["sbp"].to_numpy()),
    "ldl": lambda d: np.round(d["ldl"].to_numpy(), 2),
    "hba1c": lambda d: np.round(d["hba1c"].to_numpy(), 1),
    "smoking": lambda d: np.array(SMOKING, dtype=object)[d["smoking"].to_numpy()],
    "diabetes": lambda d: _YES_NO[d["diabetes"].to_numpy().astype(int)],
    "statin": lambda d: _YES_NO[d["statin"].to_numpy().astype(int)],
    "beta_blocker": lambda d: _YES_NO[d["beta_blocker"].to_numpy().astype(int)],
    "ace_inhibitor": lambda d: _YES_NO[d["ace_inhibitor"].to_numpy().astype(int)],
    "anticoagulant": lambda d: _YES_NO[d["anticoagulant"].to_numpy().astype(int)],
}


def tabular_structs(
    rng: np.random.Generator, latent: pd.DataFrame, present: np.ndarray, missing_scale: float
) -> list[dict[str, Any] | None]:
    """``tabular`` structs with a few values missing at random (null, never NaN).

    Args:
        rng: random generator.
        latent: latent state, N rows.
        present: ``(N,)`` bool, False where the whole tabular record is missing.
        missing_scale: multiplies :data:`TABULAR_MISSING`.
    """
    n = len(latent)
    columns = {}
    for var in TABULAR_VARIABLES:
        values = _VALUES[var.name](latent).tolist()
        drop = rng.random(n) < min(1.0, TABULAR_MISSING[var.name] * missing_scale)
        columns[var.name] = [None if drop[i] else (float(v) if var.kind == "numeric" else v)
                             for i, v in enumerate(values)]
    return [{name: col[i] for name, col in columns.items()} if present[i] else None for i in range(n)]
