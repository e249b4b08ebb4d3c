import math

import numpy as np
import pyarrow as pa
import pytest

from nextgen_ml.data.codec import decode_ecg, decode_image, encode_ecg, encode_image
from nextgen_ml.data.schema import ECG_LEADS, RECORD_SCHEMA, SCHEMA_VERSION, TABULAR_VARIABLES
from nextgen_ml.data.validate import RecordValidationError, validate_record, validate_table
from tests.conftest import make_record


def test_schema_is_versioned_and_tabular_fields_carry_units_and_codes():
    assert RECORD_SCHEMA.metadata[b"nextgen_ml.schema_version"].decode() == SCHEMA_VERSION
    tab = RECORD_SCHEMA.field("tabular").type
    for var in TABULAR_VARIABLES:
        meta = tab.field(var.name).metadata
        assert meta[b"code"].decode() == var.code
        assert meta[b"unit"].decode() == (var.unit or "")
        assert b":" in meta[b"code"]


def test_good_record_validates_and_round_trips_through_arrow():
    rec = make_record()
    validate_record(rec, panel_size=4)
    back = pa.Table.from_pylist([rec], schema=RECORD_SCHEMA).to_pylist()[0]
    assert back["patient_id"] == "p0"
    np.testing.assert_allclose(decode_ecg(back["ecg"]), decode_ecg(rec["ecg"]))
    assert decode_image(back["image"]).shape == (2, 32, 32)
    assert math.isnan(back["genotype"]["dosages"][3])


def test_missing_modality_is_null_not_zeros():
    rec = make_record(ecg=None, image=None, genotype=None, text=None)
    validate_record(rec)
    row = pa.Table.from_pylist([rec], schema=RECORD_SCHEMA).to_pylist()[0]
    assert row["ecg"] is None and row["image"] is None and row["genotype"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"patient_id": ""}, "patient_id"),
        ({"consent": {"codes": [], "diseases": None}}, "consent.codes"),
        ({"tabular": {"age": 250.0}}, "tabular.age"),
        ({"tabular": {"sbp": float("nan")}}, "tabular.sbp"),
        ({"tabular": {"sex": "unknown"}}, "tabular.sex"),
        ({"tabular": {"heart_rate_typo": 60.0}}, "tabular.heart_rate_typo"),
        ({"genotype": {"dosages": [0.0, 3.0, 1.0, 0.0], "prs": None}}, "genotype.dosages"),
        ({"labels": {"diagnosis": "flu"}}, "labels.diagnosis"),
        ({"labels": {"findings": ["broken_heart"]}}, "labels.findings"),
        ({"labels": {"time_to_mace": {"time": -1.0, "event": 1}}}, "labels.time_to_mace"),
        ({"labels": {"heart_disease": 1}}, "labels.heart_disease"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_record_error_names_record_and_field(overrides, field):
    rec = make_record(pid="patient-42", **overrides)
    with pytest.raises(RecordValidationError) as err:
        validate_record(rec, panel_size=4)
    assert err.value.field == field
    assert "patient-42" in str(err.value) or field == "patient_id"


def test_corrupt_payloads_are_reported():
    ecg = make_record()["ecg"]
    with pytest.raises(RecordValidationError, match="ecg.signal"):
        validate_record(make_record(ecg=dict(ecg, signal=ecg["signal"][:-10])))
    image = make_record()["image"]
    with pytest.raises(RecordValidationError, match="image.pixels"):
        validate_record(make_record(image=dict(image, shape=[3, 32, 32])))
    with pytest.raises(RecordValidationError, match="image.spacing_mm"):
        validate_record(make_record(image=dict(image, spacing_mm=[0.0, 1.5])))
    with pytest.raises(RecordValidationError, match="genotype.dosages"):
        validate_record(make_record(), panel_size=10)


def test_codec_rejects_nan_and_wrong_shapes():
    with pytest.raises(ValueError, match="NaN"):
        encode_ecg(np.full((12, 10), np.nan), 500)
    with pytest.raises(ValueError, match="n_leads=12"):
        encode_ecg(np.zeros((8, 10)), 500, ECG_LEADS)
    with pytest.raises(ValueError, match="dtype"):
        encode_image(np.zeros((2, 4, 4), dtype=np.float64), [1, 1])
    with pytest.raises(ValueError, match="spacing_mm"):
        encode_image(np.zeros((2, 4, 4), dtype=np.uint8), [1, 1, 1])


def test_ecg_codec_keeps_microvolt_precision():
    x = np.random.default_rng(1).normal(0, 500, (12, 300))
    back = decode_ecg(encode_ecg(x, 500)) * 1000
    assert np.abs(back - x).max() <= 0.5 + 1e-6


def test_validate_table_checks_every_row():
    table = pa.Table.from_pylist([make_record("a"), make_record("b", tabular={"bmi": 5.0})], schema=RECORD_SCHEMA)
    with pytest.raises(RecordValidationError, match="'b'.*tabular.bmi"):
        validate_table(table)
