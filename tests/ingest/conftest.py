"""Source files for the ingest tests: real files shipped by pydicom / nibabel plus small generated ones."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nextgen_ml.data.panel import Variant, VariantPanel
from nextgen_ml.ingest.deid import KEY_ENV, Pseudonymiser
from nextgen_ml.ingest.manifest import IngestOptions

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
TEST_KEY = b"test-key-not-a-secret-0123456789"
LIMB_AND_CHEST = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


@pytest.fixture(autouse=True)
def _ingest_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, TEST_KEY.decode())


@pytest.fixture
def pseudo() -> Pseudonymiser:
    return Pseudonymiser(TEST_KEY)


@pytest.fixture
def options() -> IngestOptions:
    return IngestOptions()


def pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not available offline")
    return Path(path)


def write_wfdb(folder: Path, name: str, signal_mv: np.ndarray, leads: list[str], fs: float = 250.0) -> Path:
    """Write a WFDB record (format 16, mV); returns the header path."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(leads),
        sig_name=leads,
        p_signal=signal_mv,
        fmt=["16"] * len(leads),
        adc_gain=[1000.0] * len(leads),
        baseline=[0] * len(leads),
        write_dir=str(folder),
    )
    return folder / f"{name}.hea"


def einthoven_ecg(n: int = 1000, fs: float = 250.0, seed: int = 0) -> np.ndarray:
    """(n, 12) mV signal whose limb leads obey Einthoven/Goldberger exactly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    lead_i = 0.6 * np.sin(2 * np.pi * 1.2 * t) + 0.05 * rng.standard_normal(n)
    lead_ii = 1.0 * np.sin(2 * np.pi * 1.2 * t + 0.3) + 0.05 * rng.standard_normal(n)
    lead_i, lead_ii = np.round(lead_i / 0.002) * 0.002, np.round(lead_ii / 0.002) * 0.002  # even µV
    limbs = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    chest = [np.round(0.3 * (k + 1) * np.sin(2 * np.pi * 1.2 * t + k), 3) for k in range(6)]
    return np.stack(limbs + chest, axis=1)  # (n, 12) mV, every lead on the 1 µV grid


#: Panel variant → VCF line alleles, chosen to exercise every matching rule.
PANEL = VariantPanel(
    "test_panel",
    "GRCh38",
    (
        Variant("rs1", "1", 1000, "A", "G", "G1", 0.3),  # match
        Variant("rs2", "1", 2000, "C", "T", "G1", 0.2),  # VCF has T>C: swap → 2 - d
        Variant("rs3", "2", 3000, "A", "C", "G2", 0.1),  # VCF has T>G: strand flip
        Variant("rs4", "2", 4000, "A", "T", "G2", 0.4),  # A/T: ambiguous → NaN
        Variant("rs5", "3", 5000, "G", "A", "G3", 0.1),  # DS field present → DS used
        Variant("rs6", "3", 6000, "C", "G", "G3", 0.1),  # absent from the VCF → NaN
        Variant("rs7", "4", 7000, "G", "C", "G4", 0.1),  # C>G panel vs VCF: ambiguous
        Variant("rs8", "5", 8000, "T", "A", "G5", 0.1),  # A/T ambiguous even though it matches
    ),
)

VCF_TEXT = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=10000>
##contig=<ID=chr2,length=10000>
##contig=<ID=chr3,length=10000>
##contig=<ID=chr4,length=10000>
##contig=<ID=chr5,length=10000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="Alt dosage">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4
chr1\t1000\trs1\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\t1|1\t./.
chr1\t2000\trs2\tT\tC\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1\t0/1
chr2\t3000\trs3\tT\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\t0/0
chr2\t4000\trs4\tA\tT\t.\tPASS\t.\tGT\t0/1\t0/1\t0/1\t0/1
chr3\t5000\trs5\tG\tA\t.\tPASS\t.\tGT:DS\t0/1:0.9\t1/1:1.8\t0/0:0.1\t0/0:.
chr4\t7000\trs7\tG\tC\t.\tPASS\t.\tGT\t0/1\t0/1\t0/1\t0/1
chr5\t8000\trs8\tT\tA\t.\tPASS\t.\tGT\t0/1\t0/1\t0/1\t0/1
chr5\t9000\trsX\tC\tA\t.\tPASS\t.\tGT\t0/1\t0/1\t0/1\t0/1
"""


def write_vcf(folder: Path, text: str = VCF_TEXT, name: str = "cohort.vcf") -> Path:
    """bgzip + tabix-index a VCF with pysam; returns the ``.vcf.gz`` path."""
    import pysam

    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / name
    plain.write_text(text)
    gz = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    return gz


def write_panel(folder: Path, panel: VariantPanel = PANEL) -> Path:
    path = folder / "panel.json"
    path.write_text(panel.to_json())
    return path


def copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def truncate(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def garbage(dst: Path, n: int = 4096, seed: int = 1) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return dst


def fhir_fixture() -> Path:
    return FIXTURES / "fhir_bundle_r4.json"


def json_dump(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


os.environ.setdefault("HF_HUB_OFFLINE", "1")
