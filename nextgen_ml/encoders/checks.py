"""Input validation shared by the encoders: errors name the encoder and the expected shape."""

from __future__ import annotations

from torch import Tensor


def check_input(
    encoder: str, x: Tensor, expected: str, ndim: int | tuple[int, ...], channels: int | None = None
) -> None:
    """Raise ``ValueError`` unless ``x`` has rank ``ndim`` and (if given) ``channels`` at dim 1.

    Args:
        encoder: encoder name used in the message, e.g. ``"ecg_xresnet1d_small"``.
        x: the input tensor.
        expected: the expected shape spelled out, e.g. ``"(B, L=12, T)"``.
        ndim: allowed rank(s).
        channels: required size of dim 1 (leads, frames, variants, columns), or None for any.
    """
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if not isinstance(x, Tensor):
        raise ValueError(f"{encoder}: expected a tensor of shape {expected}, got {type(x).__name__}")
    if x.ndim not in ranks or (channels is not None and x.shape[1] != channels):
        raise ValueError(f"{encoder}: expected input of shape {expected}, got {tuple(x.shape)}")
