"""The variant panel and genotype dosages: common PRS SNPs plus rare high-effect cardiac variants.

Coordinates and alleles are synthetic (the genes are real, the positions are not); allele frequencies of the
rare variants are enriched, as in a cardiology referral cohort, so that carriers occur in cohorts of a few
thousand (see ``docs/cohort.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nextgen_ml.data.panel import Variant, VariantPanel

PANEL_NAME = "nextgen_ml-synthetic-cardio-64"

#: Common-variant CAD PRS genes and their chromosomes (4 SNPs each).
_PRS_GENES: tuple[tuple[str, str], ...] = (
    ("CDKN2B-AS1", "9"), ("LPA", "6"), ("SORT1", "1"), ("APOE", "19"), ("PHACTR1", "6"), ("MIA3", "1"),
    ("CXCL12", "10"), ("ADAMTS7", "15"), ("SH2B3", "12"), ("TCF21", "6"), ("ABO", "9"), ("SMAD3", "15"),
)

#: Rare high-effect variants: (gene, chromosome, number of variants, alt-allele frequency each).
_RARE_GENES: tuple[tuple[str, str, int, float], ...] = (
    ("LDLR", "19", 3, 0.0025), ("APOB", "2", 2, 0.0025), ("PCSK9", "1", 1, 0.0025),
    ("MYH7", "14", 2, 0.0025), ("MYBPC3", "11", 2, 0.0025),
    ("TTN", "2", 2, 0.006),
    ("KCNQ1", "11", 2, 0.004), ("KCNH2", "7", 1, 0.004), ("SCN5A", "3", 1, 0.004),
)

#: Monogenic condition → genes whose rare variants cause it.
RARE_GROUPS: dict[str, tuple[str, ...]] = {
    "fh": ("LDLR", "APOB", "PCSK9"),  # familial hypercholesterolaemia
    "hcm": ("MYH7", "MYBPC3"),  # hypertrophic cardiomyopathy
    "dcm": ("TTN",),  # dilated cardiomyopathy (TTN truncating)
    "lqt": ("KCNQ1", "KCNH2", "SCN5A"),  # congenital long-QT syndrome
}

_BASES = ("A", "C", "G", "T")


def build_panel() -> VariantPanel:
    """The fixed 64-variant panel (48 common PRS SNPs, 16 rare variants); identical on every call."""
    rng = np.random.default_rng(20240601)
    variants: list[Variant] = []
    for gene, chrom in _PRS_GENES:
        for _ in range(4):
            pos = int(rng.integers(1_000_000, 150_000_000))
            ref, alt = rng.choice(_BASES, size=2, replace=False)
            af = float(np.round(rng.uniform(0.1, 0.5), 3))
            weight = float(np.round(rng.uniform(0.04, 0.16), 3))
            variants.append(Variant(f"{chrom}:{pos}:{ref}:{alt}", chrom, pos, str(ref), str(alt), gene, af,
                                    "common", weight))
    for gene, chrom, count, af in _RARE_GENES:
        for _ in range(count):
            pos = int(rng.integers(1_000_000, 150_000_000))
            ref, alt = rng.choice(_BASES, size=2, replace=False)
            variants.append(Variant(f"{chrom}:{pos}:{ref}:{alt}", chrom, pos, str(ref), str(alt), gene, af, "rare"))
    return VariantPanel(PANEL_NAME, "GRCh38", tuple(variants))


def _panel_arrays(panel: VariantPanel) -> tuple[np.ndarray, np.ndarray]:
    af = np.array([v.af for v in panel.variants])
    weight = np.array([v.weight if v.kind == "common" else 0.0 for v in panel.variants])
    return af, weight


def sample_dosages(rng: np.random.Generator, panel: VariantPanel, n: int) -> np.ndarray:
    """Hardy–Weinberg alt-allele dosages (Binomial(2, AF)), shape ``(n, V)`` float32."""
    af, _ = _panel_arrays(panel)
    return rng.binomial(2, af, size=(n, len(af))).astype(np.float32)


def polygenic_score(dosages: np.ndarray, panel: VariantPanel) -> np.ndarray:
    """Standardised PRS ``sum_j w_j g_j`` under HWE; missing calls (NaN) are imputed with ``2 AF``.

    Args:
        dosages: ``(N, V)`` dosages over ``panel``.
        panel: the variant panel.

    Returns:
        ``(N,)`` PRS with mean 0 and SD 1 in the reference population.
    """
    af, weight = _panel_arrays(panel)
    filled = np.where(np.isnan(dosages), 2 * af, dosages)
    mean = float(np.sum(2 * af * weight))
    sd = float(np.sqrt(np.sum(2 * af * (1 - af) * weight**2)))
    return ((filled @ weight) - mean) / sd


def carriers(dosages: np.ndarray, panel: VariantPanel) -> dict[str, np.ndarray]:
    """Carrier status per monogenic condition in :data:`RARE_GROUPS`, each ``(N,)`` bool."""
    genes = np.array([v.gene for v in panel.variants])
    rare = np.array([v.kind == "rare" for v in panel.variants])
    out = {}
    for group, group_genes in RARE_GROUPS.items():
        cols = rare & np.isin(genes, group_genes)
        out[group] = np.nan_to_num(dosages[:, cols]).sum(axis=1) > 0
    return out


def genotype_structs(
    rng: np.random.Generator,
    dosages: np.ndarray,
    panel: VariantPanel,
    present: np.ndarray,
    call_missing: float,
) -> list[dict[str, Any] | None]:
    """``genotype`` structs: dosages with a few missing calls (NaN) and the PRS computed from them.

    Args:
        rng: random generator.
        dosages: ``(N, V)`` true dosages.
        panel: the variant panel.
        present: ``(N,)`` bool, False where the patient was not genotyped (null struct).
        call_missing: probability that a single call is missing.
    """
    observed = np.where(rng.random(dosages.shape) < call_missing, np.nan, dosages).astype(np.float32)
    prs = polygenic_score(observed, panel)
    return [
        {"dosages": observed[i].tolist(), "prs": float(prs[i])} if present[i] else None
        for i in range(len(dosages))
    ]
