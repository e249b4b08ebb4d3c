"""Reproduce the shipped bundle ``pretrained/mace_xattn_small``: train a small all-modality cross-attention model
on the synthetic cohort with ``python train.py`` and export its best checkpoint.

    python scripts/make_pretrained.py [--out pretrained/mace_xattn_small] [--epochs 4] [--run-dir DIR]

The cohort (600 patients, 5 sites, seed 0, 32×32 cine) is generated on first use under ``paths.data_dir`` (set
``NEXTGEN_ML_DATA`` to put it elsewhere). The bundle is a few MB; check with ``du -sh pretrained/*``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: a small model: ≈0.36 M parameters (≈1.4 MB of float32 weights).
OVERRIDES = [
    "+experiment=fusion_cross_attention",
    "model.embed_dim=32",
    "+model.encoder.ecg.widths=[16,32,64,64]",
    "+model.encoder.image.widths=[8,16,32,64]",
    "+model.encoder.tabular.depth=1",
    "+model.encoder.text.depth=1",
    "+model.fusion.num_layers=1",
    "data.cohort.n=600",
    "data.cohort.config.image_size=32",
    "data.transforms.image.size=32",
    "data.transforms.text.max_len=64",
    "data.batch_size=64",
    "seed=0",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "pretrained" / "mace_xattn_small"), help="bundle directory")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs")
    parser.add_argument("--run-dir", default=None, help="train.py output directory (default: a temp dir)")
    args = parser.parse_args(argv)

    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="make_pretrained_"))
    cmd = [sys.executable, str(ROOT / "train.py"), *OVERRIDES, f"trainer.max_epochs={args.epochs}",
           f"hydra.run.dir={run_dir}"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)

    from nextgen_ml.bundle import export_bundle, load_pretrained

    out = export_bundle(run_dir / "checkpoints" / "best.ckpt", args.out, name="mace_xattn_small", overwrite=True)
    bundle = load_pretrained(out)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(bundle)
    print(f"bundle: {out} ({size / 1e6:.2f} MB); |bundle - checkpoint| on reference records = {bundle.verify():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
