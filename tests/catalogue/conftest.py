"""Fixtures of the catalogue tests: a private copy of the tiny store (exports write its audit log) and a steward."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("rdflib")
pytest.importorskip("pyshacl")

STEWARD_YAML = """
base_uri: https://catalogue.example-hospital.eu/datasets/
identifier: synthetic-cardio
publisher: {name: Example University Hospital, url: "https://example-hospital.eu", email: dpo@example-hospital.eu}
contact: {name: Research data desk, email: data@example-hospital.eu}
keywords: [synthetic cohort]
legal_basis: ["https://w3id.org/dpv/legal/eu/gdpr#A9-2-j"]
temporal: {start: 2019-01-01, end: 2025-12-31}
spatial: ["http://publications.europa.eu/resource/authority/country/FRA"]
discovery_endpoint: https://discovery.example-hospital.eu/
hdab: {name: Example Health Data Access Body, email: hdab@example.eu, url: "https://hdab.example.eu"}
dataset_type: TEST_DATA
retention: {start: 2019-01-01, end: 2035-12-31}
purpose: Secondary use for cardiovascular research under a data permit of the health data access body
"""


@pytest.fixture()
def store(tiny_store: Path, tmp_path: Path) -> Path:
    """A copy of the session's tiny store, so exports (audit, ε ledger, policy) do not touch the shared one."""
    out = tmp_path / "store"
    shutil.copytree(tiny_store, out, ignore=shutil.ignore_patterns("_governance"))
    return out


@pytest.fixture()
def steward_file(tmp_path: Path) -> Path:
    path = tmp_path / "steward.yaml"
    path.write_text(STEWARD_YAML)
    return path
