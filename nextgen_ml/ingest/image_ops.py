"""Shared image steps after decoding: resampling and center crop/pad (MONAI), and the stored dtype.

Images arrive as ``(frames, H, W)`` or ``(frames, D, H, W)`` float arrays; frames are treated as channels so
MONAI's channel-first spatial transforms resample every frame the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_INT_DTYPES: tuple[str, ...] = ("uint8", "int16", "uint16")


def _trailing(values: Sequence[float], current: Sequence[float], name: str) -> tuple[float, ...]:
    """Apply ``values`` to the trailing axes of ``current``; leading axes keep their value."""
    if len(values) > len(current):
        raise ValueError(f"{name}: {len(values)} values for an image with {len(current)} spatial axes")
    return tuple(current[: len(current) - len(values)]) + tuple(values)


def resample(
    pixels: np.ndarray, spacing_mm: Sequence[float], target_mm: Sequence[float], mode: str = "bilinear"
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Resample to ``target_mm`` spacing with :class:`monai.transforms.Spacing`.

    Args:
        pixels: ``(frames, *spatial)`` float array, spatial = ``(H, W)`` or ``(D, H, W)``.
        spacing_mm: current spacing of the spatial axes.
        target_mm: wanted spacing; shorter than ``spacing_mm`` means "trailing axes only".
        mode: interpolation mode.

    Returns:
        ``(pixels, spacing_mm)`` after resampling.
    """
    import torch
    from monai.data import MetaTensor
    from monai.transforms import Spacing

    target = _trailing([float(t) for t in target_mm], spacing_mm, "image_target_spacing_mm")
    if any(t <= 0 for t in target):
        raise ValueError(f"image_target_spacing_mm: spacing must be positive, got {target}")
    if np.allclose(target, spacing_mm):
        return pixels, tuple(float(s) for s in spacing_mm)
    spatial = pixels.ndim - 1
    affine = torch.eye(4, dtype=torch.float64)
    affine[range(spatial), range(spatial)] = torch.tensor(spacing_mm, dtype=torch.float64)
    image = MetaTensor(torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)), affine=affine)
    out = Spacing(pixdim=target, mode=mode, padding_mode="border")(image)  # (frames, *spatial')
    return out.numpy().astype(np.float32), target


def crop_or_pad(pixels: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Center-crop or zero-pad the trailing spatial axes to ``size`` (:class:`monai.transforms.ResizeWithPadOrCrop`).

    Args:
        pixels: ``(frames, *spatial)`` array.
        size: wanted size of the trailing spatial axes.
    """
    from monai.transforms import ResizeWithPadOrCrop

    full = _trailing([int(s) for s in size], pixels.shape[1:], "image_size")
    if any(s < 1 for s in full):
        raise ValueError(f"image_size: sizes must be >= 1, got {full}")
    out = ResizeWithPadOrCrop(full, mode="constant")(np.ascontiguousarray(pixels))
    return np.asarray(out)


def storage_dtype(pixels: np.ndarray) -> np.ndarray:
    """Cast to the smallest record dtype that holds the values exactly (uint8/int16/uint16), else float32.

    Integer-valued images (8-bit ultrasound, CT Hounsfield units after rescale) keep an integer dtype; anything
    fractional (resampled, non-integer rescale slope, RGB → gray luma) is stored as float32.
    """
    if pixels.size and np.array_equal(pixels, np.rint(pixels)):
        lo, hi = float(pixels.min()), float(pixels.max())
        for name in _INT_DTYPES:
            info = np.iinfo(name)
            if info.min <= lo and hi <= info.max:
                return pixels.astype(name)
    return pixels.astype(np.float32)
