"""A bundled subtree of the Mondo Disease Ontology (MONDO) for cardiovascular disease.

DUO's disease-specific permission (DS, ``DUO:0000007``) restricts use to a disease *and its subclasses*, so
consent matching needs the ``is_a`` hierarchy. The subtree ships as ``mondo_cardio.json`` next to this module
(no download at run time); it also maps the record's label vocabulary (``labels.diagnosis`` /
``labels.findings``) to MONDO terms for cohort discovery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

_RESOURCE = "mondo_cardio.json"


@dataclass(frozen=True)
class MondoSubtree:
    """An ``is_a`` hierarchy of MONDO terms.

    Args:
        labels: term CURIE → human-readable label.
        parents: term CURIE → parent CURIEs (within the subtree).
        record_labels: record label name (e.g. ``"heart_failure"``) → MONDO CURIE.
    """

    labels: dict[str, str]
    parents: dict[str, tuple[str, ...]]
    record_labels: dict[str, str]

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> MondoSubtree:
        terms = obj["terms"]
        for curie, term in terms.items():
            for parent in term["parents"]:
                if parent not in terms:
                    raise ValueError(f"MONDO term {curie}: parent {parent} is not in the subtree")
        return cls(
            labels={c: t["label"] for c, t in terms.items()},
            parents={c: tuple(t["parents"]) for c, t in terms.items()},
            record_labels=dict(obj.get("record_labels", {})),
        )

    def ancestors(self, term: str) -> set[str]:
        """All ancestors of ``term`` (excluding itself); empty for a term outside the subtree."""
        seen: set[str] = set()
        stack = list(self.parents.get(term, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self.parents.get(node, ()))
        return seen

    def is_descendant(self, term: str, ancestor: str) -> bool:
        """True when ``term`` is ``ancestor`` or one of its subclasses."""
        return term == ancestor or ancestor in self.ancestors(term)

    def descendants(self, ancestor: str) -> set[str]:
        """``ancestor`` and every known subclass of it."""
        return {t for t in self.labels if self.is_descendant(t, ancestor)} | {ancestor}

    def label(self, term: str) -> str:
        """Label of ``term``; the CURIE itself when it is outside the subtree."""
        return self.labels.get(term, term)


@lru_cache(maxsize=1)
def cardio_subtree() -> MondoSubtree:
    """The bundled cardiovascular MONDO subtree (loaded once)."""
    text = resources.files("nextgen_ml.governance").joinpath(_RESOURCE).read_text()
    return MondoSubtree.from_dict(json.loads(text))


def is_descendant(term: str, ancestor: str) -> bool:
    """True when MONDO ``term`` is ``ancestor`` or a subclass of it in the bundled subtree.

    Args:
        term: MONDO CURIE, e.g. ``"MONDO:0005045"`` (hypertrophic cardiomyopathy).
        ancestor: MONDO CURIE, e.g. ``"MONDO:0004994"`` (cardiomyopathy).
    """
    for name, value in (("term", term), ("ancestor", ancestor)):
        if not isinstance(value, str) or not value.startswith("MONDO:"):
            raise ValueError(f"{name} must be a MONDO CURIE like 'MONDO:0004994', got {value!r}")
    return cardio_subtree().is_descendant(term, ancestor)
