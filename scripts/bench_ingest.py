"""Ingest throughput: each reader alone (files/s, MB/s per format), and the whole pipeline with worker processes.

Usage::

    python scripts/bench_ingest.py [--part readers|workers|all] [--n 20] [--workers 0 1 2] [--patients 16]
        [--repeats 2] [--engine pool|ray]

``readers``: each reader runs on ``--n`` files (VCF: one multi-sample file read ``--n`` times; CSV: one table)
after one warm-up call. ``workers``: ``nextgen-ml ingest``'s pipeline (:func:`nextgen_ml.ingest.pipeline.ingest`,
store written) on a generated export of ``--patients`` patients, each with a WFDB ECG, a FHIR bundle and an
image (echo cine, JPEG, or CT slice), once per ``--workers`` value (0 = in the main process), after one
warm-up run; the best of ``--repeats`` runs counts. Prints readable tables; the LAST line is one JSON object
``{"readers": {format: {...}}, "workers": {"w1": {...}, ..., "speedup_2_vs_1": ..}}``. Wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _timed(paths: list[Path], fn: Callable[[Path], object], size_paths: list[Path] | None = None) -> dict:
    fn(paths[0])  # warm-up: imports, decoder plugins
    start = time.perf_counter()
    for p in paths:
        fn(p)
    seconds = time.perf_counter() - start
    mb = sum(p.stat().st_size for p in (size_paths or paths)) / 1e6
    return {
        "files": len(paths),
        "mb": round(mb, 2),
        "seconds": round(seconds, 3),
        "files_per_s": round(len(paths) / seconds, 1),
        "mb_per_s": round(mb / seconds, 2),
    }


def _copies(src: str, folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        dst = folder / f"{i:04d}{''.join(Path(src).suffixes)}"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


def _wfdb_files(folder: Path, n: int) -> list[Path]:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    for i in range(n):  # 10 s, 12 leads, 500 Hz, format 16
        wfdb.wrsamp(
            f"r{i:04d}",
            fs=500,
            units=["mV"] * 12,
            sig_name=names,
            p_signal=rng.standard_normal((5000, 12)) * 0.3,
            fmt=["16"] * 12,
            write_dir=str(folder),
        )
    return sorted(folder.glob("*.hea"))


def _nifti_files(folder: Path, n: int) -> list[Path]:
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):  # short-axis cine: 128 x 128 x 10 slices x 25 frames, int16
        data = rng.integers(0, 2000, (128, 128, 10, 25), dtype=np.int16)
        img = nib.Nifti1Image(data, np.diag([1.5, 1.5, 8.0, 1.0]))
        img.header.set_xyzt_units("mm", "msec")
        img.header["pixdim"][4] = 40.0
        path = folder / f"{i:04d}.nii.gz"
        nib.save(img, path)
        out.append(path)
    return out


def _vcf(folder: Path, n_samples: int, n_variants: int):
    import pysam

    from nextgen_ml.data.panel import Variant, VariantPanel

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    samples = [f"S{i}" for i in range(n_samples)]
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=100000000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    gts = np.array(["0/0", "0/1", "1/1", "./."])
    variants = []
    for j in range(n_variants):
        pos = 1000 + 50 * j
        calls = gts[rng.choice(4, n_samples, p=[0.5, 0.35, 0.14, 0.01])]
        lines.append(f"1\t{pos}\trs{j}\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(calls))
        if j % 4 == 0:  # the panel holds every 4th variant
            variants.append(Variant(f"rs{j}", "1", pos, "A", "G", "G", 0.3))
    plain = folder / "cohort.vcf"
    plain.write_text("\n".join(lines) + "\n")
    gz = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    return gz, VariantPanel("bench", "GRCh38", tuple(variants)), samples


def _export(folder: Path, n_patients: int) -> Path:
    """A hospital export of ``n_patients`` patients and its manifest: each has a WFDB ECG, a FHIR bundle and an
    image (an echo cine, JPEG, for even patients; a CT slice for odd ones)."""
    import yaml
    from pydicom.data import get_testdata_file

    fixture = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ingest" / "fhir_bundle_r4.json"
    echo = _copies(get_testdata_file("examples_ybr_color.dcm"), folder / "echo", n_patients)
    ct = _copies(get_testdata_file("CT_small.dcm"), folder / "ct", n_patients)
    heads = _wfdb_files(folder / "wfdb", n_patients)
    fhir = _copies(str(fixture), folder / "fhir", n_patients)
    patients = [
        {
            "id": f"MRN-{i:05d}",
            "files": [str(p.relative_to(folder)) for p in ((ct, echo)[i % 2 == 0][i], heads[i], fhir[i])],
        }
        for i in range(n_patients)
    ]
    manifest = folder / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"site": "bench", "patients": patients}, sort_keys=False))
    return manifest


def bench_workers(tmp: Path, n_patients: int, workers: list[int], repeats: int = 2, engine: str = "pool") -> dict:
    """Pipeline files/s per number of worker processes (store written, reports included). ``engine="ray"``: one
    local Ray instance of ``max(workers)`` CPUs is started once, before the timed runs (its start-up is not
    timed), and every run submits its files as Ray tasks."""
    from dataclasses import replace

    from nextgen_ml.ingest.manifest import load_manifest
    from nextgen_ml.ingest.pipeline import ingest

    manifest = load_manifest(_export(tmp / "export", n_patients))
    n_files = sum(len(p.files) for p in manifest.patients)
    key = b"bench-key-0123456789"
    ingest(manifest, tmp / "warm_up", key=key, progress=False)  # imports and decoder plugins, not timed
    if engine == "ray":
        import ray

        ray.init(num_cpus=max(workers), include_dashboard=False, log_to_driver=False, configure_logging=False)
        warm = replace(manifest.options, workers=max(workers), chunk_size=n_patients, engine=engine)
        ingest(manifest, tmp / "warm_up_ray", key=key, options=warm, progress=False)  # Ray's workers start, not timed
    out: dict = {"engine": engine}
    for w in workers:
        opts = replace(manifest.options, workers=w, chunk_size=n_patients, engine=engine)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            report = ingest(manifest, tmp / f"store_w{w}", key=key, options=opts, progress=False)
            times.append(time.perf_counter() - start)
            assert report.counts()["files_quarantined"] == 0, report.summary()
        seconds = min(times)
        out[f"w{w}"] = {
            "workers": w,
            "files": n_files,
            "seconds": round(seconds, 2),
            "files_per_s": round(n_files / seconds, 2),
        }
    if "w1" in out:
        for w in workers:
            if w > 1:
                out[f"speedup_{w}_vs_1"] = round(out[f"w{w}"]["files_per_s"] / out["w1"]["files_per_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("readers", "workers", "all"), default="all")
    parser.add_argument("--n", type=int, default=20, help="files per format (readers)")
    parser.add_argument("--vcf-samples", type=int, default=500)
    parser.add_argument("--vcf-variants", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=16, help="patients of the generated export (workers)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="worker counts to compare")
    parser.add_argument("--repeats", type=int, default=2, help="runs per worker count (the fastest counts)")
    parser.add_argument("--engine", choices=("pool", "ray"), default="pool", help="what runs the workers")
    args = parser.parse_args()
    figures: dict[str, dict] = {}
    if args.part in ("readers", "all"):
        figures["readers"] = bench_readers(args)
    if args.part in ("workers", "all"):
        with tempfile.TemporaryDirectory() as tmp_name:
            figures["workers"] = bench_workers(Path(tmp_name), args.patients, args.workers, args.repeats, args.engine)
        print(f"\n{'workers':<10}{'files':>7}{'s':>9}{'files/s':>10}   (pipeline, {args.patients} patients)")
        for key, r in figures["workers"].items():
            if key.startswith("w") and isinstance(r, dict):
                print(f"{r['workers']:<10}{r['files']:>7}{r['seconds']:>9.2f}{r['files_per_s']:>10.2f}")
        for key, ratio in figures["workers"].items():
            if key.startswith("speedup"):
                print(f"{key}: {ratio}")
    print(json.dumps(figures))


def bench_readers(args: argparse.Namespace) -> dict:
    """Files/s and MB/s of each reader alone (prints its table)."""
    from pydicom.data import get_testdata_file

    from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
    from nextgen_ml.ingest.csv_clinical import read_clinical_csv
    from nextgen_ml.ingest.deid import Pseudonymiser
    from nextgen_ml.ingest.dicom_ecg import read_dicom_ecg
    from nextgen_ml.ingest.dicom_image import read_dicom_image
    from nextgen_ml.ingest.fhir import read_fhir_bundle
    from nextgen_ml.ingest.manifest import CsvSource, IngestOptions
    from nextgen_ml.ingest.nifti import read_nifti
    from nextgen_ml.ingest.vcf import read_vcf_dosages
    from nextgen_ml.ingest.wfdb_ecg import read_wfdb_ecg

    pseudo, opts = Pseudonymiser(b"bench-key-0123456789"), IngestOptions()
    fixture = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ingest" / "fhir_bundle_r4.json"
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        echo = _copies(get_testdata_file("examples_ybr_color.dcm"), tmp / "echo", args.n)
        results["dicom_image_us_cine_jpeg"] = _timed(echo, lambda p: read_dicom_image(p, opts, pseudo))
        ct = _copies(get_testdata_file("CT_small.dcm"), tmp / "ct", args.n)
        results["dicom_image_ct"] = _timed(ct, lambda p: read_dicom_image(p, opts, pseudo))
        ecg = _copies(get_testdata_file("waveform_ecg.dcm"), tmp / "ecg", args.n)
        results["dicom_ecg"] = _timed(ecg, lambda p: read_dicom_ecg(p, opts, pseudo))
        heads = _wfdb_files(tmp / "wfdb", args.n)
        results["wfdb"] = _timed(
            heads, lambda p: read_wfdb_ecg(p, opts, pseudo), size_paths=heads + sorted((tmp / "wfdb").glob("*.dat"))
        )
        nii = _nifti_files(tmp / "nifti", args.n)
        results["nifti_4d"] = _timed(nii, lambda p: read_nifti(p, opts, pseudo))
        vcf, panel, samples = _vcf(tmp / "vcf", args.vcf_samples, args.vcf_variants)
        results["vcf"] = _timed([vcf] * max(1, args.n // 4), lambda p: read_vcf_dosages(p, panel, samples))
        fhir = _copies(str(fixture), tmp / "fhir", args.n)
        results["fhir"] = _timed(fhir, lambda p: read_fhir_bundle(p, pseudo))
        csv = tmp / "clinical.csv"
        rng = np.random.default_rng(0)
        rows = [f"P{i},{'MF'[i % 2]},{1940 + i % 40},{rng.uniform(60, 200):.1f}" for i in range(20 * args.n)]
        csv.write_text("mrn,sex,yob,ldl\n" + "\n".join(rows) + "\n")
        cols = {
            "sex": {"variable": "sex", "values": {"M": "male", "F": "female"}},
            "yob": {"variable": "birth_year"},
            "ldl": {"variable": "ldl", "unit": "mg/dL"},
        }
        source = CsvSource(csv, "mrn", cols, reference_year=2024)
        results["csv"] = _timed([csv], lambda p: read_clinical_csv(source, SYNTHETIC_DICTIONARY))
        results["csv"]["rows_per_s"] = round(len(rows) / results["csv"]["seconds"], 1)

    print(f"{'format':<26}{'files':>7}{'MB':>9}{'s':>9}{'files/s':>10}{'MB/s':>9}")
    for name, r in results.items():
        print(
            f"{name:<26}{r['files']:>7}{r['mb']:>9.2f}{r['seconds']:>9.3f}{r['files_per_s']:>10.1f}{r['mb_per_s']:>9.2f}"
        )
    print(
        f"(vcf: {args.vcf_samples} samples x {args.vcf_variants} records, panel {len(panel)}; "
        f"csv: {len(rows)} rows, {results['csv']['rows_per_s']} rows/s)"
    )
    return {k: {"files_per_s": v["files_per_s"], "mb_per_s": v["mb_per_s"]} for k, v in results.items()}


if __name__ == "__main__":
    main()
