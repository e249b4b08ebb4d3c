"""Linear baselines inside the benchmark: a linear model on simple features of the same inputs, fitted and scored on
the same folds as the neural cells, written as ordinary cell results (so the report's metrics, CIs and paired tests
treat them like any other setting).

With ``baselines: true`` in the benchmark config, every modality of a single-modality setting gets a setting
``linear_<modality>`` (fusion :data:`FUSION`); a setting may also name ``fusion: linear_baseline`` itself (several
modalities: their feature blocks side by side). Features: :mod:`nextgen_ml.benchmark.baseline_features`.

Models by label kind (regularisation strength chosen by 3-fold CV inside the training split, seeded by the cell):

=============  ==================================================================  ==============================
kind           model                                                               stored score per row
=============  ==================================================================  ==============================
binary         L2 logistic regression (``LogisticRegressionCV``)                   log-odds
multiclass     multinomial L2 logistic regression                                  ``K`` logits (absent: very low)
multilabel     one L2 logistic regression per label (one-vs-rest)                  ``K`` log-odds
regression     ridge regression (``RidgeCV``, efficient leave-one-out)             prediction in the label's unit
survival       ridge-penalised Cox model (scikit-survival ``CoxPHSurvivalAnalysis``)  risk (log hazard ratio)
=============  ==================================================================  ==============================

A row without the modality gets zero features (the training mean after standardisation) and a "modality absent"
indicator, as the neural models see a learned missing-modality input; rows without a label are left out of the fit.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from scipy.sparse import issparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from nextgen_ml.benchmark.baseline_features import features, preprocessor
from nextgen_ml.benchmark.config import BenchmarkConfig, Setting
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import fold_labels
from nextgen_ml.benchmark.kinds import scoring_for
from nextgen_ml.data.dataset import Collate

#: fusion name of a linear-baseline setting
FUSION = "linear_baseline"
#: setting-name prefix of the generated baselines (``linear_image``)
PREFIX = "linear_"
#: inverse regularisation strengths of the logistic models; ridge and Cox penalties
CS = np.logspace(-3, 1, 5)
ALPHAS = np.logspace(-2, 4, 13)
COX_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
#: inner CV folds of the penalty choice
INNER_FOLDS = 3


def is_baseline(setting: Setting | Mapping[str, Any]) -> bool:
    """Whether a setting (or its ``asdict``) is a linear baseline."""
    fusion = setting["fusion"] if isinstance(setting, Mapping) else setting.fusion
    return fusion == FUSION


def baseline_settings(settings: Sequence[Setting]) -> list[Setting]:
    """``linear_<m>`` for every modality ``m`` of a single-modality neural setting, skipping names already taken."""
    taken = {s.name for s in settings}
    single = sorted({s.modalities[0] for s in settings if len(s.modalities) == 1 and not is_baseline(s)})
    return [Setting(name=f"{PREFIX}{m}", fusion=FUSION, modalities=[m]) for m in single if f"{PREFIX}{m}" not in taken]


def design(modalities: Sequence[str], samples: Sequence[dict[str, Any]], specs: Mapping[str, Mapping[str, Any]]
           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Raw features and presence of each modality: ``{m: (n, p_m)}``, ``{m: (n,) bool}`` (absent rows: zeros)."""
    batch = Collate(modalities)(samples)
    raw, present = {}, {}
    for m in modalities:
        present[m] = batch["mask"][m].numpy().astype(bool)
        raw[m] = np.zeros((len(samples), 0))  # absent from every row: no columns (zeros of the fitted width)
        if present[m].any():
            x = batch["inputs"][m].numpy()
            f_present = features(m, x[present[m]], specs.get(m, {}))
            raw[m] = np.zeros((len(x), f_present.shape[1]))
            raw[m][present[m]] = f_present
    return raw, present


class LinearFeatures:
    """Per-modality preprocessing fitted on present training rows; absent rows → zeros + an absent indicator."""

    def __init__(self, modalities: Sequence[str]) -> None:
        self.modalities = list(modalities)
        self.pre = {m: preprocessor(m) for m in self.modalities}

    def fit(self, raw: Mapping[str, np.ndarray], present: Mapping[str, np.ndarray]) -> LinearFeatures:
        for m in self.modalities:
            if not present[m].any():
                raise ValueError(f"linear baseline: modality {m!r} is absent from every training row")
            self.pre[m].fit(raw[m][present[m]])
        self.widths = {m: raw[m].shape[1] for m in self.modalities}
        return self

    def transform(self, raw: Mapping[str, np.ndarray], present: Mapping[str, np.ndarray]) -> np.ndarray:
        blocks = []
        for m in self.modalities:
            z = np.zeros((len(present[m]), self.widths[m]))
            if present[m].any():
                t = self.pre[m].transform(raw[m][present[m]])
                z[present[m]] = t.toarray() if issparse(t) else t
            blocks += [z, (~present[m]).astype(np.float64)[:, None]]
        return np.nan_to_num(np.hstack(blocks))


def _logistic(seed: int, stratified: bool = True) -> LogisticRegressionCV:
    cv = (StratifiedKFold if stratified else KFold)(INNER_FOLDS, shuffle=True, random_state=seed)
    return LogisticRegressionCV(Cs=CS, cv=cv, scoring="neg_log_loss", max_iter=2000)


