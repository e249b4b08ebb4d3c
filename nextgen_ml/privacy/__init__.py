"""Differential privacy glue around Opacus: DP-compatible backbones and DP-SGD for any Lightning fit."""

from nextgen_ml.privacy.callback import DPCallback
from nextgen_ml.privacy.compat import assert_dp_compatible, dp_problems, make_dp_compatible
from nextgen_ml.privacy.config import ACCOUNTANT_CODES, DPConfig
from nextgen_ml.privacy.losses import per_sample_loss
from nextgen_ml.privacy.report import write_privacy_report

__all__ = [
    "ACCOUNTANT_CODES",
    "DPCallback",
    "DPConfig",
    "assert_dp_compatible",
    "dp_problems",
    "make_dp_compatible",
    "per_sample_loss",
    "write_privacy_report",
]
