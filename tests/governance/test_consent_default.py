"""Consent on by default: the composed default run declares a purpose; strict mode matches restrictions."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from nextgen_ml.governance.consent_filter import filter_store
from nextgen_ml.governance.duo import ConsentCodes, ResearchPurpose, permits
from tests.governance.govstores import make_record
from tests.training.conftest import compose_cfg

GRU, HMB, DS = "DUO:0000042", "DUO:0000006", "DUO:0000007"
US, GS, IS, PS, TS = "DUO:0000026", "DUO:0000022", "DUO:0000028", "DUO:0000027", "DUO:0000025"


def test_default_run_declares_a_non_profit_health_research_purpose() -> None:
    purpose = OmegaConf.to_container(compose_cfg([]).data.purpose, resolve=True)
    assert purpose is not None and purpose["requester"]
    declared = ResearchPurpose(**purpose)
    assert declared.health_research and not declared.for_profit and not declared.commercial
    assert declared.strict and not declared.population_origins and declared.disease is None
    assert permits(ConsentCodes((HMB,)), declared).allowed
    assert not permits(ConsentCodes((DS,), ("MONDO:0005267",)), declared).allowed  # no disease named


def test_switching_consent_off_is_an_explicit_override() -> None:
    assert compose_cfg(["data.purpose=null"]).data.purpose is None
    merged = compose_cfg(["+experiment=consented_cvd"]).data.purpose
    assert merged.disease == "MONDO:0005267" and merged.strict  # experiments refine the default purpose


@pytest.mark.parametrize(
    ("code", "parameters", "fields", "allowed"),
    [
        (US, {}, {}, False),  # the consent's users are unknown: cannot match
        (US, {"users": ("alice",)}, {}, True),
        (US, {"users": ("bob",)}, {}, False),
        (GS, {"regions": ("EU",)}, {}, False),  # region not stated
        (GS, {"regions": ("EU",)}, {"region": "EU"}, True),
        (IS, {"institutions": ("UMC",)}, {"institution": "Other"}, False),
        (IS, {"institutions": ("UMC",)}, {"institution": "UMC"}, True),
        (PS, {"projects": ("P1",)}, {}, False),
        (PS, {"projects": ("P1",)}, {"project": "P1"}, True),
        (TS, {}, {}, False),  # no expiry known
        (TS, {"expires": ("2999-01-01",)}, {}, True),
        (TS, {"expires": ("2020-01-01",)}, {"use_date": dt.date(2019, 1, 1)}, True),
        (TS, {"expires": ("2020-01-01",)}, {}, False),
    ],
)
def test_strict_mode_refuses_restrictions_the_purpose_does_not_match(code, parameters, fields, allowed) -> None:
    consent = ConsentCodes((GRU, code), parameters=parameters)
    strict = permits(consent, ResearchPurpose("alice", strict=True, **fields))
    assert strict.allowed is allowed, strict.reason
    if not allowed:
        assert strict.code == code  # the restriction itself refused, by its own rule or the strict one


def test_lenient_mode_lets_unstated_restrictions_through_but_strict_does_not() -> None:
    consent = ConsentCodes((GRU, GS), parameters={"regions": ("EU",)})
    assert permits(consent, ResearchPurpose("alice")).allowed
    assert not permits(consent, ResearchPurpose("alice", strict=True)).allowed


def test_strict_filter_excludes_restricted_records(store_factory) -> None:
    records = [make_record("p0", [GRU]), make_record("p1", [GRU, US]), make_record("p2", [HMB, PS])]
    path = store_factory(records, extra_metadata={"consent": {"codes": [GRU], "users": ["alice"]}})
    view, report = filter_store(path, ResearchPurpose("alice", strict=True), columns=["patient_id"])
    assert sorted(view.column("patient_id").to_pylist()) == ["p0", "p1"]  # alice is a listed user
    assert report.excluded == {"PS (DUO:0000027)": 1}
    _, lenient = filter_store(path, ResearchPurpose("alice"), columns=["patient_id"])
    assert lenient.included == 3


_SCOPES = {
    US: ("users", "requester"),
    GS: ("regions", "region"),
    IS: ("institutions", "institution"),
    PS: ("projects", "project"),
}


@settings(max_examples=300, deadline=None)
@given(
    codes=st.lists(st.sampled_from([US, GS, IS, PS, TS]), min_size=1, max_size=5, unique=True),
    scoped=st.dictionaries(
        st.sampled_from(["users", "regions", "institutions", "projects"]),
        st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2),
        max_size=4,
    ),
    expires=st.sampled_from([None, "2000-01-01", "2999-01-01"]),
    stated=st.fixed_dictionaries({k: st.sampled_from([None, "a", "b"]) for k in ("region", "institution", "project")}),
    requester=st.sampled_from(["a", "b"]),
)
def test_a_strict_purpose_is_only_let_through_restrictions_it_positively_matches(
    codes, scoped, expires, stated, requester
) -> None:
    parameters = {k: tuple(v) for k, v in scoped.items()} | ({"expires": (expires,)} if expires else {})
    consent = ConsentCodes((GRU, *codes), parameters=parameters)
    purpose = ResearchPurpose(requester, strict=True, **stated)
    allowed = permits(consent, purpose).allowed
    matched = all(
        (key in parameters and getattr(purpose, attr) in parameters[key])
        for code, (key, attr) in _SCOPES.items()
        if code in codes
    ) and (TS not in codes or expires == "2999-01-01")
    assert allowed == matched
