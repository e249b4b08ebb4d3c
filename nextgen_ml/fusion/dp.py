"""The one list of fusion parts refused under differential privacy, and why.

A refused part registers an Opacus module validator, so ``ModuleValidator.validate`` (and therefore
:func:`nextgen_ml.privacy.compat.dp_problems` / ``assert_dp_compatible``, which the DP training path calls) reports
the reason instead of training with a guarantee that does not hold.
"""

from __future__ import annotations

from opacus.validators.errors import UnsupportedModuleError
from opacus.validators.utils import register_module_validator
from torch import nn

#: fusion registry name → why DP-SGD cannot cover it.
DP_REFUSED: dict[str, str] = {}


def refuse_under_dp(fusion_name: str, module_cls: type[nn.Module], reason: str) -> None:
    """Record ``fusion_name`` as refused under DP and make Opacus' validator report ``reason`` for ``module_cls``.

    Args:
        fusion_name: the fusion's registry name.
        module_cls: the submodule class that carries the incompatibility (it must own a trainable parameter
            directly, since Opacus validates only such modules).
        reason: one sentence that names what breaks the guarantee.
    """
    if not reason:
        raise ValueError("reason must say why the fusion is refused under DP")
    DP_REFUSED[fusion_name] = reason

    @register_module_validator(module_cls)
    def _refuse(module: nn.Module) -> list[UnsupportedModuleError]:
        return [UnsupportedModuleError(f"fusion {fusion_name!r} is refused under differential privacy: {reason}")]
