"""Clinical notes: ``text`` column (de-identified string), ``(N,)`` token ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec


def example(rng: np.random.Generator) -> str:
    return "Chest pain on exertion. Hx of MI. On atorvastatin."


SPEC = register_modality(ModalitySpec(
    name="text", column="text", arrow_type=pa.string(), transform="nextgen_ml.data.transforms:TextTransform",
    default_encoder="text_transformer_small", example=example, ingest_formats=("fhir",),
    description="de-identified clinical notes", input_shape="(N,) int64", module=__name__,
))  # fmt: skip
