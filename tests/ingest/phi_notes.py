"""A planted-PHI test set: clinical notes built from segments labelled PHI or clinical content.

Each note is a list of ``(text, kind)`` segments; ``kind`` is a PHI type (``name``, ``mrn``, ``fhir_id``,
``phone``, ``email``, ``address``, ``date``, ``id_number``, ``url``) or ``None`` for clinical text that must
survive. :func:`score` scrubs every note and counts, per segment, whether PHI was removed and whether clinical
content was kept.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

Segment = tuple[str, str | None]


@dataclass(frozen=True)
class Patient:
    given: str
    family: str
    mrn: str
    fhir_id: str
    phone: str
    email: str
    street: str


PATIENTS: tuple[Patient, ...] = (
    Patient("Dulcinea", "Quixote", "MRN-004711", "PX-99887766", "(617) 555-0134", "dq@toboso.es", "12 Windmill Lane"),
    Patient("Sancho", "Panza", "H123456", "778812345", "+44 20 7946 0958", "sancho.p@example.org", "7 Barataria Road"),
    Patient("Aldonza", "Lorenzo", "A-99-1234", "NHS9434765919", "0161 496 0732", "aldonza@mail.com", "3 Mancha Street"),
    Patient(
        "Alonso", "Quijano", "MRN 2024-0042", "550-12-3456", "+1 212 555 0172", "aq@hidalgo.net", "221B Baker Street"
    ),
)

#: Clinical phrases that contain numbers, units and abbreviations a scrubber must not remove.
CLINICAL: tuple[str, ...] = (
    "LDL 3.9 mmol/L",
    "BP 142/88 mmHg",
    "EF 35%",
    "HbA1c 53 mmol/mol",
    "ST elevation in V2-V4",
    "aspirin 75 mg daily",
    "NYHA class III",
    "QRS 128 ms",
    "troponin 45 ng/L",
    "heart rate 88 bpm",
    "atorvastatin 40 mg",
    "follow-up in 6 weeks",
)


def notes() -> list[tuple[Patient, list[Segment]]]:
    """Twenty notes, every PHI type planted several times among clinical phrases; every third note also holds
    PHI that ingest cannot know (a relative's first name, a date in words, a short ward id)."""
    out = []
    for k in range(20):
        p = PATIENTS[k % len(PATIENTS)]
        c = [CLINICAL[(k + j) % len(CLINICAL)] for j in range(4)]
        segments: list[Segment] = [
            ("Seen ", None),
            (f"{p.given} {p.family}" if k % 2 else f"Mr {p.family}", "name"),
            (" on ", None),
            ("2022-05-10" if k % 3 else "10/05/2022", "date"),
            (". ", None),
            (c[0], None),
            (", ", None),
            (c[1], None),
            (". Hospital number ", None),
            (p.mrn, "mrn"),
            (", record ", None),
            (p.fhir_id, "fhir_id"),
            (f". {c[2]}. Call back on ", None),
            (p.phone, "phone"),
            (" or ", None),
            (p.email, "email"),
            (". Lives at ", None),
            (p.street, "address"),
            (f". {c[3]}.", None),
        ]
        if k % 4 == 0:
            segments += [(" Referral letter at ", None), ("https://portal.example.org/r/8812", "url"), (".", None)]
        if k % 5 == 0:
            segments += [(" Social security ", None), ("078-05-1120", "id_number"), (".", None)]
        if k % 3 == 0:  # harder: a relative ingest does not know, a dotted phone, a date in words, a short id
            segments += [
                (" Wife ", None),
                ("Teresa", "name"),
                (" called from ", None),
                ("617.555.0199", "phone"),
                (" on ", None),
                ("May 10, 2022", "date"),
                (", ward ", None),
                ("ID 4471-AB", "id_number"),
                (".", None),
            ]
        out.append((p, segments))
    return out


def score(scrub: Callable[[str, Patient], str]) -> dict[str, object]:
    """Scrub every note; PHI recall (per planted segment) and precision (removed PHI / all removed segments).

    A PHI segment counts as removed when none of its words of 3+ letters or 2+ digits survives as a word (a date
    counts as removed when only its year survives; generic words such as "Street" are ignored); a clinical
    segment counts as damaged when it does not survive verbatim.
    """
    removed, leaked, damaged, kept = Counter(), Counter(), 0, 0
    leaks: list[str] = []
    for patient, segments in notes():
        text = "".join(t for t, _ in segments)
        clean = scrub(text, patient)
        for seg, kind in segments:
            if kind is None:
                if seg.strip(" .,") and seg.strip(" .,") not in clean:
                    damaged += 1
                elif seg.strip(" .,"):
                    kept += 1
                continue
            parts = [w for w in _words(seg) if not (kind == "date" and len(w) == 4)]
            if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", clean) for w in parts):
                leaked[kind] += 1
                leaks.append(seg)
            else:
                removed[kind] += 1
    n_phi = sum(removed.values()) + sum(leaked.values())
    n_removed = sum(removed.values())
    return {
        "phi_segments": n_phi,
        "recall": n_removed / n_phi,
        "precision": n_removed / (n_removed + damaged) if n_removed + damaged else 1.0,
        "clinical_kept": kept / (kept + damaged),
        "leaked_by_kind": dict(leaked),
        "leaks": sorted(set(leaks)),
    }


def _words(segment: str) -> list[str]:
    words = re.findall(r"[A-Za-z]{3,}|\d{2,}", segment)  # a lone digit ("3 Mancha Street") identifies nothing
    return [w for w in words if w.lower() not in {"mrn", "nhs", "com", "org", "street", "road", "lane"}]
