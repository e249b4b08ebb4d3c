"""Peak resident memory of a short default ``python train.py`` as the cohort grows.

For each cohort size it writes (once, reused later) a synthetic store with ``write_cohort`` in chunks (ECG 100 Hz,
32x32 cine by default, to keep disk and time sane), then runs in a subprocess

    python train.py data=store data.data_dir=STORE trainer.max_steps=30 trainer.limit_val_batches=2
        trainer.limit_test_batches=2 plots=false ...

and polls the resident set size (RSS) of the whole process tree with psutil (every 50 ms), next to the kernel's
own high-water mark ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the largest child. Memory-mapped store
pages the run touched (and the kernel's read-around of them) count as resident although they are file-backed and
reclaimable, so RSS is an upper bound on the memory the run needs; the table also shows the peak of RSS minus
shared file-backed pages (psutil ``rss - shared``: anonymous memory, what the run cannot give back). Last line:
one JSON object.

    python scripts/bench_memory.py --sizes 2000 8000 40000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def ensure_store(root: Path, n: int, image_size: int, fs_hz: float, seed: int = 0) -> tuple[Path, float]:
    """The store of ``n`` patients under ``root`` (generated in 500-patient chunks if absent); (path, seconds)."""
    from nextgen_ml.data.cohort import CohortConfig, write_cohort

    path = root / f"cohort_n{n}_img{image_size}_fs{int(fs_hz)}"
    meta = path / "_metadata.json"
    if meta.exists() and json.loads(meta.read_text()).get("n_records") == n:
        return path, 0.0
    t0 = time.perf_counter()
    write_cohort(path, n=n, sites=5, seed=seed, config=CohortConfig(ecg_fs_hz=fs_hz, image_size=image_size),
                 chunk_size=500, overwrite=True, progress=False)
    return path, time.perf_counter() - t0


def store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def train_command(store: Path, out: Path, steps: int, image_size: int, extra: list[str]) -> list[str]:
    """The ``python train.py`` command line of one measured run."""
    return [
        sys.executable, str(ROOT / "train.py"),
        "data=store", f"data.data_dir={store}",
        f"data.transforms.image.size={image_size}",
        f"trainer.max_steps={steps}", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
        "plots=false",
        f"paths.log_dir={out}", f"hydra.run.dir={out}/run",
        *extra,
    ]


@dataclass
class RssSample:
    peak_tree_bytes: int
    peak_anon_bytes: int
    wall_s: float
    returncode: int


def run_with_rss(cmd: list[str], poll_s: float = 0.05, log_file: Path | None = None) -> RssSample:
    """Run ``cmd`` and return the peak summed RSS of its process tree (psutil polling)."""
    t0 = time.perf_counter()
    with open(log_file or os.devnull, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        parent, peak, peak_anon = psutil.Process(proc.pid), 0, 0
        while proc.poll() is None:
            try:
                procs = [parent, *parent.children(recursive=True)]
                total = anon = 0
                for p in procs:
                    try:
                        info = p.memory_info()
                    except psutil.NoSuchProcess:
                        continue
                    total, anon = total + info.rss, anon + info.rss - info.shared
                peak, peak_anon = max(peak, total), max(peak_anon, anon)
            except psutil.NoSuchProcess:
                pass
            time.sleep(poll_s)
    return RssSample(peak, peak_anon, time.perf_counter() - t0, proc.returncode)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000, 40000], help="cohort sizes (patients)")
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "nextgen_ml_bench_memory",
                    help="where the stores are written (reused by later runs)")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--fs", type=float, default=100.0, help="ECG sampling rate of the cohorts")
    ap.add_argument("--steps", type=int, default=30, help="training steps per run")
    ap.add_argument("--extra", nargs="*", default=[], help="more train.py overrides")
    args = ap.parse_args()

    args.root.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        store, gen_s = ensure_store(args.root, n, args.image_size, args.fs)
        out = args.root / f"runs_n{n}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        sample = run_with_rss(train_command(store, out, args.steps, args.image_size, args.extra),
                              log_file=args.root / f"train_n{n}.log")
        if sample.returncode != 0:
            raise SystemExit(f"train.py failed for n={n}; see {args.root / f'train_n{n}.log'}")
        maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; max over all children
        rows.append({"n": n, "store_mb": store_bytes(store) / 2**20, "generate_s": gen_s,
                     "peak_rss_mb": sample.peak_tree_bytes / 2**20, "peak_anon_mb": sample.peak_anon_bytes / 2**20,
                     "ru_maxrss_mb": maxrss / 1024 if maxrss > before else float("nan"), "train_wall_s": sample.wall_s})

    print(f"\npeak RSS of `python train.py` ({args.steps} steps), {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"{'patients':>9} {'store MB':>9} {'peak RSS MB':>12} {'peak anon MB':>13} {'ru_maxrss MB':>13} {'run s':>7}")
    for r in rows:
        print(f"{r['n']:>9} {r['store_mb']:>9.0f} {r['peak_rss_mb']:>12.0f} {r['peak_anon_mb']:>13.0f} "
              f"{r['ru_maxrss_mb']:>13.0f} {r['train_wall_s']:>7.1f}")
    small, large = rows[0], rows[-1]
    result = {
        "rows": rows,
        "size_ratio": large["n"] / small["n"],
        "store_ratio": large["store_mb"] / small["store_mb"],
        "peak_rss_ratio": large["peak_rss_mb"] / small["peak_rss_mb"],
        "peak_anon_ratio": large["peak_anon_mb"] / small["peak_anon_mb"],
        "steps": args.steps,
        "image_size": args.image_size,
        "ecg_fs_hz": args.fs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
