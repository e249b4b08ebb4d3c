"""Unit conversion: pint for dimensional units, an explicit table for analyte-specific ones.

UCUM spellings used by the record (``mm[Hg]``, ``kg/m2``, ``a``, ``%``, ``uV``) are translated to pint names
first. Conversions that depend on the analyte (mass ↔ substance concentration, IFCC ↔ NGSP HbA1c) cannot come
from a units library and live in :data:`ANALYTE_CONVERSIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

#: UCUM unit → pint expression.
_UCUM_TO_PINT: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "mmHg": "mmHg",
    "kg/m2": "kg/m**2",
    "a": "year",
    "%": "percent",
    "1": "dimensionless",
    "u[V]": "uV",
    "µV": "uV",
    "μV": "uV",
    "uv": "uV",
    "mv": "mV",
    "[lb_av]": "lb",
    "[in_i]": "inch",
    "mo": "month",
}

#: (record variable, source unit) → function giving the record unit; analyte-specific conversions.
ANALYTE_CONVERSIONS: dict[tuple[str, str], Callable[[float], float]] = {
    ("ldl", "mg/dL"): lambda v: v * 0.02586,  # LDL-C: 1 mg/dL = 0.02586 mmol/L (M = 386.7 g/mol)
    ("hba1c", "mmol/mol"): lambda v: 0.09148 * v + 2.152,  # IFCC → NGSP (Hoelzel et al., Clin Chem 2004)
}


_MAX_UNIT_CHARS = 64


@lru_cache(maxsize=1)
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


def _pint_name(unit: str) -> str:
    unit = unit.strip()
    if unit in _UCUM_TO_PINT:
        return _UCUM_TO_PINT[unit]
    unit = re.sub(r"\{.*?\}", "", unit)  # UCUM annotations such as {beats}
    return unit.replace("[", "").replace("]", "") or "dimensionless"


def convert(values: Any, unit: str, target: str) -> Any:
    """Convert ``values`` from ``unit`` to ``target`` (UCUM or pint spellings).

    Raises:
        ValueError: unknown unit or incompatible dimensions (message names both units).
    """
    import pint

    if unit == target:
        return values
    ureg = _registry()
    if not isinstance(unit, str) or len(unit) > _MAX_UNIT_CHARS:
        raise ValueError(f"unit {str(unit)[:_MAX_UNIT_CHARS]!r}: not a unit string")
    try:
        factor = ureg.Quantity(1.0, _pint_name(unit)).to(_pint_name(target))
    except (pint.errors.UndefinedUnitError, pint.errors.DimensionalityError, AttributeError, ValueError) as err:
        raise ValueError(f"unit {unit!r} cannot be converted to {target!r} ({err})") from None
    except Exception as err:  # noqa: BLE001 - pint's parser raises tokenize.TokenError, SyntaxError, TypeError...
        raise ValueError(f"unit {unit!r}: malformed unit string ({type(err).__name__})") from None
    scale = float(factor.magnitude)
    return np.asarray(values, dtype=np.float64) * scale if isinstance(values, np.ndarray) else values * scale


def to_record_unit(variable: str, value: float, unit: str | None, record_unit: str) -> float:
    """``value`` of ``variable`` in ``unit`` expressed in the record's ``record_unit``.

    Args:
        variable: record tabular variable (``"ldl"``).
        value: source value.
        unit: source unit (None or equal to ``record_unit``: no conversion).
        record_unit: the record's UCUM unit for the variable.
    """
    if unit is None or unit == record_unit:
        return float(value)
    special = ANALYTE_CONVERSIONS.get((variable, unit))
    if special is not None:
        return float(special(float(value)))
    return float(convert(float(value), unit, record_unit))
