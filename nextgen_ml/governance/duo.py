"""GA4GH Data Use Ontology (DUO): consent codes, declared research purposes and the matching rule.

A record (or a whole dataset) carries DUO CURIEs in ``consent.codes`` and, for disease-specific consent, MONDO
CURIEs in ``consent.diseases``. An experiment declares a :class:`ResearchPurpose`. :func:`permits` decides
whether the consent allows the purpose, following the DUO term definitions and the DUOS data-use matching
rules:

* Permissions are alternatives: the purpose must fit at least one. GRU ⊃ HMB ⊃ DS; GRU also covers
  population-origins/ancestry research (POA) but HMB and DS do not; POA permits only ancestry research;
  NRES places no restriction. DS covers the listed MONDO diseases and their subclasses.
* Modifiers are conjunctive: each one present must be satisfied.

``docs/governance.md`` lists every code with its label and the rule applied here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from nextgen_ml.governance.mondo import cardio_subtree

#: DUO release whose term definitions the rules below follow.
DUO_VERSION = "DUO 2021-02-23 (v2)"

#: Keys a dataset-level consent may use to parameterise the GS / IS / US / PS / TS modifiers.
CONSENT_PARAMETERS: tuple[str, ...] = ("regions", "institutions", "users", "projects", "expires")


@dataclass(frozen=True)
class ConsentCodes:
    """The consent attached to a record or dataset.

    Args:
        codes: DUO CURIEs, e.g. ``("DUO:0000007", "DUO:0000045")``.
        diseases: MONDO CURIEs restricting DS (``DUO:0000007``).
        parameters: optional values for modifiers whose scope a CURIE alone cannot carry: ``regions`` (GS),
            ``institutions`` (IS), ``users`` (US), ``projects`` (PS), ``expires`` (TS, one ISO date).
    """

    codes: tuple[str, ...]
    diseases: tuple[str, ...] = ()
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", tuple(self.codes))
        object.__setattr__(self, "diseases", tuple(self.diseases))
        unknown = set(self.parameters) - set(CONSENT_PARAMETERS)
        if unknown:
            raise ValueError(f"consent parameters: unknown keys {sorted(unknown)}; allowed {CONSENT_PARAMETERS}")
        for disease in self.diseases:
            if not str(disease).startswith("MONDO:"):
                raise ValueError(f"consent.diseases: {disease!r} is not a MONDO CURIE")

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any] | None, where: str = "consent") -> ConsentCodes:
        """Build from a record's ``consent`` struct or a dataset's metadata ``consent`` object.

        Args:
            obj: ``{"codes": [...], "diseases": [...], optional parameter keys}``.
            where: names the record or dataset in error messages.
        """
        if not isinstance(obj, Mapping) or obj.get("codes") is None:
            raise ValueError(f"{where}: consent must be an object with a 'codes' list of DUO CURIEs, got {obj!r}")
        params = {k: _as_tuple(obj[k]) for k in CONSENT_PARAMETERS if obj.get(k) is not None}
        return cls(tuple(obj["codes"]), tuple(obj.get("diseases") or ()), params)


def _as_tuple(value: Any) -> tuple[str, ...]:
    return (str(value),) if isinstance(value, (str, dt.date)) else tuple(str(v) for v in value)


@dataclass(frozen=True)
class ResearchPurpose:
    """What an experiment will do with the data, declared before any record is read.

    Args:
        requester: who asks (user or service id); recorded in the audit log and checked by US.
        disease: MONDO CURIE of the disease studied, or None for general health/biomedical research.
        health_research: False for non-health research (e.g. social science); only GRU/NRES permit it.
        population_origins: the study of population origins or ancestry (permitted by GRU, NRES, POA).
        methods_development: development of methods, software or algorithms (restricted by NMDS).
        commercial: the use is commercial (forbidden by NCU, NPUNCU).
        for_profit: the requesting organisation is for-profit (forbidden by NPU, NPUNCU).
        genetic_study: a genetic study (required by GSO).
        irb_approval: ethics/IRB approval is in place (required by IRB).
        collaboration_agreed: collaboration with the primary investigators is agreed (required by COL).
        publication_agreed: results will be made public (required by PUB).
        return_derived_data: agree (True) / refuse (False) / not stated (None) to return derived data (RTN).
        moratorium_accepted: accept (True) / refuse (False) / not stated (None) a publication moratorium (MOR).
        region: where the data will be used (checked by GS when the consent lists regions).
        institution: the requesting institution (checked by IS when the consent lists institutions).
        project: the approved project id (checked by PS when the consent lists projects).
        use_date: date of use (checked by TS against ``expires``); today when None.
        strict: refuse records whose consent carries a user (US), region (GS), institution (IS), project (PS) or
            time (TS) restriction unless the purpose positively matches it (the consent lists the scope and the
            purpose states a value inside it; for TS an ``expires`` date is known and not passed). Without
            ``strict`` such a restriction only refuses a purpose that states a value outside its scope.
    """

    requester: str
    disease: str | None = None
    health_research: bool = True
    population_origins: bool = False
    methods_development: bool = False
    commercial: bool = False
    for_profit: bool = False
    genetic_study: bool = False
    irb_approval: bool = False
    collaboration_agreed: bool = False
    publication_agreed: bool = False
    return_derived_data: bool | None = None
    moratorium_accepted: bool | None = None
    region: str | None = None
    institution: str | None = None
    project: str | None = None
    use_date: dt.date | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.requester, str) or not self.requester.strip():
            raise ValueError(f"requester must be a non-empty id, got {self.requester!r}")
        if self.disease is not None and not str(self.disease).startswith("MONDO:"):
            raise ValueError(f"disease must be a MONDO CURIE (e.g. 'MONDO:0005252') or None, got {self.disease!r}")
        if self.disease is not None and not self.health_research:
            raise ValueError("disease: a disease-specific purpose is health research; set health_research=True")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for audit records)."""
        out = asdict(self)
        out["use_date"] = None if self.use_date is None else self.use_date.isoformat()
        return out

    def describe(self) -> str:
        """Short human-readable summary, used in error messages."""
        if self.population_origins:
            topic = "population origins/ancestry research"
        elif self.disease is not None:
            topic = f"research on {cardio_subtree().label(self.disease)} ({self.disease})"
        else:
            topic = "health/biomedical research" if self.health_research else "non-health research"
        flags = [
            name for name in ("methods_development", "commercial", "for_profit", "genetic_study") if getattr(self, name)
        ]
        return f"{topic} by {self.requester!r}" + (f" [{', '.join(flags)}]" if flags else "")


