"""What the store does not know: the steward's catalogue facts, a small YAML merged into the export.

```yaml
base_uri: https://catalogue.example-hospital.eu/datasets/   # IRIs of the dataset, distributions, service
identifier: cardio-cohort-2026                             # dct:identifier (default: the store's fingerprint)
title: Cardiology cohort of Example Hospital               # default: the data dictionary's name
description: Multimodal records of ...                     # default: generated from the store
publisher: {name: Example Hospital, url: https://example-hospital.eu, email: dpo@example-hospital.eu}
contact: {name: Research data desk, email: data@example-hospital.eu, url: https://example-hospital.eu/data}
keywords: [cardiology, ECG]                                 # added to the modalities present
access_rights: NON_PUBLIC                                   # EU access-right vocabulary code
legal_basis: ["https://w3id.org/dpv/legal/eu/gdpr#A9-2-j"]  # dpv:hasLegalBasis IRIs
applicable_legislation: ["http://data.europa.eu/eli/reg/2025/327/oj"]
consent: {codes: [DUO:0000042]}                             # default: the DUO codes found in the records
temporal: {start: 2019-01-01, end: 2025-12-31}
spatial: ["http://publications.europa.eu/resource/authority/country/FRA"]
discovery_endpoint: https://discovery.example-hospital.eu/  # dcat:endpointURL of the discovery server
language: ENG
```
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Steward:
    """Catalogue facts written by the data steward (all optional; see the module docstring).

    Args:
        base_uri: prefix of the IRIs minted for the dataset, distributions and data service.
        identifier: dct:identifier of the dataset.
        title: dct:title.
        description: dct:description.
        publisher: ``{name, url, email}`` of the publishing organisation.
        contact: ``{name, email, url}`` of the contact point (vCard).
        keywords: extra dcat:keyword values.
        access_rights: code of the EU access-right vocabulary (PUBLIC, RESTRICTED, NON_PUBLIC).
        legal_basis: dpv:hasLegalBasis IRIs (GDPR articles).
        applicable_legislation: ELI IRIs (default: the EHDS regulation).
        consent: ``{codes: [DUO CURIEs]}`` overriding the codes found in the records.
        temporal: ``{start, end}`` ISO dates.
        spatial: dct:spatial IRIs (EU country or place vocabulary).
        discovery_endpoint: URL of the discovery server (``nextgen-ml discover --serve``).
        language: EU language vocabulary code.
    """

    base_uri: str = "urn:nextgen-ml:"
    identifier: str | None = None
    title: str | None = None
    description: str | None = None
    publisher: dict[str, str] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    access_rights: str = "NON_PUBLIC"
    legal_basis: tuple[str, ...] = ()
    applicable_legislation: tuple[str, ...] = ()
    consent: dict[str, Any] | None = None
    temporal: dict[str, Any] | None = None
    spatial: tuple[str, ...] = ()
    discovery_endpoint: str | None = None
    language: str = "ENG"

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None, where: str = "steward") -> Steward:
        """Build from a mapping; unknown keys are refused so a typo is not silently dropped."""
        obj = dict(obj or {})
        allowed = {f.name for f in fields(cls)}
        unknown = set(obj) - allowed
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}")
        for name in ("keywords", "legal_basis", "applicable_legislation", "spatial"):
            if name in obj:
                value = obj[name]
                obj[name] = tuple(str(v) for v in ([value] if isinstance(value, str) else value or ()))
        for name in ("publisher", "contact"):
            if name in obj and not isinstance(obj[name], dict):
                raise ValueError(f"{where}: {name} must be a mapping with name/email/url, got {obj[name]!r}")
        if obj.get("temporal"):
            obj["temporal"] = {k: _date(v, f"{where}: temporal.{k}") for k, v in obj["temporal"].items()}
        return cls(**obj)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def load_steward(path: str | os.PathLike | None) -> Steward:
    """The steward's facts from ``path`` (YAML), or the defaults when ``path`` is None."""
    if path is None:
        return Steward()
    return Steward.from_dict(yaml.safe_load(Path(path).read_text()), where=str(path))
