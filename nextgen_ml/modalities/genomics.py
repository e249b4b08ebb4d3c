"""Genotypes over the store's variant panel: ``genotype`` column (dosages), ``(V,)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

ARROW_TYPE = pa.struct([
    pa.field("dosages", pa.list_(pa.float32()), nullable=False),  # alt-allele dosage per panel variant
    pa.field("prs", pa.float32()),  # polygenic risk score (standardised)
])  # fmt: skip


def example(rng: np.random.Generator) -> dict[str, Any]:
    return {"dosages": [0.0, 1.0, 2.0, float("nan")], "prs": float(rng.normal())}


def example_panel() -> Any:
    """The four-variant panel :func:`example` dosages refer to."""
    from nextgen_ml.data.panel import Variant, VariantPanel

    genes = ("LDLR", "PCSK9", "MYH7", "TTN")
    return VariantPanel("example", "GRCh38", tuple(
        Variant(f"rs{i + 1}", str(i + 1), 100 * (i + 1), "A", "G", g, 0.1, kind="rare" if i > 1 else "common")
        for i, g in enumerate(genes)))  # fmt: skip


def context(store: Any) -> dict[str, Any]:
    """The transform reads dosages over the store's variant panel (no store: the example panel)."""
    if store is None:
        return {"panel": example_panel()}
    if store.panel is None:
        raise ValueError(f"data_dir: store {store.path} has no variant panel in its metadata")
    return {"panel": store.panel}


SPEC = register_modality(ModalitySpec(
    name="genomics", column="genotype", arrow_type=ARROW_TYPE,
    transform="nextgen_ml.data.transforms:GenomicsTransform", default_encoder="genomics_variant_embed",
    validate="nextgen_ml.data.validate:check_genotype", example=example, transform_context=context,
    ingest_formats=("vcf",), description="genotype dosages over a declared variant panel", input_shape="(V,) float32",
    module=__name__,
))  # fmt: skip
