"""Phonocardiograms (heart sounds) rendered from the latent cardiac state.

Each beat carries S1 (mitral + tricuspid closure, ~40 ms after the R peak; soft with a long PR interval or a
poor ventricle, beat-to-beat variable in AF) and S2 (A2 then P2, at the end of the QT interval; the split widens
with conduction delay; A2 is soft in severe aortic stenosis). Gallops: S3 ~140 ms after S2 in heart failure or a
dilated LV, S4 ~90 ms before S1 with a stiff (hypertrophied) ventricle and never in AF. Murmurs are band-limited
noise under an envelope: aortic stenosis a crescendo-decrescendo systolic murmur peaking later and louder with
the jet velocity, loudest at the aortic site; functional mitral regurgitation a holosystolic plateau, loudest at
the apex (mitral site); an innocent flow murmur is soft, early-peaking and pulmonic. Each auscultation site sees
the same sources with its own gains plus its own stethoscope noise (breath/friction rumble + white noise).
Heart rate and rhythm (sinus vs AF) come from the same latent ``hr_bpm`` / ``af`` as the ECG.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
from scipy import signal as sps

from nextgen_ml.data.schema import AUSCULTATION_SITES

#: Recorded site sets and their probabilities (CirCor-style: four valve areas, or fewer).
SITE_SETS: tuple[tuple[str, ...], ...] = (("AV", "PV", "TV", "MV"), ("AV", "MV"), ("MV",))
SITE_SET_P: tuple[float, ...] = (0.5, 0.3, 0.2)

#: Source gain at each auscultation site (rows AV, PV, TV, MV).
_GAINS: dict[str, dict[str, float]] = {
    "s1": {"AV": 0.6, "PV": 0.6, "TV": 0.9, "MV": 1.0},
    "s2": {"AV": 1.0, "PV": 0.9, "TV": 0.6, "MV": 0.5},
    "gallop": {"AV": 0.2, "PV": 0.25, "TV": 0.6, "MV": 1.0},
    "as": {"AV": 1.0, "PV": 0.7, "TV": 0.45, "MV": 0.6},
    "mr": {"AV": 0.35, "PV": 0.4, "TV": 0.6, "MV": 1.0},
    "innocent": {"AV": 0.6, "PV": 1.0, "TV": 0.5, "MV": 0.3},
}
assert all(set(g) <= set(AUSCULTATION_SITES) for g in _GAINS.values())


@functools.lru_cache(maxsize=64)
def _window(fs: float, freq: float, sigma_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian window ``(W,)`` over ``±4 sigma`` and the phase ``2 pi f t`` at its samples."""
    t = np.arange(-4 * sigma_s, 4 * sigma_s, 1.0 / fs)
    return np.exp(-0.5 * (t / sigma_s) ** 2), 2 * np.pi * freq * t


