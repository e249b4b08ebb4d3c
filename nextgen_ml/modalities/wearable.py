"""Wearable sensor streams: ``wearable`` column (channels of segments with gaps), ``(2C + 2, T)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

_CHANNEL = pa.struct([
    pa.field("name", pa.string(), nullable=False),  # e.g. heart_rate, hrv_rmssd, activity, ppg
    pa.field("units", pa.string(), nullable=False),  # UCUM, e.g. "/min", "ms", "1"
    pa.field("fs_hz", pa.float32(), nullable=False),  # sampling rate inside each segment
    pa.field("segment_start_s", pa.list_(pa.float64()), nullable=False),  # seconds from the recording start
    pa.field("segment_length", pa.list_(pa.int32()), nullable=False),  # samples per segment
    pa.field("values", pa.binary(), nullable=False),  # float32, segments concatenated
])  # fmt: skip
ARROW_TYPE = pa.struct([
    pa.field("channels", pa.list_(_CHANNEL), nullable=False),
    pa.field("duration_s", pa.float64(), nullable=False),  # recording span (gaps included)
    pa.field("start_hour", pa.float32()),  # local time of day at the start, hours (no date)
    pa.field("device", pa.string()),
])  # fmt: skip


def example(rng: np.random.Generator) -> dict[str, Any]:
    from nextgen_ml.data.codec import encode_wearable, encode_wearable_channel

    hr = encode_wearable_channel("heart_rate", "/min", 1 / 60, [(0.0, 70 + rng.normal(0, 3, 600))])
    return encode_wearable([hr], duration_s=36000.0, start_hour=8.0)


SPEC = register_modality(ModalitySpec(
    name="wearable", column="wearable", arrow_type=ARROW_TYPE,
    transform="nextgen_ml.data.sensor_transforms:WearableTransform", default_encoder="wearable_stats_pool",
    validate="nextgen_ml.data.validate:check_wearable", example=example, ingest_formats=("wearable",),
    description="wearable sensor streams (heart rate, HRV, activity)", input_shape="(2C + 2, T) float32",
    module=__name__,
))  # fmt: skip
