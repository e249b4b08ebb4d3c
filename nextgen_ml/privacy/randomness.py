"""The randomness DP-SGD's guarantee rests on: the Gaussian noise and the Poisson sampling.

Both must be unpredictable to anyone who holds the run's config (its ``seed`` is written to config.yaml and
every checkpoint): with torch's global generator seeded by ``seed``, the config and the other records replay
training bit for bit and decide membership. Opacus's ``secure_mode`` needs ``torchcsprng`` (not installable with
current torch), so :class:`DPRandomness` keeps two ``torch.Generator`` objects (noise on the parameters' device,
sampling on the CPU) and reseeds both with 64 fresh bits of OS entropy (:mod:`secrets`) at set-up and after
every noisy step. Recovering one step's noise means guessing a 64-bit seed; earlier steps' outputs say nothing
about later ones. The optimizer also runs Opacus's ``secure_mode`` noise (a sum of four Gaussians, robust to the
floating-point attacks of Mironov 2012 / Jin et al. 2022), which needs no torchcsprng.

``reproducible=True`` is a debug mode for tests: both generators are seeded from ``seed`` and never reseeded,
so two runs give identical weights. It is logged as a warning and written to privacy.json.
"""

from __future__ import annotations

import logging
import secrets

import torch

log = logging.getLogger(__name__)

REPRODUCIBLE_WARNING = ("privacy.reproducible_noise=true: DEBUG MODE — the DP noise and Poisson sampling are "
                        "seeded from privacy.noise_seed; anyone holding the config can replay this run, so its "
                        "ε does not protect against them. Never release a model trained this way.")


class DPRandomness:
    """Generators of the DP noise and the Poisson sampling.

    Args:
        device: device of the parameters (the noise is drawn there).
        reproducible: debug mode, see the module docstring.
        seed: seed of the debug mode (None = 0); ignored otherwise.
    """

    def __init__(self, device: torch.device | str = "cpu", reproducible: bool = False, seed: int | None = None) -> None:
        self.reproducible = reproducible
        self.noise = torch.Generator(device=device)
        self.sampling = torch.Generator()
        if reproducible:
            log.warning(REPRODUCIBLE_WARNING)
            base = int(seed or 0)
            self.noise.manual_seed(base)
            self.sampling.manual_seed(base + 1)
        else:
            self.reseed()

    def reseed(self) -> None:
        """Fresh OS entropy for both generators (no-op in the debug mode)."""
        if self.reproducible:
            return
        self.noise.manual_seed(secrets.randbits(64))
        self.sampling.manual_seed(secrets.randbits(64))

    @property
    def secure_mode(self) -> bool:
        """Whether the optimizer should draw Opacus's floating-point-safe noise (off in the debug mode)."""
        return not self.reproducible
