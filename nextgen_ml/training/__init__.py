"""Hydra-driven training and evaluation: ``train(cfg)`` and ``evaluate(cfg)``."""

from nextgen_ml.training.evaluate import evaluate
from nextgen_ml.training.train import train

__all__ = ["evaluate", "train"]
