"""Conditioning inside encoders: find an encoder's feature-map stages and modulate their outputs during one forward.

An encoder that can be conditioned exposes ``stages`` (modules whose outputs are the stage feature maps
``(B, C_s, ...)``) and ``stage_channels`` (``C_s`` per stage), on itself or on its ``backbone``. A backbone that has
``stages`` but no ``stage_channels`` (MONAI's ResNet stages in ``image_backbones.MonaiResNetFeatures``) is adapted
here: ``C_s`` is the ``out_channels`` of the last convolution of the stage.

The modulation ``h_s ← (1 + γ_s) ⊙ h_s + β_s`` is applied by forward hooks that exist only for the duration of
one forward (:func:`modulated_stages`). A hook returns a new tensor and leaves the hooked stage's own layers, their
inputs and outputs untouched, so Opacus' per-sample gradient hooks on those layers stay exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from torch import Tensor, nn

#: per stage, ``(gamma (B, C_s), beta (B, C_s))``
FiLMParams = Sequence[tuple[Tensor, Tensor]]


def _last_conv_channels(stage: nn.Module) -> int | None:
    convs = [m for m in stage.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    return int(convs[-1].out_channels) if convs else None


def feature_stages(encoder: nn.Module, modality: str = "?") -> tuple[tuple[nn.Module, ...], tuple[int, ...]]:
    """The modules whose outputs are ``encoder``'s stage feature maps, and their channel counts.

    Args:
        encoder: an encoder with ``stages`` (and ``stage_channels``) on itself or on its ``backbone``.
        modality: the encoder's modality (for error messages).

    Returns:
        ``(stages, stage_channels)`` of equal length.

    Raises:
        ValueError: the encoder exposes no stages, or their channel counts cannot be told.
    """
    for owner in (encoder, getattr(encoder, "backbone", None)):
        stages = getattr(owner, "stages", None) if owner is not None else None
        if stages is None:
            continue
        stages = tuple(stages)
        channels = getattr(owner, "stage_channels", None)
        if channels is None:  # adapter: a backbone with stages but no declared widths
            channels = tuple(_last_conv_channels(s) for s in stages)
        if not stages or len(channels) != len(stages) or any(c is None for c in channels):
            raise ValueError(f"the {modality} encoder {type(encoder).__name__}: cannot tell the channels of its "
                             f"stages (stages={len(stages)}, stage_channels={channels})")
        return stages, tuple(int(c) for c in channels)
    raise ValueError(
        f"the {modality} encoder {type(encoder).__name__} exposes no feature-map `stages` (with `stage_channels`), "
        "so it cannot be conditioned inside; use a CNN encoder that does (ecg_xresnet1d_*, image_resnet18) or a "
        "fusion that conditions output vectors (film)")


def _film_hook(gamma: Tensor, beta: Tensor, where: str):
    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        rows, channels = gamma.shape
        ok = isinstance(output, Tensor) and output.ndim >= 2 and output.shape[1] == channels
        if not ok or output.shape[0] % rows:
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(f"{where}: FiLM parameters are {tuple(gamma.shape)} (B, C) but the stage output is "
                             f"{shape}; the stage must return (B, C, ...) or (B * F, C, ...) patient-major")
        g, b = gamma, beta
        if output.shape[0] != rows:  # (B * F, C, ...): F frames per patient, patient-major (frames_as="time")
            g, b = (t.repeat_interleave(output.shape[0] // rows, dim=0) for t in (gamma, beta))
        view = (output.shape[0], channels, *([1] * (output.ndim - 2)))
        return (1.0 + g.view(view)) * output + b.view(view)  # (B, C, ...), out of place

    return hook


@contextmanager
def modulated_stages(stages: Sequence[nn.Module], params: FiLMParams, where: str = "encoder") -> Iterator[None]:
    """Within the block, each ``stages[s]``'s output ``h`` becomes ``(1 + γ_s) ⊙ h + β_s`` (channel-wise).

    Args:
        stages: the modules to modulate (from :func:`feature_stages`).
        params: one ``(gamma (B, C_s), beta (B, C_s))`` per stage.
        where: a name for error messages.
    """
    if len(params) != len(stages):
        raise ValueError(f"{where}: {len(params)} FiLM parameter pairs for {len(stages)} stages")
    handles = [stage.register_forward_hook(_film_hook(g, b, f"{where} stage {i}"))
               for i, (stage, (g, b)) in enumerate(zip(stages, params))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
