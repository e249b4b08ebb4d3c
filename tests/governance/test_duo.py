"""Truth table of DUO consent × research purpose, and the term registry."""

from __future__ import annotations

import datetime as dt

import pytest

from nextgen_ml.governance.duo import (
    TERMS,
    TERMS_BY_ABBR,
    ConsentCodes,
    ResearchPurpose,
    parse_codes,
    permits,
)

CAD, MI, HF, CM, HCM, AF, CVD = (
    "MONDO:0005010", "MONDO:0005068", "MONDO:0005252", "MONDO:0004994", "MONDO:0005045", "MONDO:0004981",
    "MONDO:0004995",
)

# purposes, by name
P = {
    "general": ResearchPurpose("alice"),
    "nonhealth": ResearchPurpose("alice", health_research=False),
    "ancestry": ResearchPurpose("alice", population_origins=True),
    "hcm": ResearchPurpose("alice", disease=HCM),
    "cm": ResearchPurpose("alice", disease=CM),
    "cvd": ResearchPurpose("alice", disease=CVD),
    "mi": ResearchPurpose("alice", disease=MI),
    "af": ResearchPurpose("alice", disease=AF),
    "methods": ResearchPurpose("alice", methods_development=True),
    "methods_hcm": ResearchPurpose("alice", disease=HCM, methods_development=True),
    "methods_af": ResearchPurpose("alice", disease=AF, methods_development=True),
    "commercial": ResearchPurpose("alice", commercial=True),
    "for_profit": ResearchPurpose("alice", for_profit=True),
    "genetic": ResearchPurpose("alice", genetic_study=True),
    "irb": ResearchPurpose("alice", irb_approval=True),
    "col": ResearchPurpose("alice", collaboration_agreed=True),
    "pub": ResearchPurpose("alice", publication_agreed=True),
    "rtn_yes": ResearchPurpose("alice", return_derived_data=True),
    "rtn_no": ResearchPurpose("alice", return_derived_data=False),
    "mor_no": ResearchPurpose("alice", moratorium_accepted=False),
    "eu": ResearchPurpose("alice", region="EU"),
    "us_region": ResearchPurpose("alice", region="US"),
    "inst_a": ResearchPurpose("alice", institution="inst-a"),
    "inst_b": ResearchPurpose("alice", institution="inst-b"),
    "bob": ResearchPurpose("bob"),
    "proj1": ResearchPurpose("alice", project="p1"),
    "proj2": ResearchPurpose("alice", project="p2"),
    "late": ResearchPurpose("alice", use_date=dt.date(2031, 1, 1)),
    "early": ResearchPurpose("alice", use_date=dt.date(2029, 1, 1)),
}


def consent(*abbrs: str, diseases: tuple[str, ...] = (), **params: tuple[str, ...]) -> ConsentCodes:
    return ConsentCodes(parse_codes(abbrs), diseases, params)


# (consent, purpose name, allowed, deciding abbreviation)
TABLE = [
    # NRES / GRU permit everything
    (consent("NRES"), "general", True, "NRES"),
    (consent("NRES"), "ancestry", True, "NRES"),
    (consent("GRU"), "general", True, "GRU"),
    (consent("GRU"), "nonhealth", True, "GRU"),
    (consent("GRU"), "ancestry", True, "GRU"),
    (consent("GRU"), "hcm", True, "GRU"),
    (consent("GRU"), "methods", True, "GRU"),
    # HMB: health incl. any disease; not ancestry, not non-health
    (consent("HMB"), "general", True, "HMB"),
    (consent("HMB"), "hcm", True, "HMB"),
    (consent("HMB"), "methods", True, "HMB"),
    (consent("HMB"), "ancestry", False, "HMB"),
    (consent("HMB"), "nonhealth", False, "HMB"),
    # DS: the disease and its subclasses only
    (consent("DS", diseases=(CM,)), "cm", True, "DS"),
    (consent("DS", diseases=(CM,)), "hcm", True, "DS"),
    (consent("DS", diseases=(CAD,)), "mi", True, "DS"),
    (consent("DS", diseases=(CM,)), "cvd", False, "DS"),
    (consent("DS", diseases=(CM,)), "af", False, "DS"),
    (consent("DS", diseases=(CM,)), "general", False, "DS"),
    (consent("DS", diseases=(CM,)), "ancestry", False, "DS"),
    (consent("DS"), "cm", False, "DS"),
    (consent("DS", diseases=(CM, AF)), "af", True, "DS"),
    # POA: ancestry only
    (consent("POA"), "ancestry", True, "POA"),
    (consent("POA"), "general", False, "POA"),
    (consent("POA"), "hcm", False, "POA"),
    # alternatives: HMB or POA
    (consent("HMB", "POA"), "ancestry", True, "POA"),
    # modifiers
    (consent("GRU", "NPU"), "for_profit", False, "NPU"),
    (consent("GRU", "NPU"), "commercial", True, "GRU"),
    (consent("GRU", "NCU"), "commercial", False, "NCU"),
    (consent("GRU", "NCU"), "for_profit", True, "GRU"),
    (consent("GRU", "NPUNCU"), "commercial", False, "NPUNCU"),
    (consent("GRU", "NPUNCU"), "for_profit", False, "NPUNCU"),
    (consent("GRU", "NPUNCU"), "general", True, "GRU"),
    (consent("GRU", "NMDS"), "methods", False, "NMDS"),
    (consent("GRU", "NMDS"), "methods_hcm", True, "GRU"),
    (consent("GRU", "NMDS"), "general", True, "GRU"),
    (consent("DS", "NMDS", diseases=(CM,)), "methods_hcm", True, "DS"),
    (consent("DS", "NMDS", diseases=(CM, AF)), "methods_af", True, "DS"),
    (consent("HMB", "NMDS"), "methods", False, "NMDS"),
    (consent("GRU", "GSO"), "general", False, "GSO"),
    (consent("GRU", "GSO"), "genetic", True, "GRU"),
    (consent("GRU", "IRB"), "general", False, "IRB"),
    (consent("GRU", "IRB"), "irb", True, "GRU"),
    (consent("GRU", "COL"), "general", False, "COL"),
    (consent("GRU", "COL"), "col", True, "GRU"),
    (consent("GRU", "PUB"), "general", False, "PUB"),
    (consent("GRU", "PUB"), "pub", True, "GRU"),
    (consent("GRU", "RTN"), "general", True, "GRU"),
    (consent("GRU", "RTN"), "rtn_yes", True, "GRU"),
    (consent("GRU", "RTN"), "rtn_no", False, "RTN"),
    (consent("GRU", "MOR"), "general", True, "GRU"),
    (consent("GRU", "MOR"), "mor_no", False, "MOR"),
    (consent("GRU", "TS"), "late", True, "GRU"),
    (consent("GRU", "TS", expires=("2030-01-01",)), "early", True, "GRU"),
    (consent("GRU", "TS", expires=("2030-01-01",)), "late", False, "TS"),
    (consent("GRU", "GS"), "us_region", True, "GRU"),
    (consent("GRU", "GS", regions=("EU",)), "eu", True, "GRU"),
    (consent("GRU", "GS", regions=("EU",)), "us_region", False, "GS"),
    (consent("GRU", "GS", regions=("EU",)), "general", True, "GRU"),
    (consent("GRU", "IS", institutions=("inst-a",)), "inst_a", True, "GRU"),
    (consent("GRU", "IS", institutions=("inst-a",)), "inst_b", False, "IS"),
    (consent("GRU", "US", users=("alice",)), "general", True, "GRU"),
    (consent("GRU", "US", users=("alice",)), "bob", False, "US"),
    (consent("GRU", "US"), "bob", True, "GRU"),
    (consent("GRU", "PS", projects=("p1",)), "proj1", True, "GRU"),
    (consent("GRU", "PS", projects=("p1",)), "proj2", False, "PS"),
    (consent("GRU", "NPOA"), "ancestry", False, "NPOA"),
    (consent("GRU", "NPOA"), "general", True, "GRU"),
    # modifiers never rescue a refused permission
    (consent("HMB", "IRB"), "ancestry", False, "HMB"),
]


