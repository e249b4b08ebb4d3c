"""Heart-sound encoders: ``(B, S, N)`` phonocardiograms (S auscultation sites) → ``(B, D)`` / tokens over time.

``heart_sound_logmel_cnn`` computes a log-mel spectrogram per site (``torch.stft`` magnitude through a mel
filterbank built once with ``librosa.filters.mel`` and kept as a buffer), treats the sites as image channels and
runs a small 2D CNN; tokens are its time positions (frequency pooled). ``heart_sound_cnn1d`` runs a strided 1D CNN
on the raw waveform. Both use GroupNorm and out-of-place activations only (Opacus-compatible).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.encoders.backbone import BackboneEncoder, sequence_encoder
from nextgen_ml.registry import register_encoder


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def _conv_stack(conv: type[nn.Module], in_channels: int, widths: Sequence[int], kernel: int,
                strides: Sequence[int]) -> nn.Sequential:
    """``conv → GroupNorm → GELU`` stages with the given strides (out-of-place ops only)."""
    if len(widths) != len(strides):
        raise ValueError(f"widths {list(widths)} and strides {list(strides)} need the same length")
    layers: list[nn.Module] = []
    prev = in_channels
    for width, stride in zip(widths, strides):
        layers += [conv(prev, width, kernel, stride=stride, padding=kernel // 2, bias=False),
                   nn.GroupNorm(_groups(width), width), nn.GELU()]
        prev = width
    return nn.Sequential(*layers)


class WaveformCNN(nn.Module):
    """Strided 1D CNN on raw audio: ``(B, S, N) -> (B, C, N')``, ``N' = N / prod(strides)``."""

    def __init__(self, in_channels: int, widths: Sequence[int], kernel: int, strides: Sequence[int]) -> None:
        super().__init__()
        self.net = _conv_stack(nn.Conv1d, in_channels, widths, kernel, strides)
        self.out_channels = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class LogMel(nn.Module):
    """Per-channel log-mel spectrogram: ``(B, S, N) -> (B, S, n_mels, frames)``, normalised per sample and site.

    Args:
        fs_hz: sampling rate of the input.
        n_fft: FFT size (zero-padded window).
        win_ms / hop_ms: analysis window and hop in milliseconds.
        n_mels: mel bands between ``fmin_hz`` and ``fs_hz / 2``.
        fmin_hz: lowest mel band edge.
    """

    def __init__(self, fs_hz: float, n_fft: int, win_ms: float, hop_ms: float, n_mels: int, fmin_hz: float) -> None:
        super().__init__()
        import librosa.filters

        self.n_fft = n_fft
        self.win = min(int(round(win_ms * fs_hz / 1000)), n_fft)
        self.hop = max(int(round(hop_ms * fs_hz / 1000)), 1)
        mel = librosa.filters.mel(sr=fs_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fs_hz / 2)
        self.register_buffer("mel", torch.as_tensor(mel, dtype=torch.float32), persistent=False)  # (M, F)
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        b, s, n = x.shape
        spec = torch.stft(x.reshape(b * s, n), self.n_fft, self.hop, self.win, self.window, center=True,
                          return_complex=True)  # (B*S, F, frames)
        power = spec.real.pow(2) + spec.imag.pow(2)
        logmel = torch.log(torch.matmul(self.mel, power) + 1e-6)  # (B*S, M, frames)
        logmel = logmel.reshape(b, s, *logmel.shape[1:])  # (B, S, M, frames)
        centred = logmel - logmel.mean(dim=(-2, -1), keepdim=True)
        return centred / (centred.std(dim=(-2, -1), keepdim=True) + 1e-3)


class LogMelCNN(nn.Module):
    """Log-mel front end + 2D CNN over (mel, time): ``(B, S, N) -> (B, C, frames')`` (mel axis averaged)."""

    def __init__(self, front: LogMel, in_channels: int, widths: Sequence[int], kernel: int) -> None:
        super().__init__()
        self.front = front
        self.net = _conv_stack(nn.Conv2d, in_channels, widths, kernel, [2] * len(widths))
        self.out_channels = widths[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.front(x)).mean(2)  # (B, C, M', T') → (B, C, T')


@register_encoder
def heart_sound_logmel_cnn(
    embed_dim: int = 128,
    in_channels: int = 4,
    fs_hz: float = 1000.0,
    n_fft: int = 256,
    win_ms: float = 50.0,
    hop_ms: float = 10.0,
    n_mels: int = 32,
    fmin_hz: float = 20.0,
    widths: Sequence[int] = (16, 32, 64, 64),
    kernel: int = 3,
    max_tokens: int = 32,
) -> BackboneEncoder:
    """Log-mel spectrogram (librosa mel filterbank, ``torch.stft``) + 2D CNN (≈70 k parameters).

    Args:
        embed_dim: output width ``D``.
        in_channels: auscultation sites ``S`` (spectrogram channels).
        fs_hz: input sampling rate (from the transform's spec).
        n_fft / win_ms / hop_ms / n_mels / fmin_hz: spectrogram settings (see :class:`LogMel`).
        widths: 2D CNN width per stage (each stage halves mel and time).
        kernel: conv kernel size.
        max_tokens: cap on the number of time tokens.
    """
    front = LogMel(fs_hz, n_fft, win_ms, hop_ms, n_mels, fmin_hz)
    backbone = LogMelCNN(front, in_channels, widths, kernel)
    return sequence_encoder(
        "heart_sound_logmel_cnn", backbone, in_channels, embed_dim, max_tokens, expected=f"(B, S={in_channels}, N)"
    )


@register_encoder
def heart_sound_cnn1d(
    embed_dim: int = 128,
    in_channels: int = 4,
    widths: Sequence[int] = (16, 32, 64, 64, 128),
    strides: Sequence[int] = (4, 4, 2, 2, 2),
    kernel: int = 9,
    max_tokens: int = 32,
) -> BackboneEncoder:
    """Strided 1D CNN on the raw waveform (≈0.15 M parameters; 64x downsampling by default).

    Args:
        embed_dim: output width ``D``.
        in_channels: auscultation sites ``S``.
        widths: width per stage.
        strides: stride per stage.
        kernel: conv kernel size.
        max_tokens: cap on the number of time tokens.
    """
    backbone = WaveformCNN(in_channels, widths, kernel, strides)
    return sequence_encoder(
        "heart_sound_cnn1d", backbone, in_channels, embed_dim, max_tokens, expected=f"(B, S={in_channels}, N)"
    )
