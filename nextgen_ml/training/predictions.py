"""Run a trained module over a loader and collect predictions with their targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader


@torch.no_grad()
def collect_predictions(module: Any, loader: DataLoader) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """``(predictions, targets, indices)`` over ``loader``.

    Predictions are the task's ``predict(logits)`` (probabilities, class probabilities or risk scores):
    ``(N,)`` or ``(N, K)``; targets are stacked per name; indices are record indices in the loader's store view.
    """
    was_training = module.training
    module.eval()
    preds, targets, index = [], {}, []
    for batch in loader:
        out = module.net(batch["inputs"], batch["mask"])
        preds.append(module.task.predict(out["logits"]).float().cpu())
        for k, v in batch["targets"].items():
            targets.setdefault(k, []).append(v.cpu())
        index.append(batch["index"])
    module.train(was_training)
    return (
        torch.cat(preds).numpy(),
        {k: torch.cat(v).numpy() for k, v in targets.items()},
        torch.cat(index).numpy(),
    )
