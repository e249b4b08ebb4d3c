"""Consent: GA4GH DUO codes per participant (MONDO disease terms for disease-specific consent)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nextgen_ml.data.schema import DUO_DS, DUO_GRU, DUO_HMB, DUO_NMDS, DUO_NPU

HEART_DISEASE = "MONDO:0005267"  # heart disease

#: Primary consent category and its probability.
PRIMARY_CONSENT: dict[str, float] = {DUO_GRU: 0.70, DUO_HMB: 0.17, DUO_DS: 0.13}
#: Modifier codes added independently with these probabilities.
MODIFIERS: dict[str, float] = {DUO_NPU: 0.10, DUO_NMDS: 0.05}


def consent_structs(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    """``consent`` structs for ``n`` participants."""
    codes = list(PRIMARY_CONSENT)
    primary = rng.choice(len(codes), size=n, p=list(PRIMARY_CONSENT.values()))
    mods = {code: rng.random(n) < p for code, p in MODIFIERS.items()}
    out = []
    for i in range(n):
        code = codes[primary[i]]
        out.append({
            "codes": [code] + [m for m, flag in mods.items() if flag[i]],
            "diseases": [HEART_DISEASE] if code == DUO_DS else None,
        })
    return out
