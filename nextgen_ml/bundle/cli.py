"""``nextgen-ml export CKPT --out DIR``: export a training checkpoint as a pretrained bundle."""

from __future__ import annotations

import argparse

HELP = "export a train.py checkpoint as a self-contained pretrained bundle (weights, preprocessing, model card)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="best.ckpt or last.ckpt of a train.py run")
    parser.add_argument("--out", required=True, help="bundle directory to create")
    parser.add_argument("--data-dir", default=None, help="record store of the run if it moved (for the test CI)")
    parser.add_argument("--metrics", default=None, help="the run's metrics.json (default: next to checkpoints/)")
    parser.add_argument("--name", default=None, help="bundle name (default: the directory name)")
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples of the test CI")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")


def run(args: argparse.Namespace) -> int:
    from nextgen_ml.bundle.export import export_bundle
    from nextgen_ml.bundle.files import CARD_MD

    out = export_bundle(args.checkpoint, args.out, data_dir=args.data_dir, metrics_path=args.metrics, name=args.name,
                        n_boot=args.n_bootstrap, overwrite=args.overwrite)
    print((out / CARD_MD).read_text())
    print(f"bundle: {out}")
    return 0
