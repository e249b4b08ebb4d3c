"""Keyed pseudonyms, key handling and note scrubbing."""

from __future__ import annotations

import pytest

from nextgen_ml.ingest.deid import KEY_ENV, Pseudonymiser, resolve_key, scrub_text


def test_pseudonyms_are_keyed_deterministic_and_site_scoped():
    a, b = Pseudonymiser(b"k" * 20), Pseudonymiser(b"j" * 20)
    assert a.patient_id("site_a", "MRN1") == a.patient_id("site_a", "MRN1")
    assert a.patient_id("site_a", "MRN1") != b.patient_id("site_a", "MRN1")
    assert a.patient_id("site_a", "MRN1") != a.patient_id("site_b", "MRN1")
    assert "MRN1" not in a.patient_id("site_a", "MRN1")
    assert a.uid(None) is None and a.uid("1.2.3") != a.uid("1.2.4")


def test_ingest_refuses_to_run_without_a_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=KEY_ENV):
        resolve_key()
    monkeypatch.setenv("MY_KEY", "short")
    with pytest.raises(ValueError, match="MY_KEY"):
        resolve_key("MY_KEY")
    monkeypatch.setenv("MY_KEY", "a-long-enough-secret-key")
    assert resolve_key("MY_KEY") == b"a-long-enough-secret-key"


def test_scrub_text_removes_names_and_reduces_dates():
    text = "Jane DOE (born 17/06/1958) seen 2021-03-04T10:00Z by Dr Smith. Doe reports angina."
    out = scrub_text(text, ["Jane", "Doe"])
    assert "Jane" not in out and "DOE" not in out and "Doe" not in out
    assert "17/06" not in out and "03-04" not in out
    assert "1958" in out and "2021" in out and "angina" in out
