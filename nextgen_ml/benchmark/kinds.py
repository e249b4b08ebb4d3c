"""How the benchmark scores each label kind of the data dictionary: labels as arrays, the model's score,
metrics, the main metric, which paired test each metric gets and how the bootstrap is stratified.

=============  ==================  ==========================  ===================================  ==========
kind           ``y`` per row       score per row (cell file)   metrics (paired test)                strata
=============  ==================  ==========================  ===================================  ==========
binary         0/1                 first logit                 auroc (DeLong), auprc, brier,        class
                                                               accuracy (paired bootstrap)
multiclass     class id            ``K`` logits                macro one-vs-rest auroc, accuracy    class
multilabel     ``K`` × 0/1         ``K`` logits                macro auroc, macro auprc             none
regression     value (unit)        prediction in the unit      mae, rmse, r2                        none
survival       ``[time, event]``   risk (log hazard ratio)     Harrell's cindex                     event
=============  ==================  ==========================  ===================================  ==========

Missing labels are NaN (whole row for multilabel and survival); such rows are left out of every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nextgen_ml.benchmark import metrics as M
from nextgen_ml.data.dictionary import Label
from nextgen_ml.data.targets import TARGET_ENCODERS


@dataclass(frozen=True)
class KindScoring:
    """Scoring of one label kind.

    Attributes:
        kind: the label kind.
        metrics: metric name → definition (vectorised over leading axes, rows on the first non-leading axis).
        main: the metric tables are ranked by and figures show.
        vector: whether a row's score is a ``(K,)`` vector (else a scalar).
        strata: ``y (n, ...) -> (n,)`` bootstrap strata, or None for plain resampling.
        min_rows: rows below which a metric is not computed (NaN).
    """

    kind: str
    metrics: Mapping[str, M.Metric]
    main: str
    vector: bool = False
    strata: Callable[[np.ndarray], np.ndarray] | None = None
    min_rows: int = 2

    def test_method(self, metric: str) -> str:
        """``delong`` for binary AUROC, ``paired_bootstrap`` otherwise."""
        return "delong" if self.kind == "binary" and metric == "auroc" else "paired_bootstrap"

    def labelled(self, y: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: rows whose label is known."""
        y = np.asarray(y, dtype=np.float64)
        return ~np.isnan(y) if y.ndim == 1 else ~np.isnan(y).any(axis=1)

    def scorable(self, y: np.ndarray) -> bool:
        """Whether labelled rows ``y`` can be scored (binary: both classes; multiclass: two classes;
        survival: an event)."""
        if len(y) < self.min_rows:
            return False
        if self.kind in ("binary", "multiclass"):
            return np.unique(y).size > 1
        if self.kind == "survival":
            return bool((y[:, 1] > 0.5).any())
        return True

    def score(self, y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """Every metric of one prediction set (rows already labelled); NaN when not :meth:`scorable`."""
        if not self.scorable(y):
            return {m: float("nan") for m in self.metrics}
        return {m: float(d.fn(y, scores)) for m, d in self.metrics.items()}

    def encode(self, label: Label, values: Sequence[Any]) -> np.ndarray:
        """Stored label values → ``y`` float64 (NaN = unlabelled; multiclass ids, ``-1`` → NaN)."""
        rows = [TARGET_ENCODERS[label.kind](label, v) for v in values]
        y = np.asarray(rows, dtype=np.float64)
        if self.kind == "multiclass":
            y[y < 0] = np.nan
        return y


def _column(j: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda y: np.asarray(y)[:, j]


SCORING: dict[str, KindScoring] = {
    "binary": KindScoring("binary", M.METRICS, "auroc", strata=lambda y: np.asarray(y)),
    "multiclass": KindScoring("multiclass", {"auroc": M.Metric(M.macro_auroc_ovr),
                                             "accuracy": M.Metric(M.multiclass_accuracy)},
                              "auroc", vector=True, strata=lambda y: np.asarray(y)),
    "multilabel": KindScoring("multilabel", {"auroc": M.Metric(M.macro_auroc), "auprc": M.Metric(M.macro_auprc)},
                              "auroc", vector=True),
    "regression": KindScoring("regression", {"mae": M.Metric(M.mae, higher_is_better=False),
                                             "rmse": M.Metric(M.rmse, higher_is_better=False),
                                             "r2": M.Metric(M.r2)}, "mae"),
    "survival": KindScoring("survival", {"cindex": M.Metric(M.cindex)}, "cindex", strata=_column(1)),
}


def scoring_for(kind: str) -> KindScoring:
    """The scoring of a label kind; the error lists the kinds."""
    if kind not in SCORING:
        raise ValueError(f"label kind {kind!r} has no benchmark scoring; kinds: {sorted(SCORING)}")
    return SCORING[kind]


def result_kind(results: Sequence[Mapping[str, Any]]) -> KindScoring:
    """The scoring of a set of cell results (cells written before kinds existed are binary); one kind only."""
    kinds = sorted({r.get("kind", "binary") for r in results}) or ["binary"]
    if len(kinds) > 1:
        raise ValueError(f"cell results mix label kinds {kinds}; one benchmark scores one label")
    return scoring_for(kinds[0])
