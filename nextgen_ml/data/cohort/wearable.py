"""Wearable (smartwatch) exports rendered from the latent cardiac state.

Per minute over ``hours`` (default one day) starting at a random time of day: activity (steps/min: bursts while
awake, scaled down with NYHA class, age and BMI; ~0 asleep), heart rate (the patient's resting rate, lower asleep,
rising with activity; AF minutes faster and irregular), and every 5 minutes at rest the device's HRV (RMSSD: lower
with age, heart failure and diabetes, high and erratic in AF). AF burden is consistent with the ECG rhythm:
patients in AF on the ECG are in permanent AF (or a high paroxysmal burden); a few ECG-sinus patients have short
paroxysmal episodes (more with age and a dilated LV). Short PPG snippets (pulse waveforms with a dicrotic notch,
irregular in AF) are taken at rest. The watch is off the wrist while charging, for random removals and, for some
patients, at night: those minutes are gaps (no samples), so channels are lists of contiguous segments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import signal as sps

from nextgen_ml.data.codec import encode_wearable, encode_wearable_channel

DEVICE = "synthetic-watch"


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index pairs of the True runs of a 1-D bool array."""
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _episodes(rng: np.random.Generator, m: int, burden: float, mean_len: float) -> np.ndarray:
    """``(m,)`` bool minutes inside AF episodes covering about ``burden`` of the recording."""
    af = np.zeros(m, dtype=bool)
    if burden >= 0.999:
        return ~af
    target = int(burden * m)
    for _ in range(200):
        if af.sum() >= target:
            break
        start, length = rng.integers(0, m), max(int(rng.exponential(mean_len)), 5)
        af[start : start + length] = True
    return af


def _worn(rng: np.random.Generator, m: int, asleep: np.ndarray) -> np.ndarray:
    """``(m,)`` bool minutes the watch is worn: charging, random removals and (some patients) nights off."""
    worn = np.ones(m, dtype=bool)
    days = max(m / 1440, 1 / 24)
    for _ in range(rng.poisson(days)):  # charging, ~1 per day
        start = rng.integers(0, m)
        worn[start : start + rng.integers(30, 91)] = False
    for _ in range(rng.poisson(1.5 * days)):  # showers, removals
        start = rng.integers(0, m)
        worn[start : start + max(int(rng.exponential(40)), 5)] = False
    if rng.random() < 0.3:
        worn &= ~asleep
    return worn


def _ppg(rng: np.random.Generator, fs: float, seconds: float, hr: float, af: bool) -> np.ndarray:
    """``(n,)`` PPG snippet: one pulse per beat (systolic peak + dicrotic wave), respiration, noise."""
    n = int(round(fs * seconds))
    t = np.arange(n) / fs
    k = int(seconds * hr / 60 * 1.6) + 4
    rr = 60.0 / hr * (np.exp(0.22 * rng.standard_normal(k)) if af else 1 + 0.03 * rng.standard_normal(k))
    beats = -rng.uniform(0, 1) + np.concatenate([[0.0], np.cumsum(rr[:-1])])  # (K,)
    amp = rng.uniform(0.6, 1.2, k) if af else np.ones(k)
    x = np.zeros(n)
    width = int(0.9 * fs)  # a pulse lasts < 0.9 s
    for b, a in zip(beats, amp):
        lo, hi = max(int(np.ceil(b * fs)), 0), min(int(np.ceil(b * fs)) + width, n)
        if lo >= hi:
            continue
        d = t[lo:hi] - b  # time since the beat
        x[lo:hi] += a * (np.exp(-0.5 * ((d - 0.15) / 0.07) ** 2) + 0.35 * np.exp(-0.5 * ((d - 0.42) / 0.09) ** 2))
    x += 0.15 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6.3)) + 0.05 * rng.standard_normal(n)
    return x


