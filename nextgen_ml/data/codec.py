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


def _unpack_int16(buf: bytes, n_rows: int, n_samples: int, field: str) -> np.ndarray:
    """``(n_rows, n_samples)`` float32 from little-endian int16 bytes; the error names ``field``."""
    raw = np.frombuffer(buf, dtype="<i2")
    if raw.size != n_rows * n_samples:
        raise ValueError(f"{field} holds {raw.size} samples, expected {n_rows}x{n_samples}")
    return raw.reshape(n_rows, n_samples).astype(np.float32)


def decode_ecg(ecg: dict[str, Any]) -> np.ndarray:
    """``(n_leads, n_samples)`` float32 millivolts from an ``ecg`` struct."""
    return _unpack_int16(ecg["signal"], len(ecg["leads"]), int(ecg["n_samples"]), "ecg.signal") / 1000.0


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


def encode_heart_sound(audio: np.ndarray, fs_hz: float, sites: Sequence[str]) -> dict[str, Any]:
    """Pack phonocardiogram audio into the ``heart_sound`` struct.

    Args:
        audio: ``(n_sites, n_samples)``: float in ``[-1, 1]`` (full scale; clipped) or int16 PCM.
        fs_hz: sampling rate in Hz (> 0).
        sites: auscultation site per row (e.g. ``"AV"``, ``"MV"``; see ``schema.AUSCULTATION_SITES``).
    """
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] != len(sites) or audio.shape[1] == 0:
        raise ValueError(f"heart_sound audio must be (n_sites={len(sites)}, n_samples>0), got {audio.shape}")
    if not fs_hz > 0:
        raise ValueError(f"heart_sound fs_hz must be positive, got {fs_hz}")
    if audio.dtype == np.int16:
        packed = audio.astype("<i2")
    else:
        if not np.isfinite(audio).all():
            raise ValueError("heart_sound audio contains NaN or infinite samples")
        packed = np.clip(np.rint(audio * 32768.0), -32768, 32767).astype("<i2")  # inverse of decode_heart_sound
    return {"signal": packed.tobytes(), "sites": list(sites), "fs_hz": float(fs_hz), "n_samples": int(audio.shape[1])}


def decode_heart_sound(heart_sound: dict[str, Any]) -> np.ndarray:
    """``(n_sites, n_samples)`` float32 audio in ``[-1, 1)`` from a ``heart_sound`` struct."""
    return _unpack_int16(heart_sound["signal"], len(heart_sound["sites"]), int(heart_sound["n_samples"]),
                         "heart_sound.signal") / 32768.0


def encode_wearable_channel(
    name: str, units: str, fs_hz: float, segments: Sequence[tuple[float, np.ndarray]]
) -> dict[str, Any]:
    """One channel of the ``wearable`` struct from its contiguous, regularly sampled segments.

    Args:
        name: channel name (``heart_rate``, ``hrv_rmssd``, ``activity``, ``ppg``, ``acc_x`` ...).
        units: UCUM unit of the values (``"/min"``, ``"ms"``, ``"1"``, ``"m/s2"``).
        fs_hz: sampling rate inside every segment (> 0).
        segments: ``(start_s, values)`` pairs: start in seconds from the recording start, ``values`` ``(n,)``
            finite; gaps are the time between segments (never NaN samples). Sorted and non-overlapping.
    """
    if not fs_hz > 0:
        raise ValueError(f"wearable channel {name!r}: fs_hz must be positive, got {fs_hz}")
    starts, lengths, chunks = [], [], []
    end = -np.inf
    for start, values in sorted(segments, key=lambda s: s[0]):
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            continue
        if not np.isfinite(values).all() or not np.isfinite(start):
            raise ValueError(f"wearable channel {name!r}: NaN or infinite value (encode gaps as separate segments)")
        if start < end - 1e-6:
            raise ValueError(f"wearable channel {name!r}: segment at {start} s overlaps the previous one")
        starts.append(float(start))
        lengths.append(int(values.size))
        chunks.append(values.astype("<f4"))
        end = start + values.size / fs_hz
    return {
        "name": name,
        "units": units,
        "fs_hz": float(fs_hz),
        "segment_start_s": starts,
        "segment_length": lengths,
        "values": (np.concatenate(chunks) if chunks else np.zeros(0, "<f4")).tobytes(),
    }


def encode_wearable(
    channels: Sequence[dict[str, Any]],
    duration_s: float | None = None,
    start_hour: float | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Pack channels (from :func:`encode_wearable_channel`) into the ``wearable`` struct.

    Args:
        channels: one dict per channel; names must be unique.
        duration_s: recording span in seconds (default: end of the last segment of any channel).
        start_hour: local time of day at the recording start, hours in ``[0, 24)`` (no date is stored).
        device: device or export description.
    """
    names = [c["name"] for c in channels]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"wearable needs at least one channel and unique channel names, got {names}")
    ends = [c["segment_start_s"][-1] + c["segment_length"][-1] / c["fs_hz"] for c in channels if c["segment_length"]]
    span = float(max(ends, default=0.0) if duration_s is None else duration_s)
    return {"channels": list(channels), "duration_s": span,
            "start_hour": None if start_hour is None else float(start_hour), "device": device}


def decode_wearable_channel(channel: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(times_s, values)``: ``(n,)`` float64 sample times from the recording start and ``(n,)`` float32 values."""
    lengths = np.asarray(channel["segment_length"], dtype=np.int64)
    starts = np.asarray(channel["segment_start_s"], dtype=np.float64)
    values = np.frombuffer(channel["values"], dtype="<f4")
    if lengths.shape != starts.shape or values.size != int(lengths.sum()):
        raise ValueError(
            f"wearable channel {channel.get('name')!r}: values hold {values.size} samples, "
            f"segments say {int(lengths.sum())} over {starts.size} segments"
        )
    offsets = np.arange(values.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # index inside its segment
    times = np.repeat(starts, lengths) + offsets / float(channel["fs_hz"])
    return times, values.astype(np.float32)
