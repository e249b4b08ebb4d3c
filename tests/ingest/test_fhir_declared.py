"""FHIR bundles fill the variables and labels a data dictionary declares with a code (issue 15)."""

from __future__ import annotations

import pytest

from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.ingest.deid import Pseudonymiser
from nextgen_ml.ingest.fhir import read_fhir_bundle
from tests.ingest.conftest import fhir_fixture

DICTIONARY = DataDictionary.parse({
    "variables": {
        "dbp": {"kind": "numeric", "code": "LOINC:8462-4"},  # a component of the blood-pressure panel
        "type2_diabetes": {"kind": "binary", "code": "SNOMED:44054006"},
        "heart_failure": {"kind": "binary", "code": "SNOMED:84114007"},
        "bmi": {"kind": "numeric"},
    },
    "labels": {
        "diabetic": {"kind": "binary", "code": "SNOMED:44054006"},
        "infarction": {"kind": "binary", "code": "ICD10:I21"},
        "ldl_level": {"kind": "regression", "unit": "mg/dL", "code": "LOINC:13457-7"},
        "mace": {"kind": "binary"},
    },
})  # fmt: skip


def test_coded_declarations_are_read_from_the_bundle():
    fhir_bundle = fhir_fixture()
    tabular, _text, labels = read_fhir_bundle(fhir_bundle, Pseudonymiser(b"k" * 16), dictionary=DICTIONARY)
    values = tabular.value
    assert set(values) <= set(DICTIONARY.variables)  # nothing undeclared enters the record
    assert values["bmi"] == pytest.approx(27.4)  # the catalogue reader, restricted to declared variables
    assert values["dbp"] is not None and 40 <= values["dbp"] <= 130
    assert values["type2_diabetes"] == "yes" and values["heart_failure"] == "no"
    # an outcome absent from the bundle stays unknown (no evidence of no event)
    assert labels.value == {"diabetic": 1, "ldl_level": pytest.approx(150.0)}


def test_without_a_dictionary_the_reader_keeps_its_catalogue_output():
    fhir_bundle = fhir_fixture()
    tabular, _text = read_fhir_bundle(fhir_bundle, Pseudonymiser(b"k" * 16))
    assert tabular.value["diabetes"] == "yes" and "type2_diabetes" not in tabular.value
