"""The run's privacy report: numeric ``privacy/*`` entries for metrics.json and a readable ``privacy.json``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import lightning.pytorch as pl

from nextgen_ml.privacy.callback import DPCallback
from nextgen_ml.privacy.randomness import REPRODUCIBLE_WARNING


def find_dp_callback(trainer: pl.Trainer) -> DPCallback | None:
    """The trainer's :class:`DPCallback`, or None for a non-private run."""
    return next((c for c in trainer.callbacks if isinstance(c, DPCallback)), None)


def write_privacy_report(trainer: pl.Trainer, out_dir: Path) -> dict[str, float]:
    """Write ``out_dir/privacy.json`` (numbers + accountant name + settings) for a DP run.

    Returns:
        The numeric ``privacy/*`` entries for metrics.json (empty for a non-private run or one that never fit).
    """
    dp = find_dp_callback(trainer)
    if dp is None or dp.sample_rate is None:
        return {}
    metrics = dp.metrics()
    # the exact training-set size is not published: δ comes from the public bound n_bound
    report = {**metrics, "accountant": dp.config.accountant, "n_bound": dp.n_bound, "planned_steps": dp.planned,
              "reproducible_noise": dp.config.reproducible_noise, "noise_generator": "ChaCha20 (cryptography/OpenSSL)",
              "config": asdict(dp.config)}
    if dp.noise_continued is not None:  # a resumed fit: did the noise streams continue (key file found)?
        report["noise_key_continued"] = dp.noise_continued
    if dp.config.reproducible_noise:
        report["WARNING"] = REPRODUCIBLE_WARNING
    (Path(out_dir) / "privacy.json").write_text(json.dumps(report, indent=2))
    return metrics
