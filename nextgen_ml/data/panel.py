"""The declared variant panel that ``genotype.dosages`` is indexed by.

The panel is dataset metadata (stored once in the store's ``_metadata.json``), not per record: dosage ``j``
of every record is the alternate-allele dosage (0–2, NaN for a missing call) of ``panel.variants[j]``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Variant:
    """One bi-allelic variant of the panel (GRCh38 coordinates).

    Args:
        id: variant id (rsID or ``chrom:pos:ref:alt``).
        chrom: chromosome without ``chr`` prefix.
        pos: 1-based position.
        ref: reference allele.
        alt: alternate allele (the counted allele).
        gene: gene symbol the variant is assigned to (used to group variants into tokens).
        af: alternate-allele frequency in the reference population.
        kind: ``"common"`` (PRS contributor) or ``"rare"`` (high-effect, monogenic).
        weight: PRS weight (log-odds per alt allele) for common variants; 0 for rare ones.
    """

    id: str
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str
    af: float
    kind: str = "common"
    weight: float = 0.0


@dataclass(frozen=True)
class VariantPanel:
    """An ordered tuple of :class:`Variant` with a name and genome build."""

    name: str
    build: str
    variants: tuple[Variant, ...]

    def __len__(self) -> int:
        return len(self.variants)

    @property
    def genes(self) -> tuple[str, ...]:
        """Distinct genes in first-seen order."""
        return tuple(dict.fromkeys(v.gene for v in self.variants))

    def gene_index(self) -> list[int]:
        """Index into :attr:`genes` for every variant, shape ``(V,)``."""
        lookup = {g: i for i, g in enumerate(self.genes)}
        return [lookup[v.gene] for v in self.variants]

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "build": self.build, "variants": [asdict(v) for v in self.variants]})

    @classmethod
    def from_json(cls, text: str) -> VariantPanel:
        obj = json.loads(text)
        return cls(obj["name"], obj["build"], tuple(Variant(**v) for v in obj["variants"]))