@pytest.mark.parametrize(("codes", "purpose", "allowed", "decider"), TABLE,
                         ids=[f"{'+'.join(TERMS[c].abbr for c in t[0].codes)}-{t[1]}" for t in TABLE])
def test_truth_table(codes: ConsentCodes, purpose: str, allowed: bool, decider: str) -> None:
    decision = permits(codes, P[purpose])
    assert decision.allowed is allowed, decision.reason
    assert decision.code == TERMS_BY_ABBR[decider].curie
    assert decision.key.startswith(decider)


def test_truth_table_covers_every_code() -> None:
    used = {c for codes, *_ in TABLE for c in codes.codes}
    assert used == set(TERMS)


def test_curies_match_their_shorthand() -> None:
    expected = {
        "GRU": "DUO:0000042", "HMB": "DUO:0000006", "DS": "DUO:0000007", "POA": "DUO:0000011",
        "NRES": "DUO:0000004", "NPU": "DUO:0000045", "NCU": "DUO:0000046", "NMDS": "DUO:0000015",
        "GSO": "DUO:0000016", "IRB": "DUO:0000021", "COL": "DUO:0000020", "PUB": "DUO:0000019",
        "TS": "DUO:0000025", "US": "DUO:0000026", "PS": "DUO:0000027", "IS": "DUO:0000028",
        "RTN": "DUO:0000029", "GS": "DUO:0000022", "MOR": "DUO:0000024", "NPUNCU": "DUO:0000018",
        "NPOA": "DUO:0000044",
    }
    assert {a: t.curie for a, t in TERMS_BY_ABBR.items()} == expected


def test_allowed_decision_lists_modifier_conditions() -> None:
    decision = permits(consent("GRU", "RTN", "PUB"), P["pub"])
    assert decision.allowed
    assert any(c.startswith("RTN") for c in decision.conditions)
    assert any(c.startswith("PUB") for c in decision.conditions)


def test_unknown_code_and_missing_permission_fail_closed() -> None:
    unknown = permits(ConsentCodes(("DUO:0000042", "DUO:9999999")), P["general"])
    assert not unknown.allowed and unknown.code == "unknown" and "DUO:9999999" in unknown.reason
    none = permits(consent("IRB"), P["irb"])
    assert not none.allowed and none.code == "none"


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="requester"):
        ResearchPurpose("")
    with pytest.raises(ValueError, match="disease"):
        ResearchPurpose("alice", disease="heart failure")
    with pytest.raises(ValueError, match="consent.diseases"):
        ConsentCodes(("DUO:0000007",), ("ICD10:I50",))
    with pytest.raises(ValueError, match="parameters"):
        ConsentCodes(("DUO:0000042",), (), {"country": ("EU",)})
    with pytest.raises(ValueError, match="codes"):
        parse_codes(["XYZ"])
    with pytest.raises(ValueError, match="record 'p1'"):
        ConsentCodes.from_dict(None, where="record 'p1'")
