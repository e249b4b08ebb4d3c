"""Vectorised 12-lead ECG synthesis from the latent state.

Each beat is a sum of Gaussian waves (P, septal q, R, S, T, infarct Q) and a smooth ST plateau, each with a
3-D dipole direction (x = left, y = inferior, z = anterior): a vectorcardiogram. One template beat per patient is
placed at every R peak (irregular RR in AF), then projected onto lead I, lead II and the six precordial axes.
Baseline wander and noise are added per electrode lead (I, II, V1–V6) and the four other limb leads are derived
from I and II, so Einthoven and Goldberger hold exactly: III = II − I, aVR = −(I + II)/2, aVL = I − II/2,
aVF = II − I/2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nextgen_ml.data.cohort.config import CohortConfig

#: Precordial lead axes (x, y, z) times a lead gain, rows V1..V6.
PRECORDIAL_AXES = np.array([
    [-0.35, 0.05, 0.95], [-0.05, 0.10, 1.00], [0.35, 0.15, 0.85],
    [0.70, 0.20, 0.55], [0.90, 0.20, 0.20], [1.00, 0.20, -0.10],
]) * np.array([[1.3], [1.6], [1.6], [1.5], [1.3], [1.1]])

#: Unit dipole directions of the injury/necrosis vector per infarct territory (latent.TERRITORIES order).
TERRITORY_AXES = np.array([[0.2, -0.1, 1.0], [0.0, 1.0, 0.05], [1.0, -0.2, -0.2]])
TERRITORY_AXES = TERRITORY_AXES / np.linalg.norm(TERRITORY_AXES, axis=1, keepdims=True)

_P_AXIS = np.array([0.5, 0.7, 0.2])
_SEPTAL_AXIS = np.array([-0.6, 0.1, 0.6])
_R_AXIS = np.array([0.75, 0.6, -0.3])
_S_AXIS = np.array([-0.35, -0.4, -0.8])
_T_AXIS = np.array([0.6, 0.6, 0.3])
_ISCHAEMIA_AXIS = -np.array([0.7, 0.6, 0.4]) / np.linalg.norm([0.7, 0.6, 0.4])
_STRAIN_AXIS = -np.array([0.8, 0.3, -0.2])
_AF_AXIS = np.array([0.3, 0.6, 0.7])

_PRE_S, _POST_S = 0.55, 0.75  # template window around the R peak, seconds


def _beat_times(rng: np.random.Generator, rr_mean: np.ndarray, af: np.ndarray, seconds: float) -> np.ndarray:
    """R-peak times ``(N, K)`` in seconds: sinus arrhythmia, or irregularly irregular RR in AF."""
    n = rr_mean.shape[0]
    k = int(np.ceil(seconds / 0.3)) + 2
    beat = np.arange(k)[None, :]
    sinus = 1 + 0.035 * np.sin(2 * np.pi * beat / 4.5 + rng.uniform(0, 2 * np.pi, (n, 1))) \
        + 0.012 * rng.standard_normal((n, k))
    irregular = np.exp(0.22 * rng.standard_normal((n, k)))
    rr = np.clip(rr_mean[:, None] * np.where(af[:, None], irregular, sinus), 0.3, 2.2)  # (N, K)
    first = rng.uniform(0.05, 1.0, (n, 1)) * rr[:, :1]
    return first + np.concatenate([np.zeros((n, 1)), np.cumsum(rr[:, :-1], axis=1)], axis=1)


def _templates(lat: pd.DataFrame, rng: np.random.Generator, fs: float) -> np.ndarray:
    """One beat per patient as a VCG, ``(N, 3, W)`` µV over ``[-_PRE_S, _POST_S)`` around the R peak."""
    n = len(lat)
    t = np.arange(int(round(_PRE_S * fs)) + int(round(_POST_S * fs))) / fs - _PRE_S  # (W,)
    qrs = lat["qrs_ms"].to_numpy() / 1000
    pr = lat["pr_ms"].to_numpy() / 1000
    rr = 60.0 / lat["hr_bpm"].to_numpy()
    qt = np.minimum(lat["qtc_ms"].to_numpy() / 1000 * np.sqrt(rr), 0.68)  # Bazett: QT = QTc * sqrt(RR)
    af, mi = lat["af"].to_numpy(), lat["prior_mi"].to_numpy()
    wide = lat["conduction"].to_numpy()
    volt = lat["voltage"].to_numpy() * np.exp(0.08 * rng.standard_normal(n))
    extent = lat["scar_extent"].to_numpy()
    terr = TERRITORY_AXES[lat["territory"].to_numpy()]  # (N, 3)
    onset = -0.45 * qrs
    t_sigma = 0.045 + 0.12 * np.maximum(qt - 0.38, 0)  # long QT -> broad T
    t_peak = onset + qt - 2.3 * t_sigma
    r_amp = 1300 * volt * (1 - 0.5 * mi * extent)
    t_dir = _T_AXIS * 300 - mi[:, None] * extent[:, None] * 500 * terr
    t_dir = t_dir + (lat["wall_mm"].to_numpy() >= 14)[:, None] * 120 * _STRAIN_AXIS
    t_dir = t_dir * np.where(qt > 0.5, 0.7, 1.0)[:, None]

    # wave: (centre s, sigma s, dipole µV (N, 3))
    waves = [
        (onset - pr + 0.05, np.full(n, 0.022), (~af)[:, None] * 130 * _P_AXIS),
        (onset + 0.012, np.full(n, 0.008), np.full((n, 3), 110 * _SEPTAL_AXIS)),
        (onset + np.where(wide, 0.33, 0.45) * qrs, 0.11 * qrs, (r_amp * np.where(wide, 0.6, 1.0))[:, None] * _R_AXIS),
        # notched second R limb of a bundle-branch block (conduction disease only)
        (onset + 0.68 * qrs, 0.12 * qrs, (r_amp * 0.55 * wide)[:, None] * (_R_AXIS + [0.2, -0.2, -0.4])),
        (onset + 0.78 * qrs, 0.08 * qrs, (350 * volt)[:, None] * _S_AXIS),
        (onset + 0.2 * qrs, 0.09 * qrs, -(mi * (250 + 450 * extent))[:, None] * terr),  # pathological Q
        (t_peak, t_sigma, t_dir),
    ]
    mu = np.stack([w[0] for w in waves], axis=1)  # (N, nw)
    sig = np.maximum(np.stack([w[1] for w in waves], axis=1), 1e-3)  # (N, nw)
    amp = np.stack([w[2] for w in waves], axis=1)  # (N, nw, 3)
    gauss = np.exp(-0.5 * ((t[None, None, :] - mu[..., None]) / sig[..., None]) ** 2)  # (N, nw, W)
    beat = np.einsum("nwc,nwk->nck", amp, gauss)  # (N, 3, W)

    j_point = onset + qrs
    plateau = 1 / (1 + np.exp(-(t[None, :] - j_point[:, None]) / 0.006))
    plateau = plateau / (1 + np.exp(-((onset + qt - 0.02)[:, None] - t[None, :]) / 0.03))  # (N, W)
    st = lat["ischaemia"].to_numpy()[:, None] * rng.uniform(110, 220, (n, 1)) * _ISCHAEMIA_AXIS  # (N, 3)
    return beat + st[:, :, None] * plateau[:, None, :]


def _place_beats(template: np.ndarray, beats: np.ndarray, fs: float, n_samples: int) -> np.ndarray:
    """Add ``template`` ``(N, 3, W)`` at every R peak of ``beats`` ``(N, K)``; returns ``(N, 3, n_samples)``."""
    n, _, w = template.shape
    pre = int(round(_PRE_S * fs))
    buf = np.zeros((n, 3, n_samples + pre + w), dtype=np.float64)
    rows = np.arange(n)
    window = np.arange(w)
    starts = np.rint(beats * fs).astype(np.int64)  # window start in buffer coords = R sample (pad = pre)
    for k in range(beats.shape[1]):
        ok = starts[:, k] <= n_samples + pre - 1
        if not ok.any():
            break
        idx = starts[ok, k][:, None] + window[None, :]  # (n_ok, W)
        buf[rows[ok][:, None, None], np.arange(3)[None, :, None], idx[:, None, :]] += template[ok]
    return buf[:, :, pre:pre + n_samples]


def _electrode_noise(rng: np.random.Generator, n: int, t: np.ndarray, fs: float, noise_uv: np.ndarray) -> np.ndarray:
    """Baseline wander, mains hum and white noise for the 8 independent leads, ``(N, 8, T)`` µV."""
    shape = (n, 8, 1)
    wander = sum(rng.uniform(30, 120, shape) * np.sin(2 * np.pi * rng.uniform(0.05, 0.45, shape) * t
                                                      + rng.uniform(0, 2 * np.pi, shape)) for _ in range(2))
    noise = noise_uv[:, None, None] * rng.standard_normal((n, 8, t.shape[0]))
    hum = 0.0 if fs < 120 else rng.uniform(0, 8, shape) * np.sin(2 * np.pi * 50 * t)
    return wander + noise + hum


def synthesize_ecg(
    rng: np.random.Generator,
    latent: pd.DataFrame,
    config: CohortConfig,
    gain: np.ndarray,
    noise_uv: np.ndarray,
) -> np.ndarray:
    """Render 12-lead ECGs for every patient.

    Args:
        rng: random generator.
        latent: latent state (``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qtc_ms``, ``af``, ``prior_mi``, ...), N rows.
        config: sampling rate and duration.
        gain: ``(N,)`` site amplifier gain.
        noise_uv: ``(N,)`` site white-noise SD in µV.

    Returns:
        ``(N, 12, T)`` float32 µV in :data:`nextgen_ml.data.schema.ECG_LEADS` order.
    """
    n, fs, n_samples = len(latent), config.ecg_fs_hz, config.ecg_samples
    t = np.arange(n_samples) / fs
    af = latent["af"].to_numpy()
    beats = _beat_times(rng, 60.0 / latent["hr_bpm"].to_numpy(), af, config.ecg_seconds)
    vcg = _place_beats(_templates(latent, rng, fs), beats, fs, n_samples)  # (N, 3, T)
    f_freq = rng.uniform(4.5, 8.0, (n, 3, 1))
    fib = (rng.uniform(25, 60, (n, 3, 1)) * np.sin(2 * np.pi * f_freq * t + rng.uniform(0, 6.3, (n, 3, 1))))
    vcg += af[:, None, None] * fib.sum(axis=1, keepdims=True) * _AF_AXIS[None, :, None] / 2
    lead_i = vcg[:, 0]
    lead_ii = 0.5 * vcg[:, 0] + np.sqrt(3) / 2 * vcg[:, 1]
    chest = np.einsum("lc,nct->nlt", PRECORDIAL_AXES, vcg)  # (N, 6, T)
    electrodes = np.concatenate([lead_i[:, None], lead_ii[:, None], chest], axis=1)  # (N, 8, T)
    electrodes = (electrodes + _electrode_noise(rng, n, t, fs, noise_uv)) * gain[:, None, None]
    lead_i, lead_ii = electrodes[:, 0], electrodes[:, 1]
    limb = np.stack([lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2,
                     lead_ii - lead_i / 2], axis=1)  # (N, 6, T): I, II, III, aVR, aVL, aVF
    out = np.concatenate([limb, electrodes[:, 2:]], axis=1)  # (N, 12, T)
    return np.clip(out, -32000, 32000).astype(np.float32)
