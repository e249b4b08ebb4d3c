"""Differential privacy glue around Opacus."""

from nextgen_ml.privacy.compat import assert_dp_compatible, dp_problems, make_dp_compatible

__all__ = ["assert_dp_compatible", "dp_problems", "make_dp_compatible"]
