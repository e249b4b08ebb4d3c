"""``nextgen-ml benchmark``: run (resumably) and report a fusion × modality × seed × fold benchmark."""

from __future__ import annotations

import argparse
import json
import logging

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.parallel import parse_shard
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.runner import run_benchmark

HELP = "benchmark fusion strategies and modality subsets with cross-validation, statistics and a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/benchmark/default.yaml", help="benchmark YAML config")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_epochs=2 'cv.seeds=[0]'")
    parser.add_argument("--out-dir", default=None, help="results folder (overrides out_dir)")
    parser.add_argument("--report-only", action="store_true", help="only (re)write the report of finished cells")
    parser.add_argument("--no-report", action="store_true", help="only run the cells")
    parser.add_argument("--figures-dir", default=None, help="also copy the figures here (e.g. docs/figures)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--workers", type=int, default=1,
                        help="run cells in N local processes (each with max(1, cores // N) torch threads)")
    parser.add_argument("--shard", default=None,
                        help="I/N: run only cells I, I+N, ... of the grid (one cluster job per shard, no report; "
                             "then --report-only; docs/benchmark.md)")


def run(args: argparse.Namespace) -> int:
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    overrides = list(args.overrides) + ([f"out_dir={args.out_dir}"] if args.out_dir else [])
    cfg = load_config(args.config, overrides)
    if not args.report_only:
        summary = run_benchmark(cfg, progress=not args.no_progress, workers=args.workers,
                                shard=parse_shard(args.shard))
        print(f"trained {summary.trained} cells, {summary.skipped} already finished, {summary.seconds:.0f} s")
    if not args.no_report and args.shard is None:  # a shard's report would see its own cells only
        report = write_report(cfg, figures_dir=args.figures_dir)
        print(f"report: {report.markdown}")
        print(json.dumps({"report": str(report.markdown), **{k: str(v) for k, v in report.figures.items()}}))
    return 0
