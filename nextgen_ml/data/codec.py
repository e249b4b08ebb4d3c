"""Encode numpy payloads into record structs and decode them back.

These are the only functions that know the binary layout of ``ecg.signal`` and ``image.pixels``
(see :mod:`nextgen_ml.data.schema`). Decoding is zero-copy where the dtype allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nextgen_ml.data.schema import ECG_LEADS

_IMAGE_DTYPES = {"uint8", "uint16", "int16", "float32"}


def encode_ecg(signal_uv: np.ndarray, fs_hz: float, leads: Sequence[str] = ECG_LEADS) -> dict[str, Any]:
    """Pack an ECG into the ``ecg`` struct.

    Args:
        signal_uv: ``(n_leads, n_samples)`` in microvolts; rounded and clipped to int16.
        fs_hz: sampling rate in Hz.
        leads: lead names, one per row.
    """
    signal_uv = np.asarray(signal_uv)
    if signal_uv.ndim != 2 or signal_uv.shape[0] != len(leads):
        raise ValueError(f"ecg signal must be (n_leads={len(leads)}, n_samples), got {signal_uv.shape}")
    if not np.isfinite(signal_uv).all():
        raise ValueError("ecg signal contains NaN or infinite samples")
    packed = np.clip(np.rint(signal_uv), -32768, 32767).astype("<i2")
    return {
        "signal": packed.tobytes(),
        "leads": list(leads),
        "fs_hz": float(fs_hz),
        "n_samples": int(signal_uv.shape[1]),
        "units": "uV",
    }


def decode_ecg(ecg: dict[str, Any]) -> np.ndarray:
    """``(n_leads, n_samples)`` float32 millivolts from an ``ecg`` struct."""
    n_leads, n_samples = len(ecg["leads"]), int(ecg["n_samples"])
    raw = np.frombuffer(ecg["signal"], dtype="<i2")
    if raw.size != n_leads * n_samples:
        raise ValueError(f"ecg.signal holds {raw.size} samples, expected {n_leads}x{n_samples}")
    return raw.reshape(n_leads, n_samples).astype(np.float32) / 1000.0


def encode_image(
    pixels: np.ndarray,
    spacing_mm: Sequence[float],
    modality: str = "MR",
    view: str | None = "SAX",
    frame_time_ms: float | None = None,
    frame_labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Pack a cine image into the ``image`` struct.

    Args:
        pixels: ``(frames, H, W)`` or ``(frames, D, H, W)``; dtype one of uint8, uint16, int16, float32.
        spacing_mm: spatial spacing for the trailing ``[D,] H, W`` axes.
        modality: DICOM modality code (MR, CT, US).
        view: acquisition view, e.g. ``"SAX"``.
        frame_time_ms: time between frames.
        frame_labels: optional name per frame (``"ED"``, ``"ES"``).
    """
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype.name not in _IMAGE_DTYPES:
        raise ValueError(f"image dtype must be one of {sorted(_IMAGE_DTYPES)}, got {pixels.dtype}")
    if pixels.ndim not in (3, 4):
        raise ValueError(f"image pixels must be (frames, H, W) or (frames, D, H, W), got {pixels.shape}")
    if len(spacing_mm) != pixels.ndim - 1:
        raise ValueError(f"spacing_mm needs {pixels.ndim - 1} values for shape {pixels.shape}")
    return {
        "pixels": pixels.astype(pixels.dtype.newbyteorder("<")).tobytes(),
        "shape": list(pixels.shape),
        "dtype": pixels.dtype.name,
        "spacing_mm": [float(s) for s in spacing_mm],
        "modality": modality,
        "view": view,
        "frame_time_ms": None if frame_time_ms is None else float(frame_time_ms),
        "frame_labels": None if frame_labels is None else list(frame_labels),
    }


def decode_image(image: dict[str, Any]) -> np.ndarray:
    """Pixels of an ``image`` struct as a read-only array of its stored dtype and shape."""
    shape = tuple(int(s) for s in image["shape"])
    dtype = np.dtype(image["dtype"]).newbyteorder("<")
    raw = np.frombuffer(image["pixels"], dtype=dtype)
    if raw.size != int(np.prod(shape)):
        raise ValueError(f"image.pixels holds {raw.size} values, expected shape {shape}")
    return raw.reshape(shape)
