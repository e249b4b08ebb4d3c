"""Size checks from headers, before anything is decoded (limits are ``IngestOptions`` fields).

A 27 kB file may claim 4096 × 4096 × 20000 pixels, an ECG may claim 0.01 Hz (a resampling factor of 50,000),
a JSON file may nest 100,000 levels: each is refused here from what its header (or its size) says, so memory
stays bounded by the limits whatever the input claims.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions

_GIB = float(1 << 30)


def check_file_size(path: str | os.PathLike, options: IngestOptions) -> None:
    """Refuse a file larger than ``options.file_max_bytes`` (a folder: each file in it)."""
    path = Path(path)
    files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    for file in files:
        size = file.stat().st_size
        if size > options.file_max_bytes:
            raise IngestError(file, "<file>", f"{size} bytes > file_max_bytes ({options.file_max_bytes})")


def check_image_claim(
    path: str | os.PathLike, shape: Sequence[int], options: IngestOptions, field: str, frames_field: str
) -> None:
    """Refuse an image whose header claims too many frames or too many decoded (float32) bytes.

    Args:
        path: the source file.
        shape: the claimed shape, frames first (``(frames, rows, columns[, samples])``).
        options: ``image_max_frames`` and ``image_max_bytes``.
        field: header field(s) to name for a size problem (``"Rows/Columns/NumberOfFrames"``).
        frames_field: header field to name for too many frames.
    """
    dims = [int(d) for d in shape]
    if any(d < 1 for d in dims):
        raise IngestError(path, field, f"header claims an empty or negative size {tuple(dims)}")
    if dims[0] > options.image_max_frames:
        raise IngestError(path, frames_field, f"{dims[0]} frames > image_max_frames ({options.image_max_frames})")
    claimed = math.prod(dims) * 4  # decoded as float32
    if claimed > options.image_max_bytes:
        raise IngestError(
            path,
            field,
            f"header claims {tuple(dims)} = {claimed / _GIB:.3g} GiB decoded > image_max_bytes "
            f"({options.image_max_bytes / _GIB:.3g} GiB); refused before decoding",
        )


def check_ecg_claim(
    path: str | os.PathLike, fs_hz: float, n_samples: int, options: IngestOptions, field: str = "fs_hz"
) -> None:
    """Refuse an ECG whose rate, duration or resampling factor to ``options.ecg_fs_hz`` is out of bounds."""
    if not (np.isfinite(fs_hz) and options.ecg_min_fs_hz <= fs_hz <= options.ecg_max_fs_hz):
        raise IngestError(
            path, field, f"sampling rate {fs_hz} Hz outside [{options.ecg_min_fs_hz}, {options.ecg_max_fs_hz}] Hz"
        )
    ratio = max(options.ecg_fs_hz / fs_hz, fs_hz / options.ecg_fs_hz)
    if ratio > options.ecg_max_resample_ratio:
        raise IngestError(
            path, field, f"resampling {fs_hz} → {options.ecg_fs_hz} Hz is a factor {ratio:.3g} > ecg_max_resample_ratio"
        )
    seconds = n_samples / fs_hz
    if seconds > options.ecg_max_seconds:
        raise IngestError(
            path, "n_samples", f"{n_samples} samples = {seconds:.0f} s > ecg_max_seconds ({options.ecg_max_seconds})"
        )