def _patient(
    rng: np.random.Generator, p: dict[str, Any], hours: float, ppg: tuple[int, float, float]
) -> dict[str, Any]:
    m = int(round(hours * 60))  # minutes
    start_hour = float(rng.uniform(0, 24))
    clock = (start_hour + np.arange(m) / 60) % 24
    bedtime = 23 + rng.normal(0, 0.7)
    asleep = ((clock - bedtime) % 24) < 8  # (m,)
    fitness = float(np.clip(np.exp(-0.35 * (p["nyha"] - 1)) * (1 - 0.012 * (p["age"] - 60))
                            * (1 - 0.015 * (p["bmi"] - 27)), 0.1, 1.5))
    drive = sps.lfilter([0.37], [1.0, -0.93], rng.standard_normal(m))  # AR(1) activity drive, (m,)
    activity = np.where(asleep, 0.0, 60 * fitness * np.maximum(drive - 0.3, 0) ** 1.5)
    activity = np.round(np.minimum(activity, 180))

    if p["af"]:
        burden = 1.0 if rng.random() < 0.7 else rng.uniform(0.3, 0.8)
    else:
        p_parox = 0.03 + 0.05 * (p["age"] > 70) + 0.05 * (p["lvedd_mm"] > 58)
        burden = rng.uniform(0.01, 0.08) if rng.random() < p_parox else 0.0
    in_af = _episodes(rng, m, burden, 120.0) if burden > 0 else np.zeros(m, dtype=bool)
    sinus_hr = float(p["hr_bpm"]) - (35.0 if p["af"] else 0.0)
    af_hr = sinus_hr + 35.0
    noise = np.convolve(rng.standard_normal(m), np.ones(5) / 5, mode="same") * 4
    hr = np.where(in_af, af_hr + 10 * rng.standard_normal(m), sinus_hr) - 7 * asleep + 0.25 * activity + noise
    hr = np.clip(np.round(hr), 35, 200)

    worn = _worn(rng, m, asleep)
    channels = []
    segs = [(a * 60.0, hr[a:b]) for a, b in runs(worn)]
    channels.append(encode_wearable_channel("heart_rate", "/min", 1 / 60, segs))
    segs = [(a * 60.0, activity[a:b]) for a, b in runs(worn)]
    channels.append(encode_wearable_channel("activity", "/min", 1 / 60, segs))

    # HRV every 5 min when the 5 minutes were worn and quiet
    k5 = m // 5
    block = lambda x: x[: k5 * 5].reshape(k5, 5)  # noqa: E731  (k5, 5) minutes per 5-min block
    rest = block(worn).all(1) & (block(activity).mean(1) < 10)
    base = 35 * np.exp(-0.02 * (p["age"] - 60)) * (0.7 if p["lvef"] < 40 else 1.0) * (0.8 if p["diabetes"] else 1.0)
    rmssd = base * (1 + 0.3 * block(asleep).mean(1)) * np.exp(0.2 * rng.standard_normal(k5))
    rmssd = np.where(block(in_af).mean(1) > 0.5, 110 * np.exp(0.3 * rng.standard_normal(k5)), rmssd)
    segs = [(a * 300.0, np.round(rmssd[a:b], 1)) for a, b in runs(rest)]
    if segs:
        channels.append(encode_wearable_channel("hrv_rmssd", "ms", 1 / 300, segs))

    n_snip, snip_s, fs_ppg = ppg
    quiet = np.flatnonzero(worn & (activity < 5))
    quiet = quiet[quiet < m - int(np.ceil(snip_s / 60))]
    if n_snip and quiet.size:
        picks = np.sort(rng.choice(quiet, size=min(n_snip, quiet.size), replace=False))
        picks = picks[np.concatenate([[True], np.diff(picks) > snip_s / 60])]  # no overlapping snippets
        segs = [(k * 60.0, np.round(_ppg(rng, fs_ppg, snip_s, hr[k], bool(in_af[k])), 4)) for k in picks]
        channels.append(encode_wearable_channel("ppg", "1", fs_ppg, segs))
    return encode_wearable(channels, duration_s=m * 60.0, start_hour=start_hour, device=DEVICE)


def synthesize_wearables(
    rng: np.random.Generator,
    latent: pd.DataFrame,
    present: np.ndarray,
    hours: float,
    ppg_snippets: int,
    ppg_seconds: float,
    ppg_fs_hz: float,
) -> list[dict[str, Any] | None]:
    """``wearable`` structs of the patients with ``present`` True (None for the others).

    Args:
        rng: random generator (the cohort's ``wearable`` stream).
        latent: latent state (``hr_bpm``, ``af``, ``nyha``, ``age``, ``bmi``, ``lvef``, ``lvedd_mm``, ``diabetes``).
        present: ``(N,)`` bool; absent patients draw nothing.
        hours: recording length in hours.
        ppg_snippets: PPG snippets per recording (0 = none).
        ppg_seconds: length of one PPG snippet.
        ppg_fs_hz: PPG sampling rate.
    """
    rows = latent.to_dict("records")
    return [_patient(rng, rows[i], hours, (ppg_snippets, ppg_seconds, ppg_fs_hz)) if present[i] else None
            for i in range(len(latent))]
