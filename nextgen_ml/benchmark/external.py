"""External validation: every fold model of a setting scored on another store (``external`` in the config).

Each cell result holds ``external = {index, site, y, logits: {"full": scores}}`` (same records for every cell).
The table gives, per setting and metric, the mean over fold models × repeats with a percentile-bootstrap CI, and
the **ensemble**: per repeat, the fold models' scores averaged per record (logits for classification, the
prediction for regression, the risk for survival), scored once, then averaged over repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.benchmark.kinds import result_kind
from nextgen_ml.benchmark.stats import bootstrap_ci

COLUMNS = ["setting", "metric", "mean", "low", "high", "n_cells", "n_rows", "ensemble"]


def external_table(results: Sequence[dict[str, Any]], settings: Sequence[str], n_boot: int = 1000,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Per setting × metric: mean [CI] over fold models on the external store, and the fold ensemble's value.

    Args:
        results: cell results (cells without ``external`` are ignored).
        settings: setting names in table order.

    Returns:
        Columns ``setting, metric, mean, low, high, n_cells, n_rows, ensemble`` (empty without external results).
    """
    with_ext = [r for r in results if "external" in r]
    if not with_ext:
        return pd.DataFrame(columns=COLUMNS)
    kind = result_kind(with_ext)
    rows = []
    for name in settings:
        cells = [r for r in with_ext if r["setting"]["name"] == name]
        if not cells:
            continue
        y = np.asarray(cells[0]["external"]["y"], dtype=np.float64)
        keep = kind.labelled(y)
        per_cell = [kind.score(y[keep], np.asarray(r["external"]["logits"]["full"])[keep]) for r in cells]
        ensemble = []
        for seed in sorted({r["seed"] for r in cells}):
            scores = np.mean([np.asarray(r["external"]["logits"]["full"]) for r in cells if r["seed"] == seed], axis=0)
            ensemble.append(kind.score(y[keep], scores[keep]))
        for metric in kind.metrics:
            est, low, high = bootstrap_ci([c[metric] for c in per_cell], n_boot=n_boot, alpha=alpha)
            rows.append({"setting": name, "metric": metric, "mean": est, "low": low, "high": high,
                         "n_cells": len(cells), "n_rows": int(keep.sum()),
                         "ensemble": float(np.mean([e[metric] for e in ensemble]))})
    return pd.DataFrame(rows, columns=COLUMNS)
