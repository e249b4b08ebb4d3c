"""VCF/BCF genotypes (bgzipped, multi-sample) → dosages over the record's :class:`VariantPanel` (cyvcf2).

Allele matching per panel variant ``(chrom, pos, ref, alt)`` against each VCF record at that position:

* ``match``: VCF REF = panel ref and panel alt among VCF ALTs → dosage = copies of that ALT.
* ``swap``: VCF REF = panel alt and panel ref among ALTs → dosage = copies of the VCF REF (= 2 − d).
* ``flip`` / ``flip_swap``: the same after complementing the panel alleles (other strand).
* ``ambiguous``: A/T or C/G SNPs whose strand cannot be told from the alleles → left missing (NaN).
* ``absent`` / ``mismatch``: no VCF record at the position, or alleles that match neither way → NaN.

Dosages come from the ``DS`` FORMAT field where present (per sample), otherwise from ``GT``; a missing
call (``./.``) without DS is NaN. Chromosome names are compared without a ``chr`` prefix.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.ingest.errors import IngestError

_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")
_AMBIGUOUS = ({"A", "T"}, {"C", "G"})
_BGZF_BLOCK = 1 << 16


@dataclass
class VcfDosages:
    """Dosages read from one VCF for the requested samples.

    Args:
        path: the VCF/BCF file.
        dosages: sample name → ``(V,)`` float32 alt-allele dosages over the panel (NaN = missing).
        status: per panel variant, how it was matched (see module docs).
        n_records: VCF records read.
        other_samples: number of VCF samples not requested (not ingested).
        source: where dosages came from (``DS`` / ``GT``).
        invalid_calls: sample → impossible calls set to NaN (reported, the file is still ingested).
    """

    path: Path
    dosages: dict[str, np.ndarray]
    status: list[str]
    n_records: int = 0
    other_samples: int = 0
    source: dict[str, str] = field(default_factory=dict)
    invalid_calls: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts of match statuses and where dosages came from (for provenance)."""
        return {"match_status": dict(Counter(self.status)), "n_records": self.n_records, **self.source}


def _norm_chrom(chrom: str) -> str:
    return chrom[3:] if chrom.lower().startswith("chr") else chrom


def match_alleles(ref: str, alts: Sequence[str], p_ref: str, p_alt: str) -> tuple[str, int | None]:
    """How a panel variant ``p_ref>p_alt`` maps onto a VCF record's alleles.

    Returns:
        ``(status, allele_index)``: the VCF allele index (0 = REF) whose copies are the panel alt dosage, or
        ``None`` when the variant must be left missing.
    """
    if {p_ref.upper(), p_alt.upper()} in _AMBIGUOUS:
        return "ambiguous", None
    alleles = [ref, *alts]
    flipped = (p_ref.translate(_COMPLEMENT), p_alt.translate(_COMPLEMENT))
    for prefix, (r, a) in (("", (p_ref, p_alt)), ("flip", flipped)):
        if ref == r and a in alts:
            return prefix or "match", alleles.index(a)
        if ref == a and r in alts:
            return f"{prefix}_swap" if prefix else "swap", 0  # panel alt is the VCF REF: count REF copies
    return "mismatch", None


def _records(vcf: Any, path: Path, panel: VariantPanel) -> Iterator[Any]:
    """VCF records at panel positions: region queries when an index exists and the file is much larger than
    the panel (each query decompresses about one 64 KiB BGZF block), else one streaming pass."""
    indexed = any(Path(f"{path}{ext}").exists() for ext in (".tbi", ".csi"))
    if indexed and len(panel) * _BGZF_BLOCK < path.stat().st_size:
        prefix = "chr" if any(s.startswith("chr") for s in vcf.seqnames) else ""
        for v in panel.variants:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "no intervals found": the variant is absent
                try:
                    records = list(vcf(f"{prefix}{v.chrom}:{v.pos}-{v.pos}"))
                except ValueError:  # contig absent from the index
                    continue
            yield from records
    else:
        yield from vcf


