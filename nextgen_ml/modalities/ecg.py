"""12-lead ECG: ``ecg`` column, int16 µV payload, band-passed and standardised ``(L, T)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

ARROW_TYPE = pa.struct([
    pa.field("signal", pa.binary(), nullable=False),  # int16 µV, (n_leads, n_samples)
    pa.field("leads", pa.list_(pa.string()), nullable=False),
    pa.field("fs_hz", pa.float32(), nullable=False),
    pa.field("n_samples", pa.int32(), nullable=False),
    pa.field("units", pa.string(), nullable=False),  # UCUM, "uV"
])  # fmt: skip


def example(rng: np.random.Generator) -> dict[str, Any]:
    from nextgen_ml.data.codec import encode_ecg

    return encode_ecg(rng.normal(0, 100, (12, 1000)), 100.0)


SPEC = register_modality(ModalitySpec(
    name="ecg", column="ecg", arrow_type=ARROW_TYPE, transform="nextgen_ml.data.transforms:EcgTransform",
    default_encoder="ecg_xresnet1d_small", validate="nextgen_ml.data.validate:check_ecg", example=example,
    ingest_formats=("dicom_ecg", "wfdb"), description="12-lead resting ECG", input_shape="(L, T) float32",
    module=__name__,
))  # fmt: skip
