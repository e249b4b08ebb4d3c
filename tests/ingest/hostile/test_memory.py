"""Peak memory on headers that claim hundreds of GiB stays within 2x of an ordinary ingest of real files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import yaml

from nextgen_ml.cli import main

from ..conftest import copy, pydicom_file

_GIB = 1 << 30


def _claim_dicom(src: str, dst: Path, rows: int, columns: int, frames: int) -> int:
    """Copy a real (compressed or not) DICOM with a header that lies about its size; returns the claim in bytes."""
    ds = pydicom.dcmread(pydicom_file(src))
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst, enforce_file_format=False)
    return rows * columns * frames * int(ds.get("SamplesPerPixel") or 1) * 4


def _claim_nifti(dst: Path, shape: tuple[int, ...]) -> int:
    img = nib.Nifti1Image(np.ones((2, 2, 2), np.float32), np.eye(4))
    img.header.set_data_shape(shape)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(img.header.binaryblock + bytes(4) + np.ones(8, np.float32).tobytes())
    return int(np.prod(shape)) * 4


def _peak(export: Path, files: list[str], out: Path) -> int:
    patients = [{"id": f"P{k}", "files": [f]} for k, f in enumerate(files)]
    (export / "manifest.yaml").write_text(yaml.safe_dump({"site": "m", "patients": patients}))
    tracemalloc.start()
    try:
        assert main(["ingest", str(export / "manifest.yaml"), "--out", str(out), "--no-progress"]) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_claims_peak_within_twice_a_normal_ingest(tmp_path):
    export = tmp_path / "export"
    copy(pydicom_file("CT_small.dcm"), export / "ct.dcm")
    copy(pydicom_file("JPEG2000.dcm"), export / "j2k.dcm")
    nib.save(nib.Nifti1Image(np.ones((64, 64, 16), np.float32), np.eye(4)), str(export / "mr.nii.gz"))
    claims = [
        _claim_dicom("JPEG2000.dcm", export / "j2k_claim.dcm", 65535, 65535, 500),
        _claim_dicom("CT_small.dcm", export / "ct_claim.dcm", 65535, 65535, 100),
        _claim_nifti(export / "mr_claim.nii", (4096, 4096, 4096, 300)),
    ]
    assert min(claims) > 100 * _GIB
    _peak(export, ["ct.dcm"], tmp_path / "warm")  # imports and caches outside the measurement
    normal = _peak(export, ["ct.dcm", "j2k.dcm", "mr.nii.gz"], tmp_path / "normal")
    hostile = _peak(export, ["j2k_claim.dcm", "ct_claim.dcm", "mr_claim.nii"], tmp_path / "hostile")
    print(f"peak traced memory: normal {normal / 2**20:.1f} MiB, hostile claims {hostile / 2**20:.1f} MiB")
    assert hostile <= 2 * normal, (hostile, normal)