def _tone(fs: float, freq: float, sigma_s: float, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian-windowed sinusoid (one valve closure), ``(W,)`` centred in the window, peak 1."""
    window, phase = _window(fs, freq, sigma_s)
    return window * np.sin(phase + rng.uniform(0, 2 * np.pi))


def _add(x: np.ndarray, wave: np.ndarray, centre: int) -> None:
    """Add ``wave`` centred at sample ``centre`` into ``x`` (clipped at the edges)."""
    lo = centre - wave.size // 2
    a, b = max(lo, 0), min(lo + wave.size, x.size)
    if a < b:
        x[a:b] += wave[a - lo : b - lo]


def _envelope(n: int, fs: float, starts: np.ndarray, ends: np.ndarray, shape: str, peak_frac: float) -> np.ndarray:
    """Murmur envelope ``(n,)``: ``diamond`` (crescendo-decrescendo), ``plateau`` (holosystolic) or ``early``."""
    env = np.zeros(n)
    for s, e in zip(starts, ends):
        a, b = int(s * fs), int(e * fs)
        if b <= a + 2 or a >= n or b <= 0:
            continue
        u = np.linspace(0, 1, b - a)
        if shape == "diamond":
            w = np.where(u < peak_frac, u / peak_frac, (1 - u) / (1 - peak_frac))
        elif shape == "plateau":
            w = np.clip(8 * u, 0, 1) * np.clip(8 * (1 - u), 0, 1)
        else:  # early-peaking innocent murmur
            w = np.sin(np.pi * u) ** 2 * np.exp(-2 * u)
        lo, hi = max(a, 0), min(b, n)
        env[lo:hi] = w[lo - a : hi - a]
    return env


def _beat_times(rng: np.random.Generator, hr: float, af: bool, seconds: float) -> np.ndarray:
    """R-peak times (s) covering ``[-1, seconds + 1]``: mild sinus arrhythmia, or irregular RR in AF."""
    rr_mean = 60.0 / hr
    k = int(np.ceil((seconds + 2) / 0.3)) + 2
    if af:
        rr = np.clip(rr_mean * np.exp(0.22 * rng.standard_normal(k)), 0.3, 2.2)
    else:
        rr = rr_mean * (1 + 0.035 * np.sin(2 * np.pi * np.arange(k) / 4.5 + rng.uniform(0, 2 * np.pi))
                        + 0.012 * rng.standard_normal(k))
    return -1.0 + rng.uniform(0, 1) * rr[0] + np.concatenate([[0.0], np.cumsum(rr[:-1])])


def _sources(rng: np.random.Generator, p: dict[str, Any], fs: float, n: int) -> dict[str, np.ndarray]:
    """The cardiac sources of one patient, each ``(n,)``: s1, s2, gallop, as, mr, innocent."""
    seconds = n / fs
    out = {k: np.zeros(n) for k in _GAINS}
    beats = _beat_times(rng, float(p["hr_bpm"]), bool(p["af"]), seconds)
    rr = np.diff(beats, append=beats[-1] + 60.0 / p["hr_bpm"])
    qt = np.minimum(p["qtc_ms"] / 1000 * np.sqrt(rr), 0.6)  # Bazett, per beat
    vmax = float(p["as_vmax"])
    as_sev = max(vmax - 2.5, 0.0) if p["aortic_stenosis"] else 0.0
    s1_amp = (1.0 - 0.35 * (p["pr_ms"] > 200)) * (0.7 if p["lvef"] < 40 else 1.0)
    a2_amp = 1.0 - 0.3 * min(as_sev, 2.0)
    split = 0.03 + 0.035 * bool(p["conduction"])
    s1_on, s2_on = beats + 0.04, beats + qt - 0.02 + 0.02 * as_sev
    for t1, t2, r in zip(s1_on, s2_on, rr):
        amp = s1_amp * (rng.uniform(0.5, 1.3) if p["af"] else 1.0)
        _add(out["s1"], amp * _tone(fs, 50, 0.012, rng), int(t1 * fs))
        _add(out["s1"], 0.7 * amp * _tone(fs, 45, 0.012, rng), int((t1 + 0.02) * fs))
        _add(out["s2"], 0.8 * a2_amp * _tone(fs, 75, 0.008, rng), int(t2 * fs))
        _add(out["s2"], 0.5 * _tone(fs, 65, 0.008, rng), int((t2 + split) * fs))
        if p["s3"] and r > 0.45:
            _add(out["gallop"], 0.45 * _tone(fs, 35, 0.02, rng), int((t2 + 0.14) * fs))
        if p["s4"]:
            _add(out["gallop"], 0.35 * _tone(fs, 30, 0.02, rng), int((t1 - 0.09) * fs))
    noise_bands = {"as": (100, 350), "mr": (120, 400), "innocent": (80, 200)}
    systole = (s1_on + 0.03, s2_on - 0.015)
    specs = {
        "as": (0.12 + 0.22 * as_sev if p["aortic_stenosis"] else 0.0, "diamond", 0.35 + 0.12 * min(as_sev, 2.0)),
        "mr": (0.10 + 0.07 * p["mr_grade"] if p["mitral_regurgitation"] else 0.0, "plateau", 0.5),
        "innocent": (0.07 if p["innocent_murmur"] else 0.0, "early", 0.3),
    }
    for name, (amp, shape, peak) in specs.items():
        if amp <= 0:
            continue
        lo, hi = noise_bands[name]
        sos = sps.butter(4, (lo, min(hi, 0.45 * fs)), "bandpass", fs=fs, output="sos")
        noise = sps.sosfilt(sos, rng.standard_normal(n))
        noise /= noise.std() + 1e-9
        out[name] = amp * noise * _envelope(n, fs, *systole, shape=shape, peak_frac=peak)
    return out


def synthesize_heart_sounds(
    rng: np.random.Generator,
    latent: pd.DataFrame,
    present: np.ndarray,
    fs_hz: float,
    seconds: float,
    noise: np.ndarray,
) -> list[tuple[np.ndarray, tuple[str, ...]] | None]:
    """Phonocardiograms of the patients with ``present`` True.

    Args:
        rng: random generator (the cohort's ``heart_sound`` stream).
        latent: latent state with the valve columns of :func:`~nextgen_ml.data.cohort.latent.sample_valves`.
        present: ``(N,)`` bool; absent patients get None and draw nothing.
        fs_hz: sampling rate.
        seconds: recording length.
        noise: ``(N,)`` stethoscope noise SD relative to S1 (per recruiting site).

    Returns:
        Per patient ``(audio, sites)``: ``audio`` ``(n_sites, n_samples)`` float in ``[-1, 1]``, or None.
    """
    n = int(round(fs_hz * seconds))
    rumble_sos = sps.butter(2, (5, 40), "bandpass", fs=fs_hz, output="sos")
    out: list[tuple[np.ndarray, tuple[str, ...]] | None] = []
    rows = latent.to_dict("records")
    for i in range(len(latent)):
        if not present[i]:
            out.append(None)
            continue
        p = rows[i]
        sites = SITE_SETS[rng.choice(len(SITE_SETS), p=SITE_SET_P)]
        src = _sources(rng, p, fs_hz, n)
        audio = np.zeros((len(sites), n))
        for j, site in enumerate(sites):
            audio[j] = sum(_GAINS[k][site] * src[k] for k in _GAINS)  # (n,)
            rumble = sps.sosfilt(rumble_sos, rng.standard_normal(n))
            audio[j] += noise[i] * (rng.standard_normal(n) + 1.5 * rumble / (rumble.std() + 1e-9))
            audio[j] *= rng.uniform(0.7, 1.3)  # stethoscope pressure / gain
        audio *= 0.45 / (np.abs(audio).max() + 1e-9)  # (S, n), peak at 45 % of full scale
        out.append((audio, sites))
    return out
