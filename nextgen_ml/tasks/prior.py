"""The head's starting output bias from the training labels' prior, so that training starts calibrated.

A zero output bias predicts ``p = 0.5`` for every row. With a 28 % MACE prevalence the first optimiser steps are
spent moving the bias towards ``logit(0.28) = -0.94`` (Adam moves a parameter by about the learning rate per
step: ~470 steps at 2e-3, against ~70 in a 4-epoch benchmark cell), and the features learn little meanwhile.
Starting the bias at the prior's log-odds removes that phase (the "prior probability" initialisation of Lin et
al., Focal Loss, 2017). docs/results.md §13 measures it per modality.

=============  ==========================  ====================================================================
kind           targets                     starting bias
=============  ==========================  ====================================================================
binary         ``(n,)`` 0/1, NaN missing   ``log(p / (1 - p))``, ``p = (positives + 1) / (labelled + 2)``
multilabel     ``(n, K)`` 0/1, NaN         the same per label
multiclass     ``(n,)`` class id, -1       ``log p_k - mean_k log p_k``, ``p_k = (n_k + 1) / (labelled + K)``
regression     —                           none (the head predicts standardised values: 0 is the mean)
survival       —                           none (the Cox partial likelihood ignores a constant)
=============  ==========================  ====================================================================

The prior is a statistic of the training labels: a DP run must not use it, nor may a federated site share it
(``nextgen_ml.training.factory.build_module`` skips it for both).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn


def _log_odds(y: np.ndarray) -> np.ndarray | None:
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)  # (n, K)
    labelled = np.isfinite(y)
    if not labelled.any():
        return None
    p = (np.where(labelled, y, 0.0).sum(0) + 1.0) / (labelled.sum(0) + 2.0)  # (K,), Laplace-smoothed
    return np.log(p / (1.0 - p))


def _multiclass(y: np.ndarray, num_outputs: int) -> np.ndarray | None:
    y = np.asarray(y, dtype=np.int64).ravel()
    y = y[(y >= 0) & (y < num_outputs)]
    if y.size == 0:
        return None
    logp = np.log((np.bincount(y, minlength=num_outputs) + 1.0) / (y.size + num_outputs))
    return logp - logp.mean()


#: label kind → ``(targets, num_outputs) -> bias (K,) or None``
PRIOR_BIAS: dict[str, Callable[[np.ndarray, int], np.ndarray | None]] = {
    "binary": lambda y, k: _log_odds(y),
    "multilabel": lambda y, k: _log_odds(y),
    "multiclass": _multiclass,
}


def prior_bias(kind: str, targets: np.ndarray, num_outputs: int) -> np.ndarray | None:
    """The starting output bias ``(K,)`` for ``kind`` from training ``targets`` (encoded as
    :mod:`nextgen_ml.data.targets` encodes them); None for kinds that need none or when no row is labelled.

    Raises:
        ValueError: the bias would not have ``num_outputs`` entries.
    """
    fn = PRIOR_BIAS.get(kind)
    bias = None if fn is None or len(targets) == 0 else fn(targets, num_outputs)
    if bias is not None and bias.shape != (num_outputs,):
        raise ValueError(f"prior bias: {bias.shape[0]} values for a {kind} head with {num_outputs} outputs")
    return bias


def output_layer(head: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` of a head (the layer whose bias is the output bias)."""
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears or linears[-1].bias is None:
        raise ValueError(f"prior bias: head {type(head).__name__} has no Linear output layer with a bias")
    return linears[-1]


def init_output_bias(head: nn.Module, bias: np.ndarray) -> None:
    """Set the head's output bias to ``bias`` ``(K,)`` (in place, before training)."""
    layer = output_layer(head)
    if layer.out_features != len(bias):
        raise ValueError(f"prior bias: {len(bias)} values for an output layer of {layer.out_features}")
    layer.bias.data.copy_(layer.bias.data.new_tensor(bias))


def init_prior_bias(head: nn.Module, kind: str, targets: np.ndarray, num_outputs: int) -> None:
    """Start ``head``'s output bias at the prior of ``targets`` (:func:`prior_bias`); kinds without one, or no
    labelled row, leave it as it is."""
    bias = prior_bias(kind, targets, num_outputs)
    if bias is not None:
        init_output_bias(head, bias)
