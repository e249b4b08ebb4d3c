"""A cryptographically secure generator for DP-SGD: ChaCha20 keystream → uniform bits → Gaussian noise and
Poisson-sampling masks.

The keystream is ChaCha20 (RFC 8439) from the ``cryptography`` package (OpenSSL), keyed with 256 bits; its output
is computationally indistinguishable from uniform bits to anyone without the key. The stream is **positional**:
``stream(domain, index)`` is the keystream under the 96-bit nonce ``(domain, index)``, so the noise of noisy step
``t`` and the Poisson mask of logical batch ``b`` are functions of ``(key, t)`` and ``(key, b)`` only. Nothing but
the key has to be kept to continue a run exactly (the step and batch indices are already in the checkpoint).

Conversions (all in float64, then cast):

* uniform: the top 53 bits ``k`` of each 64-bit word; ``k · 2⁻⁵³`` ∈ [0, 1) (sampling), ``(k + 1) · 2⁻⁵³`` ∈ (0, 1]
  (the logarithm of Box–Muller);
* Gaussian: Box–Muller, ``√(-2 ln u₁) · (cos 2πu₂, sin 2πu₂)``, both outputs used. Drawn in float64 and rounded to
  the parameters' float32/16 (the rounding hides the 53-bit lattice the floating-point attacks of Mironov 2012 /
  Jin et al. 2022 read); for float64 parameters the sum of four draws / 2 (Opacus's ``secure_mode`` defence).
* Bernoulli(q): ``k · 2⁻⁵³ < q`` (exact for q on the 2⁻⁵³ grid).
"""

from __future__ import annotations

import hashlib
import math
import os

import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

#: nonce domains: the noise of a step, the Poisson mask of a logical batch.
NOISE, SAMPLING = 0, 1
KEY_BYTES = 32
_BLOCK = 64  # ChaCha20 block (bytes); OpenSSL's 32-bit block counter starts at 0 for every (domain, index)
_MAX_BYTES = (2**32) * _BLOCK  # one (domain, index) stream never wraps its block counter
_TOP53 = (1 << 53) - 1
_TWO_M53 = 2.0**-53


def key_id(key: bytes) -> str:
    """Public identifier of a key (SHA-256 of a label and the key): names it in checkpoints, reveals nothing."""
    return hashlib.sha256(b"nextgen_ml dp-noise key id:" + key).hexdigest()


class KeyStream:
    """The keystream of one ``(domain, index)`` nonce, read front to back.

    Args:
        key: 32-byte ChaCha20 key.
        domain: :data:`NOISE` or :data:`SAMPLING`.
        index: the step (noise) or logical batch (sampling), ``0 ≤ index < 2⁶⁴``.
    """

    def __init__(self, key: bytes, domain: int, index: int) -> None:
        if not 0 <= index < 2**64:
            raise ValueError(f"index must be in [0, 2**64), got {index}")
        nonce = (0).to_bytes(4, "little") + domain.to_bytes(4, "little") + index.to_bytes(8, "little")
        self._enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
        self._used = 0

    def words(self, n: int) -> torch.Tensor:
        """``n`` uniform 64-bit words as int64 (CPU).  # (n,)"""
        size = 8 * n
        self._used += size
        if self._used > _MAX_BYTES:
            raise ValueError(f"one ChaCha20 stream holds at most {_MAX_BYTES} bytes; {self._used} were requested")
        raw = bytearray(self._enc.update(bytes(size)))
        return torch.frombuffer(raw, dtype=torch.int64) if size else torch.empty(0, dtype=torch.int64)

    def uniform(self, n: int, device: torch.device | str = "cpu", open_left: bool = False) -> torch.Tensor:
        """``n`` float64 uniforms on [0, 1) (``open_left``: (0, 1]).  # (n,)"""
        k = self.words(n).to(device).bitwise_right_shift_(11).bitwise_and_(_TOP53)  # top 53 bits (arithmetic >>)
        u = k.to(torch.float64)
        return (u.add_(1.0) if open_left else u).mul_(_TWO_M53)

    def normal(self, shape: torch.Size | tuple[int, ...], std: float, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """N(0, std²) of ``shape``, drawn in float64 (Box–Muller) and cast to ``dtype``."""
        n = math.prod(shape)
        if dtype == torch.float64:  # no rounding to hide the lattice: Opacus's sum of four draws
            total = sum(self._standard(n, device) for _ in range(4)) / 2
        else:
            total = self._standard(n, device)
        return (total * std).to(dtype).reshape(shape)

    def _standard(self, n: int, device: torch.device | str) -> torch.Tensor:
        pairs = (n + 1) // 2
        work = device if torch.device(device).type == "cuda" else "cpu"  # float64 maths (MPS has none)
        u = self.uniform(2 * pairs, work, open_left=True)
        radius = u[:pairs].log_().mul_(-2.0).sqrt_()  # √(-2 ln u₁)
        theta = u[pairs:].mul_(2.0 * math.pi)  # 2π u₂
        out = torch.empty_like(u)  # (2·pairs,)
        torch.cos(theta, out=out[:pairs]).mul_(radius)
        torch.sin(theta, out=out[pairs:]).mul_(radius)
        return out[:n].to(device)  # (n,)

    def bernoulli(self, n: int, p: float) -> torch.Tensor:
        """``n`` independent Bernoulli(p) draws as a bool mask (CPU).  # (n,)"""
        return self.uniform(n) < p


class SecureGenerator:
    """ChaCha20 keyed with 256 secret bits: positional noise and sampling streams.

    Args:
        key: the 32-byte key; None = fresh from the OS's CSPRNG (:func:`os.urandom`).
    """

    def __init__(self, key: bytes | None = None) -> None:
        key = os.urandom(KEY_BYTES) if key is None else bytes(key)
        if len(key) != KEY_BYTES:
            raise ValueError(f"key must be {KEY_BYTES} bytes, got {len(key)}")
        self._key = key

    @classmethod
    def from_debug_seed(cls, seed: int) -> SecureGenerator:
        """DEBUG ONLY: a key derived from a public seed (anyone with the seed can replay every draw)."""
        return cls(hashlib.sha256(f"nextgen_ml DEBUG dp-noise seed:{int(seed)}".encode()).digest())

    @property
    def key(self) -> bytes:
        """The secret key (for the 0600 key file only: never log, checkpoint or ship it)."""
        return self._key

    @property
    def key_id(self) -> str:
        return key_id(self._key)

    def stream(self, domain: int, index: int) -> KeyStream:
        """The keystream of ``(domain, index)`` (a fresh reader at its start)."""
        return KeyStream(self._key, domain, index)

    def poisson_mask(self, batch: int, n: int, sample_rate: float) -> torch.Tensor:
        """Which of ``n`` records are in logical batch ``batch`` (each with probability q).  # (n,) bool"""
        return self.stream(SAMPLING, batch).bernoulli(n, sample_rate)

    def __repr__(self) -> str:  # never the key
        return f"SecureGenerator(key_id={self.key_id[:16]}…)"
