"""WAV phonocardiograms → ``heart_sound`` via ``soundfile`` (PCM 8/16/24/32-bit, float WAV).

A manifest entry is one WAV file (mono, or one channel per auscultation site) or a folder of WAV files, one per
site (PhysioNet/CirCor naming ``<id>_<SITE>.wav``, e.g. ``50001_AV.wav``). Site names come from the entry's
``view`` (comma-separated, one per channel in file order, e.g. ``view: "AV,MV"``), else from a file-name suffix
that is a known site code, else ``Phc`` (unknown). Only audio samples are read: WAV INFO/metadata chunks (names,
comments, dates) are never copied.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal as sps

from nextgen_ml.data.codec import encode_heart_sound
from nextgen_ml.data.schema import AUSCULTATION_SITES
from nextgen_ml.ingest.deid import sha256_files
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.provenance import Converted

_SITE_ALIASES = {"TP": "TV", "AO": "AV", "PA": "PV", "MI": "MV", "AP": "MV"}


def _site_from_name(path: Path) -> str | None:
    code = path.stem.rsplit("_", 1)[-1].upper()
    code = _SITE_ALIASES.get(code, code)
    return code if code in AUSCULTATION_SITES else None


def _read(path: Path) -> tuple[np.ndarray, float, str]:
    """``(channels, frames)`` float64 in [-1, 1], the sampling rate and the sample subtype."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        audio, fs = sf.read(str(path), dtype="float64", always_2d=True)  # (frames, channels)
    except (RuntimeError, TypeError, ValueError, OSError) as err:  # sf.LibsndfileError is a RuntimeError
        raise IngestError(path, "<file>", f"unreadable WAV ({type(err).__name__}: {err})") from None
    if info.format != "WAV":
        raise IngestError(path, "<file>", f"not a WAV file (format {info.format})")
    if audio.shape[0] == 0:
        raise IngestError(path, "frames", "the recording holds no samples")
    if not np.isfinite(audio).all():
        channel = int(np.argmin(np.isfinite(audio).all(0)))
        raise IngestError(path, f"channel {channel}", "NaN or infinite samples")
    if not fs > 0:
        raise IngestError(path, "samplerate", f"sampling rate must be positive, got {fs}")
    return audio.T, float(fs), str(info.subtype)


def read_heart_sound_wav(
    path: str | os.PathLike,
    options: IngestOptions,
    uri: str = "",
    view: str | None = None,
) -> Converted:
    """Convert a WAV file or a folder of per-site WAV files into the record's ``heart_sound`` column.

    Args:
        path: a ``.wav`` file or a folder of them.
        options: ``heart_sound_fs_hz`` (resample to it; None keeps the files' common rate).
        uri: path recorded in provenance.
        view: comma-separated site names, one per channel in file order (overrides file-name suffixes).
    """
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".wav") if path.is_dir() else [path]
    if not files:
        raise IngestError(path, "<file>", "folder holds no .wav file")
    if not all(f.is_file() for f in files):
        raise IngestError(path, "<file>", "WAV file not found")
    parts = [(f, *_read(f)) for f in files]  # (file, (C, n), fs, subtype)
    n_channels = sum(a.shape[0] for _, a, _, _ in parts)
    if view:
        sites = [s.strip() for s in view.split(",")]
        if len(sites) != n_channels:
            raise IngestError(path, "view", f"{len(sites)} site names for {n_channels} audio channels")
        source = "manifest view"
    else:
        sites = []
        for f, audio, _, _ in parts:
            named = _site_from_name(f)
            sites += [named] * audio.shape[0] if named and audio.shape[0] == 1 else [None] * audio.shape[0]
        unknown = [k for k, s in enumerate(sites) if s is None]
        for j, k in enumerate(unknown):
            sites[k] = "Phc" if len(unknown) == 1 else f"Phc{j + 1}"
        source = "file name" if not unknown else "file name/unknown"
    if len(set(sites)) != len(sites):
        raise IngestError(path, "sites", f"duplicate auscultation sites {sites}")
    rates = {fs for _, _, fs, _ in parts}
    target = options.heart_sound_fs_hz
    if target is None and len(rates) > 1:
        raise IngestError(
            path,
            "fs_hz",
            f"files have different sampling rates {sorted(rates)}; set options.heart_sound_fs_hz to resample them",
        )
    target = float(target if target is not None else rates.pop())
    channels = []
    for _, audio, fs, _ in parts:
        if fs != target:
            from fractions import Fraction

            ratio = max(target / fs, fs / target)
            if ratio > options.ecg_max_resample_ratio:
                raise IngestError(path, "fs_hz", f"resampling {fs} → {target} Hz is a factor {ratio:.3g} > max ratio")

            frac = Fraction(target / fs).limit_denominator(1000)
            audio = np.clip(sps.resample_poly(audio, frac.numerator, frac.denominator, axis=-1), -1.0, 1.0)
        channels.extend(audio)
    lengths = [c.size for c in channels]
    n = min(lengths)
    signal = np.stack([c[:n] for c in channels])  # (S, n), cropped to the shortest site
    meta: dict[str, Any] = {
        "files": [f.name for f in files],
        "source_fs_hz": [fs for _, _, fs, _ in parts],
        "subtype": [st for _, _, _, st in parts],
        "sites": sites,
        "site_source": source,
        "source_samples": lengths,
        "n_samples": n,
    }
    value = encode_heart_sound(signal, target, sites)
    return Converted("heart_sound", value, "wav", uri or str(path), sha256_files(files), meta)