def _dosage(variant: Any, allele: int, use_ds: bool) -> tuple[np.ndarray, bool]:
    """``(n_samples,)`` copies of VCF allele ``allele``: DS where present, GT elsewhere; and whether DS was used."""
    gt = variant.genotype.array()[:, :-1].astype(np.int64)  # (samples, ploidy); -1 missing, last col = phased
    counts = (gt == allele).sum(axis=1).astype(np.float64)
    counts[(gt < 0).any(axis=1)] = np.nan
    ds = variant.format("DS") if use_ds else None
    if ds is None:
        return counts, False
    values = np.asarray(ds, dtype=np.float64)  # (samples, n_alt)
    values[values < -1e30] = np.nan  # cyvcf2 missing-value sentinel
    dose = values[:, allele - 1] if allele > 0 else 2.0 - values.sum(axis=1)
    has = np.isfinite(dose)
    return np.where(has, dose, counts), bool(has.any())


def read_vcf_dosages(path: str | os.PathLike, panel: VariantPanel, samples: Sequence[str]) -> VcfDosages:
    """Dosages of ``samples`` over ``panel`` from one VCF/BCF file.

    Args:
        path: ``.vcf``, ``.vcf.gz`` (bgzipped, optionally tabix/csi indexed) or ``.bcf``.
        panel: the record's variant panel.
        samples: VCF sample names to read (others are skipped); names absent from the file are omitted
            from the result.

    Raises:
        IngestError: unreadable file, or not one panel variant found (build / naming mismatch).
    """
    from cyvcf2 import VCF

    path = Path(path)
    try:
        vcf = VCF(str(path), gts012=False, lazy=True, threads=1)
    except Exception as err:  # noqa: BLE001 - cyvcf2 raises a bare Exception for unreadable files
        raise IngestError(path, "<file>", f"unreadable VCF/BCF ({type(err).__name__}: {err})") from None
    in_file = list(vcf.samples)
    present = [s for s in dict.fromkeys(samples) if s in set(in_file)]
    if present:
        vcf.set_samples(present)
        present = list(vcf.samples)  # cyvcf2 keeps the file's sample order, not the requested one
    has_ds = any(h.info().get("HeaderType") == "FORMAT" and h.info().get("ID") == "DS" for h in vcf.header_iter())
    lookup: dict[tuple[str, int], list[int]] = {}
    for j, v in enumerate(panel.variants):
        lookup.setdefault((_norm_chrom(v.chrom), v.pos), []).append(j)
    dosages = np.full((len(present), len(panel)), np.nan)  # (S, V)
    status = ["absent"] * len(panel)
    sources: Counter[str] = Counter()
    n_records = 0
    try:
        for rec in _records(vcf, path, panel):
            n_records += 1
            for j in lookup.get((_norm_chrom(rec.CHROM), rec.POS), []):
                if status[j] not in ("absent", "mismatch"):
                    continue
                v = panel.variants[j]
                how, allele = match_alleles(rec.REF, rec.ALT, v.ref, v.alt)
                status[j] = how
                if allele is not None and present:
                    dosages[:, j], from_ds = _dosage(rec, allele, has_ds)
                    sources["DS" if from_ds else "GT"] += 1
    except Exception as err:  # noqa: BLE001 - htslib errors surface as bare Exceptions
        raise IngestError(path, "<records>", f"truncated or corrupt VCF ({type(err).__name__}: {err})") from None
    finally:
        vcf.close()
    if all(s == "absent" for s in status):
        raise IngestError(path, "panel", f"none of the {len(panel)} panel variants ({panel.name}) is in the file")
    invalid = _drop_impossible(dosages, present, panel)
    return VcfDosages(
        path=path,
        dosages={s: dosages[i].astype(np.float32) for i, s in enumerate(present)},
        status=status,
        n_records=n_records,
        other_samples=len(in_file) - len(present),
        source={"dosage_source": ",".join(sorted(sources)) or "none"},
        invalid_calls=invalid,
    )


def _drop_impossible(dosages: np.ndarray, samples: Sequence[str], panel: VariantPanel) -> dict[str, list[str]]:
    """Set dosages outside [0, 2] (a triploid call, a DS of 3.5) to NaN in place; returns what was dropped.

    One impossible call makes that call missing, not the sample or the file.

    Returns:
        sample → ``"<variant id>: dosage <value> outside [0, 2]"`` per dropped call.
    """
    bad = ~(np.isnan(dosages) | ((dosages >= 0) & (dosages <= 2)))  # (S, V)
    invalid: dict[str, list[str]] = {}
    for s, j in np.argwhere(bad):
        invalid.setdefault(samples[s], []).append(f"{panel.variants[j].id}: dosage {dosages[s, j]:g} outside [0, 2]")
    dosages[bad] = np.nan
    return invalid
