"""FHIR R4 bundles, clinical CSVs and unit conversion into the record's tabular variables."""

from __future__ import annotations

import json

import pytest

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.schema import TABULAR_VARIABLES
from nextgen_ml.data.validate import validate_record
from nextgen_ml.ingest.csv_clinical import read_clinical_csv
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.fhir import read_fhir_bundle
from nextgen_ml.ingest.manifest import CsvSource
from nextgen_ml.ingest.units import to_record_unit

from .conftest import fhir_fixture


def test_fhir_bundle_maps_loinc_units_conditions_and_medications(pseudo):
    tabular, text = read_fhir_bundle(fhir_fixture(), pseudo)
    tab = tabular.value
    assert set(tab) == {v.name for v in TABULAR_VARIABLES}
    assert tab["sex"] == "female"
    assert tab["age"] == 2022 - 1958  # birth year and latest visit year only
    assert tab["ldl"] == pytest.approx(150 * 0.02586, abs=1e-3)  # mg/dL → mmol/L
    assert tab["hba1c"] == pytest.approx(0.09148 * 53 + 2.152, abs=1e-3)  # IFCC mmol/mol → NGSP %
    assert tab["sbp"] == pytest.approx(18.0 * 7.50062, abs=0.01)  # kPa → mm[Hg], from the BP panel component
    assert tab["bmi"] == pytest.approx(27.4)
    assert tab["smoking"] == "former"
    assert tab["diabetes"] == "yes" and tab["statin"] == "yes"
    assert tab["anticoagulant"] == "no"  # warfarin statement is "stopped"
    validate_record({"patient_id": "p", "site": "s", "consent": {"codes": ["DUO:0000042"]}, "tabular": tab})
    blob = json.dumps([tab, text.value, tabular.provenance()])
    for identifier in ("Dulcinea", "Quixote", "Windmill", "MRN-998877", "1958-06-17", "2022-05-10", "pat-1"):
        assert identifier not in blob
    assert text.value.startswith("[NAME] [NAME] seen on 2022")


def test_fhir_errors_name_the_problem(tmp_path, pseudo):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IngestError, match="unreadable JSON"):
        read_fhir_bundle(bad, pseudo)
    bundle = json.loads(fhir_fixture().read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    bad.write_text(json.dumps(bundle))
    with pytest.raises(IngestError, match="Patient"):
        read_fhir_bundle(bad, pseudo)
    bundle = json.loads(fhir_fixture().read_text())
    bundle["entry"][1]["resource"]["valueQuantity"]["code"] = "g"  # mass is not a concentration
    bad.write_text(json.dumps(bundle))
    with pytest.raises(IngestError, match="ldl-1"):
        read_fhir_bundle(bad, pseudo)
    bundle["entry"][1]["resource"]["status"] = 12345678
    bundle["entry"][1]["resource"]["code"] = "oops"
    bad.write_text(json.dumps(bundle))
    with pytest.raises(IngestError, match="FHIR R4 Bundle"):
        read_fhir_bundle(bad, pseudo)


def test_csv_column_map(tmp_path):
    csv = tmp_path / "clinical.csv"
    csv.write_text(
        "mrn,gender,yob,visit,ldl_mg,a1c_ifcc,sbp,dm\n"
        "A1,F,1950,2020-02-03,100,48,130,Y\n"
        "A2,M,1970,2021-07-08,,,,N\n"
        "A3,M,1970,2021-07-08,abc,,,N\n"
    )
    source = CsvSource(
        csv,
        "mrn",
        {
            "gender": {"variable": "sex", "values": {"F": "female", "M": "male"}},
            "yob": {"variable": "birth_year"},
            "visit": {"variable": "visit_date"},
            "ldl_mg": {"variable": "ldl", "unit": "mg/dL"},
            "a1c_ifcc": {"variable": "hba1c", "unit": "mmol/mol"},
            "sbp": {"variable": "sbp", "unit": "mm[Hg]"},
            "dm": {"variable": "diabetes", "values": {"Y": "yes", "N": "no"}},
        },
    )
    result = read_clinical_csv(source, SYNTHETIC_DICTIONARY)
    rows = result.tabular
    a1 = rows["A1"].value
    assert a1["sex"] == "female" and a1["age"] == 70 and a1["diabetes"] == "yes"
    assert a1["ldl"] == pytest.approx(2.586) and a1["hba1c"] == pytest.approx(6.543, abs=1e-3)
    assert a1.get("statin") is None  # a CSV without the column says nothing about statins
    assert rows["A2"].value.get("ldl") is None and rows["A2"].value["age"] == 51
    # a value that is not a number becomes null and is reported; the patient is kept
    assert rows["A3"].value["ldl"] is None and not result.errors
    assert [(i.patient, i.where, i.value) for i in result.issues] == [("A3", "row 4.ldl_mg", "abc")]
    with pytest.raises(IngestError, match="missing_col"):
        read_clinical_csv(CsvSource(csv, "mrn", {"missing_col": {"variable": "ldl"}}), SYNTHETIC_DICTIONARY)


@pytest.mark.parametrize(
    ("variable", "value", "unit", "record_unit", "expected"),
    [
        ("ldl", 193.4, "mg/dL", "mmol/L", 5.0013),
        ("hba1c", 42, "mmol/mol", "%", 5.994),
        ("sbp", 16, "kPa", "mm[Hg]", 120.01),
        ("age", 720, "mo", "a", 60.0),
        ("bmi", 25, "kg/m2", "kg/m2", 25.0),
    ],
)
def test_unit_conversion(variable, value, unit, record_unit, expected):
    assert to_record_unit(variable, value, unit, record_unit) == pytest.approx(expected, abs=1e-2)
