"""Benchmarking fusion strategies: cross-validated grid runs, statistics, missing-modality robustness and
modality attribution (``nextgen-ml benchmark``; docs/benchmark.md)."""

from nextgen_ml.benchmark.config import BenchmarkConfig, Setting, load_config
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.runner import collect_results, run_benchmark
from nextgen_ml.benchmark.stats import bootstrap_ci, delong_paired, fast_delong, holm, paired_bootstrap

__all__ = ["BenchmarkConfig", "Setting", "bootstrap_ci", "collect_results", "delong_paired", "fast_delong", "holm",
           "load_config", "paired_bootstrap", "run_benchmark", "write_report"]
