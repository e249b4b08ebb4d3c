"""Consent filtering of a store: exclusion before payloads, reports, refusals, and a property test."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextgen_ml.governance import consent_filter
from nextgen_ml.governance.audit import AuditLog
from nextgen_ml.governance.consent_filter import ConsentError, filter_store
from nextgen_ml.governance.duo import TERMS, ConsentCodes, ResearchPurpose, permits
from tests.governance.govstores import build_store, make_record

GRU, HMB, DS, POA, NPU, IRB = "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011", "DUO:0000045", "DUO:0000021"
CM, HCM, AF = "MONDO:0004994", "MONDO:0005045", "MONDO:0004981"


def _records() -> list[dict]:
    return [
        make_record("p0", [GRU], text="note 0"),
        make_record("p1", [HMB], text="note 1"),
        make_record("p2", [DS], [CM], text="note 2"),
        make_record("p3", [DS], [AF], text="note 3"),
        make_record("p4", [POA], text="note 4"),
        make_record("p5", [GRU, NPU], text="note 5"),
        make_record("p6", [GRU, IRB], text="note 6", site="B"),
    ]


def test_filter_keeps_only_permitting_records(store_factory) -> None:
    path = store_factory(_records())
    purpose = ResearchPurpose("alice", disease=HCM, for_profit=True)
    view, report = filter_store(path, purpose, columns=["patient_id", "text"])
    kept = sorted(view.column("patient_id").to_pylist())
    assert kept == ["p0", "p1", "p2"]
    assert sorted(view.row(i)["text"] for i in range(len(view))) == ["note 0", "note 1", "note 2"]
    assert report.n_records == 7 and report.included == 3
    assert report.excluded == {"DS (DUO:0000007)": 1, "POA (DUO:0000011)": 1, "NPU (DUO:0000045)": 1,
                               "IRB (DUO:0000021)": 1}
    assert report.counts()["included"] == 3


def test_consent_is_decided_before_payload_columns_are_opened(store_factory, monkeypatch) -> None:
    opened: list[list[str] | None] = []
    real = consent_filter.RecordStore

    class Spy(real):  # records which columns each open asks for
        def __init__(self, path, columns=None, sites=None):
            opened.append(None if columns is None else list(columns))
            super().__init__(path, columns=columns, sites=sites)

    monkeypatch.setattr(consent_filter, "RecordStore", Spy)
    path = store_factory(_records())
    filter_store(path, ResearchPurpose("alice"), columns=["patient_id", "ecg", "text"])
    assert opened == [["patient_id", "consent"], ["patient_id", "ecg", "text"]]


def test_no_permitting_record_is_refused_with_code_and_purpose(store_factory) -> None:
    path = store_factory([make_record("p0", [DS], [CM]), make_record("p1", [DS], [CM])])
    with pytest.raises(ConsentError, match=r"DS \(DUO:0000007\).*") as err:
        filter_store(path, ResearchPurpose("alice", disease=AF))
    assert "atrial fibrillation" in str(err.value) and "'alice'" in str(err.value)


def test_dataset_level_consent_refuses_before_records(store_factory) -> None:
    path = store_factory([make_record("p0", [GRU])], extra_metadata={"consent": {"codes": [GRU, NPU]}})
    with pytest.raises(ConsentError, match=r"dataset-level consent NPU \(DUO:0000045\)"):
        filter_store(path, ResearchPurpose("acme", for_profit=True))
    view, _ = filter_store(path, ResearchPurpose("alice"))
    assert len(view) == 1


def test_dataset_parameters_apply_to_records(store_factory) -> None:
    meta = {"consent": {"codes": [GRU], "regions": ["EU"]}}
    path = store_factory([make_record("p0", [GRU, "DUO:0000022"]), make_record("p1", [GRU])], extra_metadata=meta)
    view, report = filter_store(path, ResearchPurpose("alice", region="US"))
    assert view.column("patient_id").to_pylist() == ["p1"]
    assert report.excluded == {"GS (DUO:0000022)": 1}


def test_filter_appends_an_audit_entry(store_factory, tmp_path: Path) -> None:
    path = store_factory(_records())
    log = AuditLog(tmp_path / "audit.jsonl")
    filter_store(path, ResearchPurpose("alice"), audit=log, config={"lr": 1e-3})
    (entry,) = list(log.entries())
    assert entry["kind"] == "train" and entry["requester"] == "alice"
    assert entry["counts"]["included"] == 3  # p0 GRU, p1 HMB, p5 GRU+NPU
    assert entry["datasets"][0]["schema_version"] == json.loads((path / "_metadata.json").read_text())[
        "schema_version"]
    assert log.verify() == 1


def test_bad_purpose_type_is_rejected(store_factory) -> None:
    with pytest.raises(ValueError, match="purpose"):
        filter_store(store_factory(_records()), {"requester": "alice"})  # type: ignore[arg-type]


_CODE = st.sampled_from(sorted(TERMS))
_CONSENT = st.tuples(st.lists(_CODE, min_size=1, max_size=3),
                     st.lists(st.sampled_from([CM, HCM, AF]), max_size=2))
_PURPOSE = st.builds(
    ResearchPurpose,
    requester=st.just("alice"),
    disease=st.sampled_from([None, CM, HCM, AF]),
    population_origins=st.booleans(),
    methods_development=st.booleans(),
    commercial=st.booleans(),
    for_profit=st.booleans(),
    genetic_study=st.booleans(),
    irb_approval=st.booleans(),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(consents=st.lists(_CONSENT, min_size=1, max_size=8), purpose=_PURPOSE)
def test_forbidden_record_never_appears(consents, purpose) -> None:
    records = [make_record(f"p{i}", codes, diseases) for i, (codes, diseases) in enumerate(consents)]
    expected = {f"p{i}" for i, (codes, diseases) in enumerate(consents)
                if permits(ConsentCodes(tuple(codes), tuple(diseases)), purpose).allowed}
    with tempfile.TemporaryDirectory() as tmp:
        path = build_store(Path(tmp) / "s", records)
        if not expected:
            with pytest.raises(ConsentError):
                filter_store(path, purpose, columns=["patient_id"])
            return
        view, report = filter_store(path, purpose, columns=["patient_id"])
        kept = view.column("patient_id").to_pylist()
    assert set(kept) == expected and len(kept) == len(expected)
    assert report.included + sum(report.excluded.values()) == len(records)
