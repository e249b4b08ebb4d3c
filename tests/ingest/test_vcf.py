"""Multi-sample bgzipped VCF → panel dosages, checked against an independent reader (pysam)."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from nextgen_ml.data.panel import Variant, VariantPanel
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.vcf import match_alleles, read_vcf_dosages

from .conftest import PANEL, VCF_TEXT, garbage, write_vcf

NAN = np.nan
EXPECTED = {  # per panel variant rs1..rs8, samples S1..S4
    "S1": [0, 2, 1, NAN, 0.9, NAN, NAN, NAN],
    "S2": [1, 1, 2, NAN, 1.8, NAN, NAN, NAN],
    "S3": [2, 0, 0, NAN, 0.1, NAN, NAN, NAN],
    "S4": [NAN, 1, 0, NAN, 0.0, NAN, NAN, NAN],
}


def test_dosages_follow_matching_rules(tmp_path):
    result = read_vcf_dosages(write_vcf(tmp_path), PANEL, ["S1", "S2", "S3", "S4", "S9"])
    assert result.status == ["match", "swap", "flip", "ambiguous", "match", "absent", "ambiguous", "ambiguous"]
    assert set(result.dosages) == {"S1", "S2", "S3", "S4"}  # S9 is not in the file
    for sample, expected in EXPECTED.items():
        np.testing.assert_allclose(result.dosages[sample], expected, atol=1e-6, err_msg=sample)
    assert result.source["dosage_source"] == "DS,GT"


def test_genotype_calls_match_pysam(tmp_path):
    path = write_vcf(tmp_path)
    result = read_vcf_dosages(path, PANEL, ["S4", "S2", "S1", "S3"])
    index = {(v.chrom, v.pos): j for j, v in enumerate(PANEL.variants)}
    checked = 0
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            j = index.get((rec.chrom.removeprefix("chr"), rec.pos))
            if j is None or result.status[j] not in ("match", "swap", "flip"):
                continue
            for name, sample in rec.samples.items():
                if "DS" in sample and sample["DS"] and sample["DS"][0] is not None:
                    continue
                alleles = sample["GT"]
                got = result.dosages[name][j]
                if None in alleles:
                    assert np.isnan(got)
                    continue
                alt_copies = sum(a == 1 for a in alleles)
                want = 2 - alt_copies if result.status[j] == "swap" else alt_copies
                assert got == want, (name, PANEL.variants[j].id)
                checked += 1
    assert checked == 12  # 3 + 4 + 4 GT calls, plus S4 of rs5 whose DS is missing


def test_only_requested_samples_and_unindexed_plain_vcf(tmp_path):
    plain = tmp_path / "plain.vcf"
    plain.write_text(VCF_TEXT)
    result = read_vcf_dosages(plain, PANEL, ["S3"])
    assert list(result.dosages) == ["S3"] and result.other_samples == 3
    np.testing.assert_allclose(result.dosages["S3"], EXPECTED["S3"], atol=1e-6)


@pytest.mark.parametrize(
    ("ref", "alts", "p_ref", "p_alt", "status", "allele"),
    [
        ("A", ["G"], "A", "G", "match", 1),
        ("G", ["A"], "A", "G", "swap", 0),
        ("T", ["C"], "A", "G", "flip", 1),
        ("C", ["T"], "A", "G", "flip_swap", 0),
        ("A", ["C", "G"], "A", "G", "match", 2),
        ("A", ["T"], "A", "T", "ambiguous", None),
        ("A", ["C"], "A", "G", "mismatch", None),
    ],
)
def test_match_alleles(ref, alts, p_ref, p_alt, status, allele):
    assert match_alleles(ref, alts, p_ref, p_alt) == (status, allele)


def test_panel_mismatch_and_corrupt_files_raise(tmp_path):
    other = VariantPanel("other", "GRCh37", (Variant("rsZ", "7", 123, "A", "G", "X", 0.1),))
    with pytest.raises(IngestError, match="panel"):
        read_vcf_dosages(write_vcf(tmp_path), other, ["S1"])
    with pytest.raises(IngestError):
        read_vcf_dosages(garbage(tmp_path / "junk.vcf.gz"), PANEL, ["S1"])
    truncated = tmp_path / "cut.vcf"
    truncated.write_text(VCF_TEXT[: VCF_TEXT.index("chr2\t3000")] + "chr2\t3000\trs3\tT")
    with pytest.raises(IngestError):
        read_vcf_dosages(truncated, PANEL, ["S1"])


def test_indexed_region_queries_give_the_same_dosages(tmp_path, monkeypatch):
    import nextgen_ml.ingest.vcf as vcf_module

    path = write_vcf(tmp_path)
    streamed = read_vcf_dosages(path, PANEL, list(EXPECTED))
    monkeypatch.setattr(vcf_module, "_BGZF_BLOCK", 1)  # force tabix region queries on this small file
    queried = read_vcf_dosages(path, PANEL, list(EXPECTED))
    assert queried.status == streamed.status and queried.n_records < streamed.n_records
    for sample in EXPECTED:
        np.testing.assert_array_equal(queried.dosages[sample], streamed.dosages[sample])
