"""Clinical-note de-identification: identifiers ingest knows, pattern PHI (scrubadub), dates reduced to the year.

Passes, in order:

1. Full dates → the year (:func:`nextgen_ml.ingest.deid.scrub_text`, and dates in words such as ``May 10,
   2022``), so no detector reads a date as a number.
2. **Pattern PHI** with `scrubadub <https://github.com/LeapBeyond/scrubadub>`_ (offline detectors: e-mail,
   phone numbers through Google's ``phonenumbers`` in US and GB formats, URLs, UK postcodes, national insurance
   and tax numbers, credentials, credit cards, licence plates) → ``{{PHONE}}``, ``{{EMAIL}}`` ...
3. **Known identifiers**: the hospital id from the manifest, the FHIR Patient's identifiers, telecom values
   and address parts, and the patient's name parts: every occurrence → ``[ID]`` / ``[NAME]`` (case-insensitive;
   separators may differ, ``MRN 00-1234`` for ``MRN-001234``).
4. What the detectors leave: bare URLs, street addresses (``<number> <Name> Street/Road/Lane/...``) →
   ``[ADDRESS]`` and digit runs of six or more (an MRN, an NHS or social-security number) → ``[ID]``.

It is a safety net with measured recall (docs/results.md), not a guarantee: names of clinicians or relatives
that ingest does not know are not removed (no model-based name detection runs offline here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from nextgen_ml.ingest.deid import scrub_text

#: scrubadub locales whose detectors run (phone numbers are parsed per region).
LOCALES: tuple[str, ...] = ("en_US", "en_GB")
_LONG_DIGITS = re.compile(r"(?<!\w)(?<!\d\.)\+?\d(?:[ -]?\d){5,}(?!\w)(?!\.\d)")
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Close|Crescent|Terrace)\b"
)
_BARE_URL = re.compile(r"\bhttps?://\S+")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_WORD_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(\d{{4}})|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+(\d{{4}}))\b",
    re.IGNORECASE,
)


@cache
def _scrubbers() -> tuple[Any, ...]:
    import scrubadub

    return tuple(scrubadub.Scrubber(locale=locale) for locale in LOCALES)


def _flexible(identifier: str) -> re.Pattern[str]:
    """``identifier`` matched case-insensitively, separators between its characters optional or different."""
    chars = [re.escape(c) for c in re.sub(r"[\s\-_/.:#]", "", identifier)]
    return re.compile(r"(?<!\w)" + r"[\s\-_/.:#]*".join(chars) + r"(?!\w)", re.IGNORECASE)


def scrub_known(text: str, identifiers: Iterable[str] = (), names: Iterable[str] = ()) -> str:
    """Replace every identifier ingest knows (``[ID]``) and the patient's name parts (``[NAME]``)."""
    for ident in sorted({i.strip() for i in identifiers if i and len(i.strip()) >= 3}, key=len, reverse=True):
        text = _flexible(ident).sub("[ID]", text)
    return scrub_text(text, names)


def scrub_patterns(text: str) -> str:
    """Replace pattern PHI with scrubadub's detectors (e-mail, phone, URL, postcode, national numbers...)."""
    for scrubber in _scrubbers():
        text = scrubber.clean(text)
    return text


def scrub_leftovers(text: str) -> str:
    """Replace what the detectors leave: bare URLs, street addresses and long digit runs (ids)."""
    text = _BARE_URL.sub("{{URL}}", text)
    text = _STREET.sub("[ADDRESS]", text)
    return _LONG_DIGITS.sub("[ID]", text)


def scrub_note(text: str, identifiers: Iterable[str] = (), names: Iterable[str] = ()) -> str:
    """De-identify one clinical note (see the module docs for the passes).

    Args:
        text: the note.
        identifiers: identifiers ingest knows for this patient (hospital id, FHIR identifiers, telecom, address).
        names: the patient's name parts.
    """
    text = _WORD_DATE.sub(lambda m: m.group(1) or m.group(2), scrub_text(text))  # dates → year, first
    text = scrub_patterns(text)
    return scrub_leftovers(scrub_known(text, identifiers, names))


def scrub_text_columns(columns: Any, identifiers: Iterable[str]) -> Any:
    """``columns`` (a reader's converted columns, or a failure: returned as is) with the patient's known
    identifiers (e.g. the manifest's hospital id, which readers never see) scrubbed from ``text`` values; a
    metadata string that carries one (e.g. an allow-listed DICOM tag) becomes ``[REDACTED]``."""
    from dataclasses import replace

    if not isinstance(columns, list):
        return columns
    identifiers = list(identifiers)
    out = []
    for c in columns:
        if c.column == "text":
            c = replace(c, value=scrub_known(c.value, identifiers))
        meta = {
            k: "[REDACTED]" if isinstance(v, str) and scrub_known(v, identifiers) != v else v
            for k, v in c.metadata.items()
        }
        out.append(replace(c, metadata=meta) if meta != c.metadata else c)
    return out
