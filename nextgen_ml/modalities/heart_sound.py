"""Heart sounds (phonocardiograms per auscultation site): ``heart_sound`` column, ``(S, N)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

ARROW_TYPE = pa.struct([
    pa.field("signal", pa.binary(), nullable=False),  # int16 PCM, (n_sites, n_samples)
    pa.field("sites", pa.list_(pa.string()), nullable=False),  # auscultation site per row
    pa.field("fs_hz", pa.float32(), nullable=False),
    pa.field("n_samples", pa.int32(), nullable=False),
])  # fmt: skip


def example(rng: np.random.Generator) -> dict[str, Any]:
    from nextgen_ml.data.codec import encode_heart_sound

    return encode_heart_sound(rng.uniform(-0.5, 0.5, (4, 4000)), 1000.0, ["AV", "PV", "TV", "MV"])


SPEC = register_modality(ModalitySpec(
    name="heart_sound", column="heart_sound", arrow_type=ARROW_TYPE,
    transform="nextgen_ml.data.sensor_transforms:HeartSoundTransform", default_encoder="heart_sound_cnn1d",
    validate="nextgen_ml.data.validate:check_heart_sound", example=example, ingest_formats=("wav",),
    description="phonocardiograms per auscultation site", input_shape="(S, N) float32", module=__name__,
))  # fmt: skip
