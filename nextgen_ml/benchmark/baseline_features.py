"""Simple, fixed features of each modality's model input for the benchmark's linear baselines.

Every feature function maps the stacked model inputs of one modality (the fold's transformed samples, exactly what
the neural cells see) to a ``(n, p)`` float64 matrix; the preprocessing that is fitted on training rows
(standardisation, tf-idf) is :func:`preprocessor`.

=============  ====================================  ===============================================================
modality       input                                 features
=============  ====================================  ===============================================================
image          ``(n, F, H, W)`` / ``(n, F, D, H, W)``  each frame average-pooled to ``8 × 8`` (``8³`` in 3D), flattened
genomics       ``(n, V)`` dosages, NaN = no call     dosages (no call → 0) + a no-call indicator per variant with any
tabular        ``(n, P)`` standardised / codes       numeric columns as is + "was missing" (exact 0, the fill) per
                                                     numeric column; categorical codes one-hot (missing code included)
text           ``(n, L)`` token ids (0 = pad)        bag of words over the vocabulary → tf-idf
ecg, heart_sound, wearable, other ``(n, C, T)``      per channel: mean, SD, min, max, 5/25/50/75/95 % quantiles and
                                                     mean absolute first difference (NaN-aware)
=============  ====================================  ===============================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import StandardScaler

#: ``features(x, spec) -> (n, p)``: stacked model inputs of one modality and its modality spec
FeatureFn = Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]

#: image frames are average-pooled to this many cells per spatial axis
IMAGE_GRID = 8
#: quantiles of the per-channel signal summary
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

FEATURES: dict[str, FeatureFn] = {}


def register_features(*modalities: str) -> Callable[[FeatureFn], FeatureFn]:
    """Register a feature function for ``modalities``."""

    def wrap(fn: FeatureFn) -> FeatureFn:
        for m in modalities:
            FEATURES[m] = fn
        return fn

    return wrap


@register_features("image")
def image_features(x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Each frame average-pooled to ``IMAGE_GRID`` cells per axis: ``(n, F, *S) -> (n, F * IMAGE_GRID**len(S))``."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    pool = {4: F.adaptive_avg_pool2d, 5: F.adaptive_avg_pool3d}
    if t.ndim not in pool:
        raise ValueError(f"image baseline: expected (n, F, H, W) or (n, F, D, H, W) inputs, got {tuple(t.shape)}")
    return pool[t.ndim](t, IMAGE_GRID).flatten(1).double().numpy()


@register_features("genomics")
def genomics_features(x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Dosages (no call → 0) and a no-call indicator for each variant with any no-call: ``(n, V) -> (n, V + V')``."""
    x = np.asarray(x, dtype=np.float64)
    missing = np.isnan(x)
    return np.hstack([np.nan_to_num(x, nan=0.0), missing[:, missing.any(0)].astype(np.float64)])


@register_features("tabular")
def tabular_features(x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Numeric columns and their "missing" flags (the transform fills a missing value with exactly 0, the centre);
    categorical codes one-hot over ``0..K`` (``K`` = missing). Cardinalities come from the modality spec."""
    x = np.asarray(x, dtype=np.float64)
    cards = list(spec.get("cardinalities") or [0] * x.shape[1])
    if len(cards) != x.shape[1]:
        raise ValueError(f"tabular baseline: {len(cards)} cardinalities for {x.shape[1]} columns")
    blocks = []
    for j, k in enumerate(cards):
        if k:
            codes = np.clip(x[:, j].astype(np.int64), 0, k)
            blocks.append(np.eye(k + 1)[codes])  # (n, K + 1)
        else:
            blocks.append(np.stack([x[:, j], (x[:, j] == 0.0).astype(np.float64)], axis=1))  # (n, 2)
    return np.hstack(blocks)


@register_features("text")
def text_features(x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Bag of words: token counts over the vocabulary without the pad id 0, ``(n, L) -> (n, vocab_size - 1)``."""
    ids = np.asarray(x, dtype=np.int64)
    vocab = int(spec.get("vocab_size") or ids.max() + 1)
    counts = np.zeros((len(ids), vocab), dtype=np.float64)
    np.add.at(counts, (np.repeat(np.arange(len(ids)), ids.shape[1]), ids.ravel()), 1.0)
    return counts[:, 1:]


def signal_summary(x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Per-channel summary statistics of ``(n, C, T)`` signals (NaN-aware): ``(n, C * (5 + len(QUANTILES)))``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"signal baseline: expected (n, C, T) inputs, got {x.shape}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels (e.g. a wearable gap) → 0 below
        stats = [np.nanmean(x, -1), np.nanstd(x, -1), np.nanmin(x, -1), np.nanmax(x, -1),
                 *np.nanquantile(x, QUANTILES, axis=-1), np.nanmean(np.abs(np.diff(x, axis=-1)), -1)]
    return np.nan_to_num(np.concatenate(stats, axis=1), nan=0.0, posinf=0.0, neginf=0.0)


register_features("ecg", "heart_sound", "wearable")(signal_summary)


def features(modality: str, x: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """The baseline features of one modality's stacked inputs (signals of unlisted modalities: the summary)."""
    return FEATURES.get(modality, signal_summary)(x, spec)


def preprocessor(modality: str) -> TransformerMixin:
    """The preprocessing fitted on the training rows: tf-idf for text, standardisation otherwise."""
    return TfidfTransformer() if modality == "text" else StandardScaler()