def _fit_binary(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    if np.unique(y).size < 2:  # one class: the constant log-odds of (almost) that class
        return lambda z: np.full(len(z), 10.0 if y[0] > 0.5 else -10.0)
    if np.bincount(y.astype(int)).min() < INNER_FOLDS:
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    else:
        model = _logistic(seed).fit(x, y)
    return model.decision_function  # (n,) log-odds


def _fit_multiclass(x: np.ndarray, y: np.ndarray, seed: int, n_classes: int) -> Callable[[np.ndarray], np.ndarray]:
    y = y.astype(int)
    present = np.unique(y)
    if present.size < 2:
        def constant(z: np.ndarray) -> np.ndarray:
            out = np.full((len(z), n_classes), -10.0)
            out[:, present[0]] = 10.0
            return out
        return constant
    small = np.bincount(y)[present].min() < INNER_FOLDS
    model = (LogisticRegression(C=1.0, max_iter=2000) if small else _logistic(seed)).fit(x, y)

    def logits(z: np.ndarray) -> np.ndarray:
        d = model.decision_function(z)
        d = np.stack([-d, d], axis=1) / 2 if d.ndim == 1 else d  # two classes: symmetric logits
        out = np.full((len(z), n_classes), float(d.min()) - 20.0)  # classes never seen in training: very unlikely
        out[:, model.classes_] = d
        return out

    return logits


def _fit_multilabel(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    heads = [_fit_binary(x, y[:, k], seed) for k in range(y.shape[1])]
    return lambda z: np.stack([h(z) for h in heads], axis=1)  # (n, K)


def _fit_regression(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    return RidgeCV(alphas=ALPHAS).fit(x, y).predict


def _fit_survival(x: np.ndarray, y: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    target = Surv.from_arrays(event=y[:, 1] > 0.5, time=y[:, 0])
    search = GridSearchCV(CoxPHSurvivalAnalysis(ties="efron"), {"alpha": list(COX_ALPHAS)},
                          cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed).split(x, y[:, 1] > 0.5))
    return search.fit(x, target).best_estimator_.predict  # (n,) log hazard ratio


def fit_linear(kind: str, x: np.ndarray, y: np.ndarray, seed: int, n_classes: int = 0
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Fit the label kind's linear model on labelled rows; returns ``features -> stored scores``.

    Args:
        kind: label kind (binary, multiclass, multilabel, regression, survival).
        x: ``(n, p)`` features.
        y: labels as :func:`~nextgen_ml.benchmark.folds.fold_labels` encodes them (no NaN rows).
        seed: seed of the inner CV.
        n_classes: ``K`` (multiclass).
    """
    fits: dict[str, Callable[..., Callable[[np.ndarray], np.ndarray]]] = {
        "binary": _fit_binary, "multilabel": _fit_multilabel, "regression": _fit_regression,
        "survival": _fit_survival, "multiclass": lambda x, y, s: _fit_multiclass(x, y, s, n_classes)}
    if kind not in fits:
        raise ValueError(f"linear baseline: label kind {kind!r} has no model; kinds: {sorted(fits)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn's announced LogisticRegressionCV defaults
        return fits[kind](x, y, seed)


def run_baseline_cell(cfg: BenchmarkConfig, setting: Setting, data: FoldData, meta: dict[str, Any],
                      labels: np.ndarray, seed: int, fold: int, key: str) -> dict[str, Any]:
    """Fit and score one linear-baseline cell; the result has the layout of
    :func:`~nextgen_ml.benchmark.cell.run_cell`'s (condition ``full`` only, no attributions)."""
    start = time.perf_counter()
    label = meta["dictionary"].label(cfg.data.target)
    kind = scoring_for(label.kind)
    mods, specs = setting.modalities, data.modality_specs
    raw, present = design(mods, data.samples["train"], specs)
    y_train = fold_labels(cfg, meta, data.index["train"])
    prep = LinearFeatures(mods).fit(raw, present)
    x_train, keep = prep.transform(raw, present), kind.labelled(y_train)
    predict = fit_linear(label.kind, x_train[keep], y_train[keep], seed * 1000 + fold, len(label.classes))
    fit_s = time.perf_counter() - start
    raw_test, present_test = design(mods, data.samples["test"], specs)
    out: dict[str, Any] = {
        "key": key, "setting": asdict(setting), "seed": seed, "fold": fold,
        "n_train": int(len(data.index["train"])), "fit_seconds": fit_s,
        "index": data.index["test"].tolist(), "site": meta["site"][data.index["test"]].tolist(),
        "y": labels.tolist(), "present": {m: present_test[m].tolist() for m in mods},
        "logits": {"full": predict(prep.transform(raw_test, present_test)).tolist()},
    }
    if label.kind != "binary":
        out["kind"] = label.kind
    if kind.vector:
        out["classes"] = list(label.classes)
    if data.external is not None:
        raw_ext, present_ext = design(mods, data.external, specs)
        out["external"] = {**data.external_meta,
                           "logits": {"full": predict(prep.transform(raw_ext, present_ext)).tolist()}}
    out["eval_seconds"] = time.perf_counter() - start - fit_s
    return out


def baseline_pairs(settings: Sequence[Setting]) -> list[tuple[str, str, None]]:
    """``(setting, linear_<m>, None)`` for every single-modality neural setting whose baseline is in ``settings``
    (the pairs of the report's "single modality vs linear baseline" table)."""
    names = {s.name for s in settings}
    return [(s.name, f"{PREFIX}{s.modalities[0]}", None) for s in settings
            if len(s.modalities) == 1 and not is_baseline(s) and f"{PREFIX}{s.modalities[0]}" in names]