@dataclass(frozen=True)
class Decision:
    """The outcome of matching one consent against one purpose.

    Args:
        allowed: whether the purpose is permitted.
        reason: human-readable explanation.
        code: the DUO CURIE that decided (the refusing code, or the permitting permission); ``"none"`` when
            the consent has no permission code, ``"unknown"`` for an unrecognised code.
        conditions: obligations that come with an allowed use (e.g. ``"RTN: return derived data"``).
    """

    allowed: bool
    reason: str
    code: str
    conditions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Grouping key for reports: ``"<ABBR> (<CURIE>)"``."""
        term = TERMS.get(self.code)
        return f"{term.abbr} ({term.curie})" if term else self.code


Check = Callable[[ConsentCodes, ResearchPurpose], "str | None"]


@dataclass(frozen=True)
class DuoTerm:
    """One DUO term and the rule this module applies to it.

    Args:
        curie: DUO CURIE.
        abbr: DUO shorthand (GRU, HMB, ...).
        label: DUO label.
        kind: ``"permission"`` or ``"modifier"``.
        rule: the rule applied, in words (docs/governance.md repeats it).
        check: returns None when the purpose satisfies the term, else the refusal reason.
    """

    curie: str
    abbr: str
    label: str
    kind: str
    rule: str
    check: Check


def _within_diseases(consent: ConsentCodes, disease: str | None) -> bool:
    tree = cardio_subtree()
    return disease is not None and any(tree.is_descendant(disease, d) for d in consent.diseases)


def _ds(consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
    if not consent.diseases:
        return "DS consent lists no MONDO disease, so no use can be matched to it"
    if purpose.population_origins:
        return "DS does not cover population origins/ancestry research"
    if purpose.disease is None:
        return f"DS limits use to {', '.join(consent.diseases)}; the purpose names no disease"
    if not _within_diseases(consent, purpose.disease):
        return f"DS limits use to {', '.join(consent.diseases)} and subclasses; purpose studies {purpose.disease}"
    return None


def _hmb(consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
    if purpose.population_origins:
        return "HMB excludes the study of population origins or ancestry"
    if not purpose.health_research:
        return "HMB limits use to health/medical/biomedical research"
    return None


def _nmds(consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
    if not purpose.methods_development:
        return None
    ds_ok = purpose.disease is not None and (
        "DUO:0000007" not in consent.codes or _within_diseases(consent, purpose.disease)
    )
    return None if ds_ok else "NMDS forbids methods development outside the consented disease"


def _listed(key: str, value: Callable[[ResearchPurpose], str | None], abbr: str) -> Check:
    def check(consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
        allowed, stated = consent.parameters.get(key), value(purpose)
        if allowed and stated is not None and stated not in allowed:
            return f"{abbr} limits use to {key} {list(allowed)}; the purpose states {stated!r}"
        return None

    return check


def _ts(consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
    expires = consent.parameters.get("expires")
    if not expires:
        return None
    when = purpose.use_date or dt.date.today()
    limit = dt.date.fromisoformat(expires[0])
    return f"TS: consent expired on {limit.isoformat()} (use date {when.isoformat()})" if when > limit else None


def _refuse_if(flag: str, value: object, message: str) -> Check:
    return lambda consent, purpose: message if getattr(purpose, flag) is value else None


def _term(curie: str, abbr: str, label: str, kind: str, rule: str, check: Check) -> DuoTerm:
    return DuoTerm(curie, abbr, label, kind, rule, check)


_P, _M = "permission", "modifier"
_TERM_LIST: tuple[DuoTerm, ...] = (
    _term("DUO:0000004", "NRES", "no restriction", _P, "permits any purpose", lambda c, p: None),
    _term(
        "DUO:0000042",
        "GRU",
        "general research use",
        _P,
        "permits any purpose, incl. health, disease-specific, methods and ancestry research",
        lambda c, p: None,
    ),
    _term(
        "DUO:0000006",
        "HMB",
        "health or medical or biomedical research",
        _P,
        "permits health/biomedical research incl. any disease; refuses ancestry and non-health research",
        _hmb,
    ),
    _term(
        "DUO:0000007",
        "DS",
        "disease specific research",
        _P,
        "permits research on the listed MONDO diseases or their subclasses only",
        _ds,
    ),
    _term(
        "DUO:0000011",
        "POA",
        "population origins or ancestry research only",
        _P,
        "permits population origins/ancestry research only",
        _refuse_if("population_origins", False, "POA limits use to population origins/ancestry research"),
    ),
    _term(
        "DUO:0000045",
        "NPU",
        "not-for-profit organisation use only",
        _M,
        "refuses for-profit requesters",
        _refuse_if("for_profit", True, "NPU limits use to not-for-profit organisations"),
    ),
    _term(
        "DUO:0000046",
        "NCU",
        "non-commercial use only",
        _M,
        "refuses commercial purposes",
        _refuse_if("commercial", True, "NCU forbids commercial use"),
    ),
    _term(
        "DUO:0000018",
        "NPUNCU",
        "not for profit, non commercial use only",
        _M,
        "refuses for-profit requesters and commercial purposes",
        lambda c, p: "NPUNCU forbids for-profit or commercial use" if p.for_profit or p.commercial else None,
    ),
    _term(
        "DUO:0000015",
        "NMDS",
        "no general methods research",
        _M,
        "refuses methods development unless it targets a named disease (within the DS diseases if DS is present)",
        _nmds,
    ),
    _term(
        "DUO:0000016",
        "GSO",
        "genetic studies only",
        _M,
        "refuses purposes that are not genetic studies",
        _refuse_if("genetic_study", False, "GSO limits use to genetic studies"),
    ),
    _term(
        "DUO:0000021",
        "IRB",
        "ethics approval required",
        _M,
        "refuses purposes without IRB/ethics approval",
        _refuse_if("irb_approval", False, "IRB requires ethics approval; the purpose declares none"),
    ),
    _term(
        "DUO:0000020",
        "COL",
        "collaboration required",
        _M,
        "refuses purposes without an agreed collaboration with the primary investigators",
        _refuse_if("collaboration_agreed", False, "COL requires collaboration with the primary investigators"),
    ),
    _term(
        "DUO:0000019",
        "PUB",
        "publication required",
        _M,
        "refuses purposes that do not commit to publishing results",
        _refuse_if("publication_agreed", False, "PUB requires results to be made public"),
    ),
    _term(
        "DUO:0000029",
        "RTN",
        "return to database or resource",
        _M,
        "recorded as a condition; refuses only a purpose that declines to return derived data",
        _refuse_if("return_derived_data", False, "RTN requires derived data to be returned"),
    ),
    _term(
        "DUO:0000024",
        "MOR",
        "publication moratorium",
        _M,
        "recorded as a condition; refuses only a purpose that rejects the moratorium",
        _refuse_if("moratorium_accepted", False, "MOR requires accepting the publication moratorium"),
    ),
    _term(
        "DUO:0000025",
        "TS",
        "time limit on use",
        _M,
        "recorded as a condition; refuses use after the consent's `expires` date when one is given",
        _ts,
    ),
    _term(
        "DUO:0000022",
        "GS",
        "geographical restriction",
        _M,
        "recorded as a condition; refuses a stated region outside the consent's `regions`",
        _listed("regions", lambda p: p.region, "GS"),
    ),
    _term(
        "DUO:0000028",
        "IS",
        "institution specific restriction",
        _M,
        "recorded as a condition; refuses a stated institution outside the consent's `institutions`",
        _listed("institutions", lambda p: p.institution, "IS"),
    ),
    _term(
        "DUO:0000026",
        "US",
        "user specific restriction",
        _M,
        "recorded as a condition; refuses a requester outside the consent's `users`",
        _listed("users", lambda p: p.requester, "US"),
    ),
    _term(
        "DUO:0000027",
        "PS",
        "project specific restriction",
        _M,
        "recorded as a condition; refuses a stated project outside the consent's `projects`",
        _listed("projects", lambda p: p.project, "PS"),
    ),
    _term(
        "DUO:0000044",
        "NPOA",
        "population origins or ancestry research prohibited",
        _M,
        "refuses population origins/ancestry research",
        _refuse_if("population_origins", True, "NPOA forbids population origins/ancestry research"),
    ),
)

#: Every DUO term this module understands, by CURIE.
TERMS: dict[str, DuoTerm] = {t.curie: t for t in _TERM_LIST}
#: The same terms by shorthand (``TERMS_BY_ABBR["GRU"]``).
TERMS_BY_ABBR: dict[str, DuoTerm] = {t.abbr: t for t in _TERM_LIST}


def permits(consent: ConsentCodes, purpose: ResearchPurpose) -> Decision:
    """Decide whether ``consent`` allows ``purpose``.

    Args:
        consent: the record's or dataset's DUO codes (and MONDO diseases for DS).
        purpose: the declared research purpose.

    Returns:
        A :class:`Decision`. Unknown codes and consents without a permission code are refused (fail closed).
    """
    unknown = [c for c in consent.codes if c not in TERMS]
    if unknown:
        return Decision(False, f"unknown DUO code {unknown[0]!r}; refusing (fail closed)", "unknown")
    terms = [TERMS[c] for c in dict.fromkeys(consent.codes)]
    permissions = [t for t in terms if t.kind == _P]
    if not permissions:
        return Decision(False, "consent has no DUO permission code (GRU, HMB, DS, POA or NRES)", "none")
    refusals = [(t, t.check(consent, purpose)) for t in permissions]
    granted = [t for t, why in refusals if why is None]
    if not granted:
        term, why = refusals[0]
        return Decision(False, str(why), term.curie)
    for term in terms:
        if term.kind == _M:
            why = term.check(consent, purpose)
            if why is not None:
                return Decision(False, why, term.curie)
    if purpose.strict:
        for term in terms:
            why = _strict_check(term.curie, consent, purpose)
            if why is not None:
                return Decision(False, why, term.curie)
    conditions = tuple(f"{t.abbr}: {t.label}" for t in terms if t.kind == _M)
    return Decision(True, f"permitted by {granted[0].abbr} ({granted[0].curie})", granted[0].curie, conditions)


#: Restriction modifiers that a strict purpose must positively match: CURIE -> (consent key, purpose field).
STRICT_SCOPES: dict[str, tuple[str, str]] = {
    "DUO:0000026": ("users", "requester"),
    "DUO:0000022": ("regions", "region"),
    "DUO:0000028": ("institutions", "institution"),
    "DUO:0000027": ("projects", "project"),
    "DUO:0000025": ("expires", "use_date"),
}


def _strict_check(curie: str, consent: ConsentCodes, purpose: ResearchPurpose) -> str | None:
    """Why a strict purpose does not positively match the restriction ``curie`` (None when it does)."""
    if curie not in STRICT_SCOPES:
        return None
    key, attr = STRICT_SCOPES[curie]
    abbr = TERMS[curie].abbr
    scope = consent.parameters.get(key)
    if not scope:
        return f"{abbr} (strict): the consent's {key} are not known, so the restriction cannot be matched"
    if curie == "DUO:0000025":
        return _ts(consent, purpose)  # use_date defaults to today, so the date is always stated
    stated = getattr(purpose, attr)
    if stated is None or str(stated) not in scope:
        return f"{abbr} (strict): the purpose's {attr} {stated!r} is not among the consent's {key} {list(scope)}"
    return None


def parse_codes(values: Sequence[str]) -> tuple[str, ...]:
    """Map shorthands (``"GRU"``) or CURIEs to CURIEs; raises ValueError naming an unknown value."""
    out = []
    for value in values:
        term = TERMS.get(value) or TERMS_BY_ABBR.get(value.upper())
        if term is None:
            raise ValueError(f"codes: {value!r} is neither a known DUO CURIE nor a shorthand ({sorted(TERMS_BY_ABBR)})")
        out.append(term.curie)
    return tuple(out)
