"""The bundled MONDO subtree."""

from __future__ import annotations

import pytest

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES
from nextgen_ml.governance.mondo import cardio_subtree, is_descendant


def test_hierarchy() -> None:
    assert is_descendant("MONDO:0005045", "MONDO:0004994")  # HCM is a cardiomyopathy
    assert is_descendant("MONDO:0005045", "MONDO:0004995")  # ... and a cardiovascular disease
    assert is_descendant("MONDO:0004981", "MONDO:0007263")  # AF is a cardiac rhythm disease
    assert is_descendant("MONDO:0005252", "MONDO:0005252")  # reflexive
    assert not is_descendant("MONDO:0004994", "MONDO:0005045")  # not upwards
    assert not is_descendant("MONDO:0004981", "MONDO:0004994")  # not sideways
    assert not is_descendant("MONDO:0000001", "MONDO:0004995")  # unknown term: no ancestry claimed


def test_record_labels_map_into_the_subtree() -> None:
    tree = cardio_subtree()
    for name, term in tree.record_labels.items():
        assert name in DIAGNOSIS_CLASSES or name in FINDING_CLASSES
        assert tree.is_descendant(term, "MONDO:0004995"), name
    assert tree.descendants("MONDO:0004994") == {"MONDO:0004994", "MONDO:0005045", "MONDO:0005021"}


def test_rejects_non_mondo_ids() -> None:
    with pytest.raises(ValueError, match="term"):
        is_descendant("HP:0001638", "MONDO:0004994")
