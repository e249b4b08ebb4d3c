"""Plausibility checks that catch values stored silently wrong: unit mistakes and truncated signals.

* ECG amplitude: the record stores µV as int16 (±32.767 mV). Samples in µV declared as V or mV become
  volts-sized values and would be clipped in almost every sample; samples in V declared as µV become a flat
  line. Both are quarantined with the declared unit named.
* WFDB length: a header that understates (or overstates) the signal length makes ``wfdb`` read a truncated
  (or padded) signal; the data file's size must match the header's samples × signals × bytes per sample.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions

#: Range the record can store (int16 µV).
STORED_UV = 32767.0
#: Bytes per sample of the WFDB storage formats whose size is fixed (format → bytes).
WFDB_BYTES: dict[str, float] = {
    "8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3,
}  # fmt: skip


def check_ecg_amplitude(signal_uv: np.ndarray, unit: str, path: str | os.PathLike, options: IngestOptions) -> None:
    """Refuse an ECG whose amplitudes in µV cannot be a surface ECG (a unit mistake, or a flat line).

    Args:
        signal_uv: ``(channels, samples)`` after conversion to µV.
        unit: the declared unit(s), for the message.
        path: the source file.
        options: ``ecg_max_clipped_fraction`` and ``ecg_min_peak_uv``.
    """
    magnitude = np.abs(signal_uv[np.isfinite(signal_uv)])
    if magnitude.size == 0:
        return  # NaN-only signals are reported by the lead checks, which name the lead
    clipped = float(np.mean(magnitude > STORED_UV))
    if clipped > options.ecg_max_clipped_fraction:
        peak_mv = float(magnitude.max()) / 1000.0
        raise IngestError(
            path,
            "units",
            f"{clipped:.1%} of samples exceed ±32.767 mV (peak {peak_mv:.4g} mV) with declared unit {unit!r}: "
            "samples are probably in a smaller unit (µV or mV) than declared",
        )
    peak = float(magnitude.max())
    if peak < options.ecg_min_peak_uv:
        raise IngestError(
            path,
            "units",
            f"peak amplitude {peak:.3g} µV < ecg_min_peak_uv ({options.ecg_min_peak_uv}) with declared unit {unit!r}: "
            "a flat line, or samples in a larger unit (V or mV) than declared",
        )


def check_wfdb_length(header: Any, base: Path) -> None:
    """Refuse a WFDB record whose data files do not hold exactly the samples its header declares.

    Args:
        header: ``wfdb.rdheader`` result (``sig_len``, ``fmt``, ``file_name``, ``byte_offset``).
        base: the record path without extension (data files are next to it).
    """
    if not header.sig_len or not header.file_name:
        return
    per_file: dict[str, float] = {}
    for name, fmt in zip(header.file_name, header.fmt or []):
        if str(fmt) not in WFDB_BYTES:
            return  # compressed (FLAC) or unknown formats: wfdb checks them itself
        per_file[name] = per_file.get(name, 0.0) + WFDB_BYTES[str(fmt)]
    offsets = dict(zip(header.file_name, header.byte_offset or [None] * len(header.file_name)))
    for name, bytes_per_frame in per_file.items():
        data = base.parent / name
        if not data.is_file():
            raise IngestError(data, "<file>", f"WFDB data file {name} named in the header is missing")
        expected = int(np.ceil(header.sig_len * bytes_per_frame)) + int(offsets.get(name) or 0)
        actual = data.stat().st_size
        if abs(actual - expected) > 1:  # 212 / 310 / 311 pad to whole bytes
            held = int((actual - int(offsets.get(name) or 0)) / bytes_per_frame)
            raise IngestError(
                base.with_suffix(".hea"),
                "sig_len",
                f"header declares {header.sig_len} samples per signal, data file {name} holds {held}",
            )
