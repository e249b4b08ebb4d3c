"""Transforms for the sensor modalities: heart sounds (multi-site PCG) and wearable streams.

Same protocol as :mod:`nextgen_ml.data.transforms` (fit on the training split, ``__call__`` per record, ``spec``,
``state_dict``). Output shapes: heart_sound ``(S, N)``, wearable ``(2C + 2, T)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import signal as sps

from nextgen_ml.data.codec import decode_heart_sound, decode_wearable_channel
from nextgen_ml.data.transforms import ModalityTransform, _ratio, bandpass


class HeartSoundTransform(ModalityTransform):
    """Phonocardiogram → ``(S, N)``: one row per auscultation site, resampled, band-passed, cropped, standardised.

    Rows follow ``sites``; a site the recording lacks is a zero row. A recording whose sites match none of
    ``sites`` (e.g. an unlabelled ``"Phc"`` channel) fills the rows in order instead.

    Args:
        fs_hz: target sampling rate (polyphase resampling).
        seconds: crop length ``N = seconds * fs_hz``; random crop in training, centre crop otherwise; shorter
            recordings are zero-padded.
        sites: auscultation sites, one output row each.
        band_hz: Butterworth band-pass (low, high) in Hz; None disables filtering.
    """

    modality, column = "heart_sound", "heart_sound"

    def __init__(
        self,
        fs_hz: float = 1000.0,
        seconds: float = 4.0,
        sites: Sequence[str] = ("AV", "PV", "TV", "MV"),
        band_hz: tuple[float, float] | None = (25.0, 400.0),
    ) -> None:
        self.fs_hz, self.seconds, self.sites = float(fs_hz), float(seconds), list(sites)
        if not self.sites or len(set(self.sites)) != len(self.sites):
            raise ValueError(f"sites must be unique and non-empty, got {self.sites}")
        self.band_hz, self._sos = bandpass(band_hz, self.fs_hz)

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        audio = decode_heart_sound(value).astype(np.float64)  # (S_rec, N_rec) in [-1, 1)
        fs = float(value["fs_hz"])
        if not fs > 0:
            raise ValueError(f"record {record_id!r}, field 'heart_sound.fs_hz': must be positive, got {fs}")
        names = list(value["sites"])
        rows = [(self.sites.index(s), k) for k, s in enumerate(names) if s in self.sites]
        if not rows:  # no named site matches: positional
            rows = [(j, j) for j in range(min(len(names), len(self.sites)))]
        if fs != self.fs_hz:
            up, down = _ratio(self.fs_hz, fs)
            audio = sps.resample_poly(audio, up, down, axis=-1)
        if self._sos is not None and audio.shape[-1] > 15:
            audio = sps.sosfiltfilt(self._sos, audio, axis=-1, padlen=min(audio.shape[-1] - 1, 15))
        n = int(round(self.seconds * self.fs_hz))
        if audio.shape[-1] < n:
            audio = np.pad(audio, ((0, 0), (0, n - audio.shape[-1])))
        start = int(torch.randint(0, audio.shape[-1] - n + 1, ())) if train else (audio.shape[-1] - n) // 2
        audio = audio[:, start : start + n]  # (S_rec, N)
        out = np.zeros((len(self.sites), n), dtype=np.float32)
        for j, k in rows:
            x = audio[k] - audio[k].mean()
            out[j] = x / (x.std() + 1e-6)
        return out

    def spec(self) -> dict[str, Any]:
        return {"in_channels": len(self.sites), "fs_hz": self.fs_hz}

    def state_dict(self) -> dict[str, Any]:
        return {"fs_hz": self.fs_hz, "seconds": self.seconds, "sites": self.sites, "band_hz": self.band_hz}


class WearableTransform(ModalityTransform):
    """Wearable export → ``(2C + 2, T)`` on a regular grid of ``T = hours * 3600 / bin_s`` bins.

    Rows ``0..C-1``: each channel aggregated per bin (``mean``, ``std`` or ``max`` of its samples in the bin) and
    standardised with training statistics, 0 in gaps. Rows ``C..2C-1``: the observation mask (1 where the
    channel has at least one sample in the bin, 0 in gaps). Last two rows: time of day as ``sin``/``cos`` of
    the bin's clock time (zeros when the record has no ``start_hour``). Longer recordings are cropped to
    ``hours`` (random bin-aligned window in training, the first ``hours`` otherwise); shorter ones end in gaps.

    Args:
        channels: channel names, one value row and one mask row each (absent channels are all gap).
        hours: grid length in hours.
        bin_s: bin width in seconds.
        aggregate: per-channel aggregation (default ``mean``; ``ppg`` defaults to ``std``, the pulse amplitude).
        statistics: declared ``{channel: (centre, scale)}`` of the binned values; when given for every channel,
            :meth:`fit` reads no patient data (DP and federated runs); None = fitted on the training split.
    """

    modality, column = "wearable", "wearable"
    _AGGREGATES = ("mean", "std", "max")

    def __init__(
        self,
        channels: Sequence[str] = ("heart_rate", "activity", "hrv_rmssd"),
        hours: float = 24.0,
        bin_s: float = 60.0,
        aggregate: dict[str, str] | None = None,
        statistics: dict[str, Sequence[float]] | None = None,
    ) -> None:
        self.channels, self.hours, self.bin_s = list(channels), float(hours), float(bin_s)
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels must be unique and non-empty, got {self.channels}")
        self.n_bins = int(round(self.hours * 3600 / self.bin_s))
        if self.n_bins < 1:
            raise ValueError(f"hours={hours} and bin_s={bin_s} give no bin")
        self.aggregate = {"ppg": "std", **dict(aggregate or {})}
        bad = {k: v for k, v in self.aggregate.items() if v not in self._AGGREGATES}
        if bad:
            raise ValueError(f"aggregate: {bad} not in {self._AGGREGATES}")
        self.mean: dict[str, float] = {}
        self.std: dict[str, float] = {}
        self.declared = statistics is not None
        if statistics is not None:
            missing = [c for c in self.channels if c not in statistics]
            if missing:
                raise ValueError(f"statistics: channels {missing} have no declared (centre, scale)")
            for c in self.channels:
                centre, scale = (float(x) for x in statistics[c])
                if not scale > 0:
                    raise ValueError(f"statistics: channel {c!r} needs a scale > 0, got {scale}")
                self.mean[c], self.std[c] = centre, scale

    def _binned(self, value: dict[str, Any], record_id: str, offset_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Raw per-bin aggregates ``(C, T)`` and the observation mask ``(C, T)``."""
        by_name = {c["name"]: c for c in value["channels"]}
        vals = np.zeros((len(self.channels), self.n_bins))
        mask = np.zeros((len(self.channels), self.n_bins), dtype=bool)
        for j, name in enumerate(self.channels):
            if name not in by_name:
                continue
            times, x = decode_wearable_channel(by_name[name])
            if not np.isfinite(x).all():
                raise ValueError(f"record {record_id!r}, field 'wearable.channels[{name}].values': NaN or infinite")
            # 1e-3 bin of slack: sample times carry float32 rounding of fs_hz (1/60 Hz is not exact)
            idx = np.floor((times - offset_s) / self.bin_s + 1e-3).astype(np.int64)
            keep = (idx >= 0) & (idx < self.n_bins)
            idx, x = idx[keep], x[keep].astype(np.float64)
            count = np.bincount(idx, minlength=self.n_bins)
            mask[j] = count > 0
            mean = np.bincount(idx, x, minlength=self.n_bins) / np.maximum(count, 1)
            how = self.aggregate.get(name, "mean")
            if how == "mean":
                vals[j] = mean
            elif how == "std":
                sq = np.bincount(idx, x * x, minlength=self.n_bins) / np.maximum(count, 1)
                vals[j] = np.sqrt(np.maximum(sq - mean**2, 0))
            else:
                agg = np.full(self.n_bins, -np.inf)
                np.maximum.at(agg, idx, x)
                vals[j] = np.where(mask[j], agg, 0.0)
        return vals, mask

    def fit(self, values: Sequence[Any]) -> WearableTransform:
        if self.declared:
            return self
        rows = [v for v in values if v is not None][:1000]
        sums = {c: [] for c in self.channels}
        for k, v in enumerate(rows):
            vals, mask = self._binned(v, f"<train {k}>", 0.0)
            for j, c in enumerate(self.channels):
                sums[c].append(vals[j][mask[j]])
        for c in self.channels:
            col = np.concatenate(sums[c]) if sums[c] else np.zeros(0)
            self.mean[c] = float(col.mean()) if col.size else 0.0
            self.std[c] = float(col.std()) if col.size > 1 and col.std() > 0 else 1.0
        return self

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        if not self.mean:
            raise RuntimeError("WearableTransform used before fit(): standardisation needs training statistics")
        span_bins = int(np.ceil(float(value["duration_s"]) / self.bin_s))
        extra = max(span_bins - self.n_bins, 0)
        shift = int(torch.randint(0, extra + 1, ())) if train and extra else 0
        offset = shift * self.bin_s
        vals, mask = self._binned(value, record_id, offset)  # (C, T), (C, T)
        mean = np.array([self.mean[c] for c in self.channels])[:, None]
        std = np.array([self.std[c] for c in self.channels])[:, None]
        vals = np.where(mask, (vals - mean) / std, 0.0)
        clock = np.zeros((2, self.n_bins))
        if value.get("start_hour") is not None:
            hours = float(value["start_hour"]) + (offset + (np.arange(self.n_bins) + 0.5) * self.bin_s) / 3600
            clock = np.stack([np.sin(2 * np.pi * hours / 24), np.cos(2 * np.pi * hours / 24)])
        return np.concatenate([vals, mask, clock]).astype(np.float32)  # (2C + 2, T)

    def spec(self) -> dict[str, Any]:
        return {"in_channels": 2 * len(self.channels) + 2, "n_signals": len(self.channels)}

    def state_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "hours": self.hours, "bin_s": self.bin_s, "aggregate": self.aggregate,
                "mean": self.mean, "std": self.std}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.std = dict(state["mean"]), dict(state["std"])
