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
hdab: {name: Health Data Access Body, email: hdab@example.eu, url: https://hdab.example.eu}  # healthdcatap:hdab
health_categories: [EHRS, EMRD]          # EHDS Art. 51 categories (default: from the modalities present)
health_themes: [NONCOMMUNICABLE_DISEASES]                   # HealthDCAT-AP health-theme codes
dataset_type: TEST_DATA                  # EU dataset-type code (a synthetic store is always SYNTHETIC_DATA)
population_coverage: Adults seen at the cardiology department of Example Hospital
retention: {start: 2019-01-01, end: 2035-12-31}             # healthdcatap:retentionPeriod
purpose: Secondary use for cardiovascular research under an HDAB permit   # dpv:Purpose description
catalogue_title: Example Hospital data catalogue           # the dcat:Catalog wrapper
```
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

#: The EHDS Art. 51(1) health categories of HealthDCAT-AP R8 (``healthcategories.rdf``).
HEALTH_CATEGORIES = (
    "EHRS", "DIOH", "NRPE", "PGEH", "IDHP", "PHDR", "MRMR", "EHCT", "EMRD", "RMMD", "RQSH", "EINS", "HRAD", "HGPD",
    "HPML", "RPDG", "WELA",
)  # fmt: skip


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
        hdab: ``{name, email, url}`` of the health data access body (mandatory for NON_PUBLIC datasets).
        health_categories: EHDS Art. 51 health-category codes (default: derived from the modalities present).
        health_themes: HealthDCAT-AP health-theme codes.
        dataset_type: EU dataset-type code (ignored for a synthetic store, which is ``SYNTHETIC_DATA``).
        population_coverage: free text on the population the records cover.
        retention: ``{start, end}`` ISO dates of the retention period.
        purpose: free-text description of the purpose of processing (a ``dpv:Purpose`` next to the DUO codes).
        catalogue_title: title of the ``dcat:Catalog`` wrapper (default: from the publisher's name).
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
    hdab: dict[str, str] = field(default_factory=dict)
    health_categories: tuple[str, ...] = ()
    health_themes: tuple[str, ...] = ("NONCOMMUNICABLE_DISEASES",)
    dataset_type: str | None = None
    population_coverage: str | None = None
    retention: dict[str, Any] | None = None
    purpose: str | None = None
    catalogue_title: str | None = None

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None, where: str = "steward") -> Steward:
        """Build from a mapping; unknown keys are refused so a typo is not silently dropped."""
        obj = dict(obj or {})
        allowed = {f.name for f in fields(cls)}
        unknown = set(obj) - allowed
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}")
        lists = ("keywords", "legal_basis", "applicable_legislation", "spatial", "health_categories", "health_themes")
        for name in lists:
            if name in obj:
                value = obj[name]
                obj[name] = tuple(str(v) for v in ([value] if isinstance(value, str) else value or ()))
        for name in ("publisher", "contact", "hdab"):
            if name in obj and not isinstance(obj[name], dict):
                raise ValueError(f"{where}: {name} must be a mapping with name/email/url, got {obj[name]!r}")
        for name in ("temporal", "retention"):
            if obj.get(name):
                obj[name] = {k: _date(v, f"{where}: {name}.{k}") for k, v in obj[name].items()}
        unknown = set(obj.get("health_categories", ())) - set(HEALTH_CATEGORIES)
        if unknown:
            raise ValueError(f"{where}: health_categories {sorted(unknown)} are not Art. 51 codes {HEALTH_CATEGORIES}")
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
