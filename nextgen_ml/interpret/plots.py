"""Figures for explanations: 12-lead ECG with saliency, image frame with a saliency heatmap, modality
contributions, and the attention between modalities. Every function returns a matplotlib ``Figure``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from nextgen_ml.data.schema import ECG_LEADS


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.abs(np.asarray(x, dtype=np.float64))
    top = x.max()
    return x / top if top > 0 else x


def plot_ecg(
    signal: np.ndarray,
    fs_hz: float,
    leads: Sequence[str] = ECG_LEADS,
    saliency: np.ndarray | None = None,
    title: str = "",
    smooth_s: float = 0.04,
) -> Figure:
    """12-lead ECG in a 6 × 2 grid; with ``saliency`` the background of every lead is shaded by |attribution|.

    Args:
        signal: ``(L, T)`` the (preprocessed or raw) ECG.
        fs_hz: sampling rate of ``signal``.
        leads: lead names, one per row of ``signal``.
        saliency: optional ``(L, T)`` attribution (same shape as ``signal``); shading is |attribution| smoothed
            over ``smooth_s`` seconds and scaled to the maximum over all leads.
        title: figure title (e.g. the prediction).
        smooth_s: smoothing window of the shading.
    """
    signal = np.asarray(signal)
    if signal.ndim != 2 or signal.shape[0] != len(leads):
        raise ValueError(f"signal must be (L={len(leads)}, T), got {signal.shape}")
    if saliency is not None and np.shape(saliency) != signal.shape:
        raise ValueError(f"saliency must have the signal's shape {signal.shape}, got {np.shape(saliency)}")
    n_leads, n_samples = signal.shape
    rows = int(np.ceil(n_leads / 2))
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.3 * rows + 0.6), sharex=True, squeeze=False)
    t = np.arange(n_samples) / fs_hz
    shade = None
    if saliency is not None:
        width = max(1, int(round(smooth_s * fs_hz)))
        kernel = np.ones(width) / width
        smoothed = np.stack([np.convolve(np.abs(s), kernel, mode="same") for s in np.asarray(saliency)])  # (L, T)
        shade = _normalise(smoothed)
    for k in range(rows * 2):
        ax = axes[k % rows, k // rows]
        if k >= n_leads:
            ax.axis("off")
            continue
        y = signal[k]
        lo, hi = float(y.min()), float(y.max())
        pad = 0.1 * (hi - lo or 1.0)
        if shade is not None:
            ax.imshow(shade[k][None, :], aspect="auto", cmap="Reds", vmin=0, vmax=1, alpha=0.6,
                      extent=(0, n_samples / fs_hz, lo - pad, hi + pad), interpolation="nearest")
        ax.plot(t, y, color="black", linewidth=0.7)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_yticks([])
        ax.text(0.005, 0.95, leads[k], transform=ax.transAxes, va="top", fontsize=9, weight="bold")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title or "12-lead ECG" + (" with saliency" if shade is not None else ""))
    fig.tight_layout()
    return fig


def plot_image_saliency(
    frames: np.ndarray, heatmap: np.ndarray | None = None, frame: int = 0, title: str = "",
    frame_labels: Sequence[str] | None = None,
) -> Figure:
    """One cine frame, and next to it the same frame with the saliency heatmap overlaid.

    Args:
        frames: ``(F, H, W)`` image (3D ``(F, D, H, W)``: the middle slice is shown).
        heatmap: optional ``(H, W)`` saliency (e.g. :func:`nextgen_ml.interpret.saliency.image_heatmap`).
        frame: which frame to show.
        title: figure title.
        frame_labels: names of the frames (``["ED", "ES"]``).
    """
    frames = np.asarray(frames)
    if frames.ndim == 4:
        frames = frames[:, frames.shape[1] // 2]  # (F, H, W): middle slice
    if frames.ndim != 3:
        raise ValueError(f"frames must be (F, H, W) or (F, D, H, W), got {frames.shape}")
    if not 0 <= frame < frames.shape[0]:
        raise ValueError(f"frame {frame} out of range for {frames.shape[0]} frames")
    panels = 1 if heatmap is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.8), squeeze=False)
    name = frame_labels[frame] if frame_labels and frame < len(frame_labels) else f"frame {frame}"
    axes[0, 0].imshow(frames[frame], cmap="gray")
    axes[0, 0].set_title(name)
    if heatmap is not None:
        heatmap = np.asarray(heatmap)
        if heatmap.shape != frames.shape[1:]:
            raise ValueError(f"heatmap must be (H, W) = {frames.shape[1:]}, got {heatmap.shape}")
        axes[0, 1].imshow(frames[frame], cmap="gray")
        shown = axes[0, 1].imshow(_normalise(heatmap), cmap="inferno", alpha=0.55, vmin=0, vmax=1)
        axes[0, 1].set_title("saliency")
        fig.colorbar(shown, ax=axes[0, 1], fraction=0.046, pad=0.04)
    for ax in axes[0]:
        ax.axis("off")
    fig.suptitle(title or "cardiac MRI")
    fig.tight_layout()
    return fig


def plot_modality_contributions(
    contributions: Mapping[str, float], base_value: float | None = None, prediction: float | None = None,
    title: str = "", output: str = "prediction",
) -> Figure:
    """Horizontal bars of each modality's contribution (Shapley value) to one patient's prediction.

    Args:
        contributions: modality → contribution (e.g. a row of ``Explanation.contributions``).
        base_value: output with no modality (shown in the title).
        prediction: output with all modalities (shown in the title).
        title: figure title.
        output: name of the explained output (x-axis label).
    """
    pairs = dict(contributions.items())  # a dict or a pandas Series (a row of Explanation.contributions)
    names = list(pairs)
    values = np.array([float(pairs[m]) for m in names])
    order = np.argsort(np.abs(values))
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.4))
    colors = ["#c0392b" if v > 0 else "#2e86c1" for v in values[order]]
    ax.barh([names[i] for i in order], values[order], color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"contribution to {output}")
    parts = [title] if title else []
    if base_value is not None and prediction is not None:
        parts.append(f"{base_value:.3f} (no data) → {prediction:.3f} (all)")
    ax.set_title("\n".join(parts) or "modality contributions")
    fig.tight_layout()
    return fig


def plot_attention(
    matrix: np.ndarray, modalities: Sequence[str], cls: np.ndarray | None = None, title: str = ""
) -> Figure:
    """Heatmap of attention between modalities (rows attend to columns), with the CLS token's attention as an
    extra top row when given.

    Args:
        matrix: ``(M, M)`` e.g. ``AttentionMaps.between[i]``.
        modalities: names of the M axes.
        cls: optional ``(M,)`` CLS attention, e.g. ``AttentionMaps.cls[i]``.
        title: figure title.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    m = len(modalities)
    if matrix.shape != (m, m):
        raise ValueError(f"matrix must be ({m}, {m}) for modalities {list(modalities)}, got {matrix.shape}")
    rows = list(modalities)
    if cls is not None:
        matrix = np.vstack([np.asarray(cls, dtype=np.float64)[None], matrix])  # (1 + M, M)
        rows = ["[CLS]", *rows]
    fig, ax = plt.subplots(figsize=(1.1 * m + 2, 0.8 * len(rows) + 1.2))
    shown = ax.imshow(matrix, cmap="viridis", vmin=0)
    ax.set_xticks(range(m), modalities, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < matrix.max() / 2 else "black",
                fontsize=8)
    ax.set_xlabel("attended modality (keys)")
    ax.set_ylabel("attending tokens (queries)")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or "attention between modalities")
    fig.tight_layout()
    return fig
