"""Short-axis cine MR synthesis: LV blood pool, myocardial ring, RV crescent, scar, chest texture.

Geometry follows the latent state: end-diastolic cavity diameter = LVEDD, wall thickness = ``wall_mm``,
the end-systolic cavity area is ``(1 - EF)`` times the end-diastolic one (area ejection fraction) with the
myocardial area conserved (the wall thickens in systole), and prior infarction leaves a bright
subendocardial late-enhancement-like patch in its coronary territory. Site scanners differ in gain, contrast
(gamma) and noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import zoom

from nextgen_ml.data.cohort.config import CohortConfig

#: Image angle (radians, image y axis pointing down) of each infarct territory's centre (latent.TERRITORIES).
TERRITORY_ANGLES = np.array([-np.pi / 2, np.pi / 2, 0.0])  # anterior = up, inferior = down, lateral = right

_BLOOD, _MYO, _SCAR, _TISSUE, _AIR, _FAT = 215.0, 62.0, 195.0, 95.0, 6.0, 150.0
ES_PHASE = 0.35  # fraction of the cardiac cycle at end-systole


def frame_schedule(n_frames: int) -> tuple[np.ndarray, list[str]]:
    """Contraction ``c`` per frame (0 = ED, 1 = ES) and frame labels.

    Args:
        n_frames: frames per cycle, >= 2. Two frames are (ED, ES); more frames sample one cycle from ED.

    Returns:
        ``(c, labels)`` with ``c`` of shape ``(F,)``.
    """
    if n_frames == 2:
        return np.array([0.0, 1.0]), ["ED", "ES"]
    es = max(1, int(round(ES_PHASE * n_frames)))
    f = np.arange(n_frames)
    c = np.where(f <= es, (1 - np.cos(np.pi * f / es)) / 2, (1 + np.cos(np.pi * (f - es) / (n_frames - es))) / 2)
    labels = [f"t{i:02d}" for i in range(n_frames)]
    labels[0], labels[es] = "ED", "ES"
    return c, labels


def _soft(d: np.ndarray, width: float) -> np.ndarray:
    """Partial-volume edge: 1 inside (d < 0), 0 outside, sigmoid of width ``width`` mm."""
    return 1.0 / (1.0 + np.exp(np.clip(d / width, -30, 30)))


def synthesize_cine(
    rng: np.random.Generator,
    latent: pd.DataFrame,
    config: CohortConfig,
    gain: np.ndarray,
    gamma: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """Render short-axis cine images.

    Args:
        rng: random generator.
        latent: latent state (``lvedd_mm``, ``wall_mm``, ``lvef``, ``scar_extent``, ``territory``), N rows.
        config: image size, frames, 2D/3D, spacing.
        gain: ``(N,)`` site intensity scaling.
        gamma: ``(N,)`` site contrast exponent.
        noise: ``(N,)`` site noise SD (0–255 scale).

    Returns:
        uint8 ``(N, F, H, W)`` or, with ``config.image_3d``, ``(N, F, D, H, W)``.
    """
    n, size, sp = len(latent), config.image_size, config.pixel_spacing_mm
    depth = config.image_depth if config.image_3d else 1
    c, _ = frame_schedule(config.image_frames)
    col = lambda name: latent[name].to_numpy(dtype=np.float64)[:, None, None, None, None]  # noqa: E731
    coords = (np.arange(size) - (size - 1) / 2) * sp  # mm
    yy, xx = np.meshgrid(coords, coords, indexing="ij")  # (H, W)
    cx = 9.0 + rng.uniform(-3, 3, (n, 1, 1, 1, 1))
    cy = rng.uniform(-3, 3, (n, 1, 1, 1, 1))
    dx, dy = xx - cx, yy - cy  # (N, 1, 1, H, W)
    r = np.sqrt(dx**2 + dy**2)
    theta = np.arctan2(dy, dx)

    # apex-ward slices are smaller; (1, 1, D, 1, 1)
    level = (np.arange(depth) / max(depth - 1, 1)) if depth > 1 else np.array([0.4])
    shrink = (1 - 0.6 * level**1.5)[None, None, :, None, None]
    ef = np.clip(col("lvef") / 100, 0.05, 0.9)
    r_ed = col("lvedd_mm") / 2 * shrink
    wall = col("wall_mm")
    ring_area = (r_ed + wall) ** 2 - r_ed**2
    cc = c[None, :, None, None, None]  # (1, F, 1, 1, 1)
    r_cav = r_ed * np.sqrt(1 - ef * cc)  # area EF: A_ES = (1 - EF) A_ED
    r_epi = np.sqrt(r_cav**2 + ring_area)

    body = _soft(np.sqrt((xx / (0.44 * size * sp)) ** 2 + (yy / (0.36 * size * sp)) ** 2) - 1, 0.02)
    texture = zoom(rng.standard_normal((n, 8, 8)), (1, size / 8, size / 8), order=3)[:, None, None]  # (N,1,1,H,W)
    img = _AIR + (_TISSUE - _AIR + 30 * texture) * body

    outer = r_ed + wall
    rv_dx = dx + 1.15 * outer
    rv = _soft(np.sqrt((rv_dx / (0.75 * outer * (1 - 0.25 * cc))) ** 2
                       + (dy / (1.05 * outer * (1 - 0.2 * cc))) ** 2) - 1, 0.04)
    rv = rv * (1 - _soft(r - r_epi - 2.5, 0.8))  # septum separates RV from the LV wall
    img = img + (_BLOOD - img) * rv
    fat = _soft(np.abs(r - r_epi - 1.5) - 1.0, 0.6) * 0.6
    img = img + (_FAT - img) * fat
    myo = _soft(r - r_epi, 0.6)
    img = img + (_MYO - img) * myo

    extent = col("scar_extent")
    centre = TERRITORY_ANGLES[latent["territory"].to_numpy()][:, None, None, None, None]
    ang = np.abs(np.angle(np.exp(1j * (theta - centre))))
    half_width = 0.35 + 0.9 * extent
    depth_mm = (0.35 + 0.5 * extent) * (r_epi - r_cav)
    scar = _soft(ang - half_width, 0.08) * _soft(r - r_cav - depth_mm, 0.6) * (extent > 0)
    img = img + (_SCAR - img) * scar * myo
    blood = _soft(r - r_cav, 0.6)
    img = img + (_BLOOD - img) * blood

    norm = np.clip(img / 255.0, 0, 1) ** gamma[:, None, None, None, None]
    img = 255.0 * norm * gain[:, None, None, None, None]
    sd = noise[:, None, None, None, None]
    img = np.sqrt((img + sd * rng.standard_normal(img.shape)) ** 2 + (sd * rng.standard_normal(img.shape)) ** 2)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)  # (N, F, D, H, W)
    return out if config.image_3d else out[:, :, 0]
