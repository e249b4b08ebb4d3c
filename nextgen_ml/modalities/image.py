"""Cardiac imaging (MRI/CT/echo cine): ``image`` column, raw pixels + geometry, ``(F, [D,] H, W)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

ARROW_TYPE = pa.struct([
    pa.field("pixels", pa.binary(), nullable=False),
    pa.field("shape", pa.list_(pa.int32()), nullable=False),  # (frames, [D,] H, W)
    pa.field("dtype", pa.string(), nullable=False),
    pa.field("spacing_mm", pa.list_(pa.float32()), nullable=False),  # ([D,] H, W) spacing
    pa.field("modality", pa.string(), nullable=False),  # DICOM modality: MR, CT, US
    pa.field("view", pa.string()),  # e.g. "SAX" short-axis
    pa.field("frame_time_ms", pa.float32()),  # time between cine frames
    pa.field("frame_labels", pa.list_(pa.string())),  # e.g. ["ED", "ES"]
])  # fmt: skip


def example(rng: np.random.Generator) -> dict[str, Any]:
    from nextgen_ml.data.codec import encode_image

    return encode_image(rng.integers(0, 255, (2, 32, 32), dtype=np.uint8), [1.5, 1.5])


SPEC = register_modality(ModalitySpec(
    name="image", column="image", arrow_type=ARROW_TYPE, transform="nextgen_ml.data.transforms:ImageTransform",
    default_encoder="image_resnet18", validate="nextgen_ml.data.validate:check_image", example=example,
    ingest_formats=("dicom", "dicom_image", "nifti"), description="cardiac cine imaging (MR, CT, US)",
    input_shape="(F, H, W) or (F, D, H, W) float32", module=__name__,
))  # fmt: skip
