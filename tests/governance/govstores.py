"""Helpers building tiny stores for the governance tests with the real store writer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from nextgen_ml.data.panel import Variant, VariantPanel
from nextgen_ml.data.schema import ECG_LEADS, RECORD_SCHEMA
from nextgen_ml.data.store import write_store

PANEL = VariantPanel(
    "tiny", "GRCh38",
    (
        Variant("rs1", "1", 100, "A", "G", "LDLR", 0.1),
        Variant("rs2", "2", 200, "C", "T", "MYH7", 0.05, kind="rare"),
    ),
)


def make_record(
    pid: str,
    codes: Sequence[str] = ("DUO:0000042",),
    diseases: Sequence[str] = (),
    site: str = "A",
    age: float | None = 60.0,
    sex: str | None = "female",
    ecg: bool = False,
    text: str | None = None,
    dosages: Sequence[float] | None = None,
    diagnosis: str | None = None,
    findings: Sequence[str] = (),
) -> dict[str, Any]:
    """One record with the given consent; payloads are tiny or null."""
    return {
        "patient_id": pid,
        "site": site,
        "consent": {"codes": list(codes), "diseases": list(diseases)},
        "tabular": {"age": age, "sex": sex},
        "ecg": None if not ecg else {"signal": b"\x00\x00" * 12, "leads": list(ECG_LEADS), "fs_hz": 500.0,
                                     "n_samples": 1, "units": "uV"},
        "text": text,
        "genotype": None if dosages is None else {"dosages": list(dosages), "prs": None},
        "labels": {"diagnosis": diagnosis, "findings": list(findings)},
    }


def build_store(path: Path, records: list[dict[str, Any]], **kwargs: Any) -> Path:
    """Write ``records`` as a store at ``path``."""
    return write_store(path, pa.Table.from_pylist(records, schema=RECORD_SCHEMA), panel=PANEL, **kwargs)
