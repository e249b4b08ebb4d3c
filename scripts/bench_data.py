"""Random-access loading of full multimodal records: the store vs per-patient hospital files.

For the same synthetic patients it writes
  * the nextgen_ml store as Arrow IPC (memory-mapped, the default) and as Parquet, and
  * the layout hospitals keep: one WFDB record (12-lead ECG) and one NIfTI file (cine) per patient,
then reads full records (ECG and image decoded to arrays, genotype, tabular, text, labels) in a random order on
one core and prints records/s. Last line: one JSON object with every figure and the speed-up ratios.

    python scripts/bench_data.py --n 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import wfdb  # noqa: E402

from nextgen_ml.data.codec import decode_ecg, decode_image  # noqa: E402
from nextgen_ml.data.cohort import CohortConfig, generate_cohort  # noqa: E402
from nextgen_ml.data.store import RecordStore, write_store  # noqa: E402

#: what both layouts hold: the hospital side has no heart sounds or wearables in this comparison
COLUMNS = ["patient_id", "tabular", "ecg", "image", "genotype", "text", "labels"]


def full_record_from_store(store: RecordStore, i: int) -> dict:
    row = store.row(i)
    return {
        "ecg": None if row["ecg"] is None else decode_ecg(row["ecg"]),
        "image": None if row["image"] is None else np.asarray(decode_image(row["image"]), dtype=np.float32),
        "genotype": None if row["genotype"] is None else np.asarray(row["genotype"]["dosages"], np.float32),
        "tabular": row["tabular"],
        "text": row["text"],
        "labels": row["labels"],
    }


def write_hospital_files(table, root: Path) -> list[dict]:
    """One WFDB record + one NIfTI per patient; the small fields stay in memory (a CSV/EHR export)."""
    index = []
    for row in table.to_pylist():
        pid = row["patient_id"]
        entry = {"pid": pid, "wfdb": None, "nifti": None, "other": {k: row[k] for k in ("tabular", "text", "labels")}}
        if row["ecg"] is not None:
            sig = decode_ecg(row["ecg"]).T.astype(np.float64)  # (T, 12) mV
            wfdb.wrsamp(pid, fs=row["ecg"]["fs_hz"], units=["mV"] * 12, sig_name=row["ecg"]["leads"], p_signal=sig,
                        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(root))
            entry["wfdb"] = str(root / pid)
        if row["image"] is not None:
            pixels = decode_image(row["image"])  # (F, H, W)
            affine = np.diag([*row["image"]["spacing_mm"][::-1], 8.0, 1.0])
            path = root / f"{pid}.nii.gz"
            nib.save(nib.Nifti1Image(np.ascontiguousarray(pixels.transpose(2, 1, 0)), affine), path)
            entry["nifti"] = str(path)
        entry["genotype"] = None if row["genotype"] is None else row["genotype"]["dosages"]
        index.append(entry)
    return index


def full_record_from_files(entry: dict) -> dict:
    ecg = None
    if entry["wfdb"]:
        ecg = wfdb.rdrecord(entry["wfdb"]).p_signal.T.astype(np.float32)
    image = None
    if entry["nifti"]:
        image = np.asarray(nib.load(entry["nifti"]).dataobj, dtype=np.float32).transpose(2, 1, 0)
    genotype = None if entry["genotype"] is None else np.asarray(entry["genotype"], np.float32)
    return {"ecg": ecg, "image": image, "genotype": genotype, **entry["other"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="patients")
    ap.add_argument("--reads", type=int, default=2000, help="random reads per layout")
    ap.add_argument("--fs", type=float, default=500.0, help="ECG sampling rate of the cohort")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cohort = generate_cohort(args.n, sites=5, seed=args.seed, config=CohortConfig(ecg_fs_hz=args.fs))
    rng = np.random.default_rng(args.seed)
    order = rng.integers(0, args.n, args.reads)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sizes, readers = {}, {}
        for fmt in ("ipc", "parquet"):
            write_store(tmp / fmt, cohort.table, panel=cohort.panel, format=fmt)
            sizes[fmt] = sum(p.stat().st_size for p in (tmp / fmt).rglob("*") if p.is_file())
            t0 = time.perf_counter()
            store = RecordStore(tmp / fmt, columns=COLUMNS)  # the columns both layouts hold
            results[f"{fmt}_open_s"] = time.perf_counter() - t0
            readers[fmt] = lambda i, s=store: full_record_from_store(s, int(i))
        files = tmp / "hospital"
        files.mkdir()
        entries = write_hospital_files(cohort.table, files)
        sizes["hospital"] = sum(p.stat().st_size for p in files.iterdir())
        readers["hospital"] = lambda i: full_record_from_files(entries[int(i)])
        for read in readers.values():
            read(order[0])  # warm up
        # Interleave the layouts in rounds so that load from other processes hits all of them alike.
        elapsed = dict.fromkeys(readers, 0.0)
        counts = dict.fromkeys(readers, 0)
        for chunk in np.array_split(order, 10):
            for name, read in readers.items():
                part = chunk if name != "hospital" else chunk[: max(20, len(chunk) // 5)]  # slower: fewer reads
                t0 = time.perf_counter()
                for i in part:
                    read(i)
                elapsed[name] += time.perf_counter() - t0
                counts[name] += len(part)
        for name in readers:
            results[f"{name}_records_per_s"] = counts[name] / elapsed[name]

    results["ipc_vs_hospital"] = results["ipc_records_per_s"] / results["hospital_records_per_s"]
    results["parquet_vs_hospital"] = results["parquet_records_per_s"] / results["hospital_records_per_s"]
    results["ipc_vs_parquet"] = results["ipc_records_per_s"] / results["parquet_records_per_s"]
    mb = {k: v / 2**20 for k, v in sizes.items()}

    print(f"random access to full records, n={args.n} patients, ECG {args.fs:.0f} Hz x 10 s x 12 leads, "
          f"cine 2x64x64, one core ({platform.processor() or platform.machine()})")
    print(f"{'layout':<34} {'records/s':>10} {'on disk MB':>11} {'vs hospital':>12} {'open s':>8}")
    rows = [("store: Arrow IPC, memory-mapped", "ipc", "ipc"), ("store: Parquet (zstd)", "parquet", "parquet"),
            ("hospital: WFDB + NIfTI per patient", "hospital", "hospital")]
    for label, key, size_key in rows:
        r = results[f"{key}_records_per_s"]
        opened = results.get(f"{key}_open_s", 0.0)
        print(f"{label:<34} {r:>10.0f} {mb[size_key]:>11.1f} {r / results['hospital_records_per_s']:>11.1f}x "
              f"{opened:>8.3f}")
    print("Parquet is decompressed whole when a store is opened (memory grows with the cohort); Arrow IPC is "
          "memory-mapped, so opening is instant and only touched pages are read.")
    out = {"n": args.n, "reads": args.reads, "ecg_fs_hz": args.fs, **{k: round(v, 2) for k, v in results.items()},
           **{f"{k}_mb": round(v, 1) for k, v in mb.items()}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
