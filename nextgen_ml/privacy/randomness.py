"""The randomness DP-SGD's guarantee rests on: the Gaussian noise and the Poisson sampling.

Both must be unpredictable to anyone who holds the run's config (its ``seed`` is written to config.yaml and
every checkpoint): with torch's global generator seeded by ``seed``, the config and the other records replay
training bit for bit and decide membership. Opacus's ``secure_mode`` needs ``torchcsprng`` (not installable with
current torch), so :class:`DPRandomness` draws both from :class:`~nextgen_ml.privacy.csprng.SecureGenerator`:
ChaCha20 keyed with 256 bits from :func:`os.urandom`, independent of ``seed``. The noise of noisy step ``t`` is
the keystream of nonce ``(noise, t)`` and the mask of logical batch ``b`` that of ``(sampling, b)``, so a resumed
run continues the same streams from the key alone (:mod:`nextgen_ml.privacy.noise_key` keeps it in a 0600 file
next to the checkpoints, never in them).

``reproducible=True`` is a debug mode for tests: the key is derived from ``seed`` (public), so two runs give
identical weights. It is logged as a warning and written to privacy.json.
"""

from __future__ import annotations

import logging

import torch

from nextgen_ml.privacy.csprng import NOISE, KeyStream, SecureGenerator

log = logging.getLogger(__name__)

REPRODUCIBLE_WARNING = ("privacy.reproducible_noise=true: DEBUG MODE — the DP noise and Poisson sampling are "
                        "derived from privacy.noise_seed; anyone holding the config can replay this run, so its "
                        "ε does not protect against them. Never release a model trained this way.")


class DPRandomness:
    """The secure generator of one DP run's noise and Poisson sampling.

    Args:
        reproducible: debug mode, see the module docstring.
        seed: seed of the debug mode (None = 0); ignored otherwise.
        key: a secret key to continue (resume); None = a fresh one from OS entropy. Refused in the debug mode.
    """

    def __init__(self, reproducible: bool = False, seed: int | None = None, key: bytes | None = None) -> None:
        self.reproducible = reproducible
        if reproducible:
            if key is not None:
                raise ValueError("reproducible (debug) noise derives its key from the seed; a key cannot be given")
            log.warning(REPRODUCIBLE_WARNING)
            self.generator = SecureGenerator.from_debug_seed(int(seed or 0))
        else:
            self.generator = SecureGenerator(key)

    @property
    def key_id(self) -> str:
        """Public id of the key (SHA-256 based), written to checkpoints to find the key file on resume."""
        return self.generator.key_id

    def noise(self, step: int) -> KeyStream:
        """The noise stream of noisy step ``step`` (0-based, counted over the whole budget)."""
        return self.generator.stream(NOISE, step)

    def poisson_mask(self, batch: int, n: int, sample_rate: float) -> torch.Tensor:
        """Records of logical batch ``batch`` (each in with probability q).  # (n,) bool"""
        return self.generator.poisson_mask(batch, n, sample_rate)
