"""Unit tests of the guards: header limits, JSON depth, units, ECG plausibility, VCF calls, failures, paths."""

from __future__ import annotations

import pickle
import tokenize

import numpy as np
import pytest

from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.failure import failure_from
from nextgen_ml.ingest.json_guard import load_json, nesting_depth
from nextgen_ml.ingest.limits import check_ecg_claim, check_image_claim
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.paths import display_uri, redact_paths
from nextgen_ml.ingest.plausibility import check_ecg_amplitude
from nextgen_ml.ingest.units import convert
from nextgen_ml.ingest.vcf import read_vcf_dosages

from ..conftest import PANEL, VCF_TEXT, write_vcf

OPTS = IngestOptions()


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(b'{"a": [1, {"b": "[[[[[[["}]}') == 3
    assert nesting_depth(b'{"a": "\\"[[["}') == 1
    assert nesting_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000


def test_load_json_refuses_depth_size_and_non_finite_numbers(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b"[" * 70 + b"]" * 70)
    with pytest.raises(IngestError, match="nested 70 levels deep"):
        load_json(path, 1 << 20, 64)
    value, depth = load_json(path, 1 << 20, 70), 1  # at the limit it parses
    while value:
        value, depth = value[0], depth + 1
    assert depth == 70
    with pytest.raises(IngestError, match="json_max_bytes"):
        load_json(path, 10, 64)
    path.write_bytes(b'{"v": NaN}')
    with pytest.raises(IngestError, match="NaN is not valid JSON"):
        load_json(path, 1 << 20, 64)
    path.write_bytes(b'{"v": 1e999}')
    with pytest.raises(IngestError, match="non-finite"):
        load_json(path, 1 << 20, 64)


def test_image_claims_are_checked_before_decoding():
    check_image_claim("f", (30, 480, 640, 3), OPTS, "Rows", "NumberOfFrames")  # an echo cine passes
    with pytest.raises(IngestError, match="NumberOfFrames: 20000 frames > image_max_frames"):
        check_image_claim("f", (20000, 4096, 4096), OPTS, "Rows", "NumberOfFrames")
    with pytest.raises(IngestError, match=r"Rows: header claims .* GiB decoded > image_max_bytes"):
        check_image_claim("f", (500, 4096, 4096), OPTS, "Rows", "NumberOfFrames")
    with pytest.raises(IngestError, match="empty or negative"):
        check_image_claim("f", (1, -5, 10), OPTS, "Rows", "NumberOfFrames")


def test_ecg_claims_bound_rate_ratio_and_duration():
    check_ecg_claim("f", 1000.0, 10_000, OPTS)  # 10 s at 1 kHz → 500 Hz passes
    with pytest.raises(IngestError, match="sampling rate 0.01 Hz outside"):
        check_ecg_claim("f", 0.01, 10, OPTS)
    with pytest.raises(IngestError, match="sampling rate nan"):
        check_ecg_claim("f", float("nan"), 10, OPTS)
    with pytest.raises(IngestError, match="factor 40 > ecg_max_resample_ratio"):
        check_ecg_claim("f", 20_000.0, 1000, IngestOptions(ecg_max_resample_ratio=10))
    with pytest.raises(IngestError, match="n_samples: .* > ecg_max_seconds"):
        check_ecg_claim("f", 500.0, 500 * 3600, OPTS)


@pytest.mark.parametrize("unit", ["mV(", "((", "m**V**", "1/0", '"', "exp(", "V" * 100])
def test_malformed_units_are_a_value_error_naming_the_unit(unit):
    with pytest.raises(ValueError, match=r"^unit "):
        convert(1.0, unit, "uV")


def test_pint_token_error_does_not_escape():
    try:
        convert(1.0, "mV(", "uV")
    except tokenize.TokenError:  # pragma: no cover - the bug this guards against
        pytest.fail("TokenError escaped")
    except ValueError as err:
        assert "'mV('" in str(err)


def test_ecg_amplitude_catches_unit_mistakes():
    rng = np.random.default_rng(0)
    ecg_uv = rng.normal(0, 500, (12, 5000))  # a plausible ECG in µV
    check_ecg_amplitude(ecg_uv, "uV", "f", OPTS)
    with pytest.raises(IngestError, match=r"units: \d+\.\d% of samples exceed .* declared unit 'V'"):
        check_ecg_amplitude(ecg_uv * 1e6, "V", "f", OPTS)
    with pytest.raises(IngestError, match=r"units: peak amplitude .* declared unit 'uV'"):
        check_ecg_amplitude(ecg_uv * 1e-6, "uV", "f", OPTS)
    spikes = ecg_uv.copy()
    spikes[0, :3] = 40_000  # a few saturated samples (0.005 %) are tolerated
    check_ecg_amplitude(spikes, "uV", "f", OPTS)


def test_one_impossible_genotype_call_is_made_missing_not_the_file(tmp_path):
    text = VCF_TEXT.replace("0/1:0.9\t1/1:1.8", "0/1:3.5\t1/1:1.8")  # S1 rs5 DS 3.5 is impossible
    result = read_vcf_dosages(write_vcf(tmp_path, text), PANEL, ["S1", "S2"])
    assert np.isnan(result.dosages["S1"][4]) and result.dosages["S2"][4] == pytest.approx(1.8)
    assert result.invalid_calls == {"S1": ["rs5: dosage 3.5 outside [0, 2]"]}
    assert result.dosages["S1"][0] == 0.0  # the sample's other calls are kept


def test_failures_name_type_and_message_without_absolute_paths(tmp_path):
    err = KeyError(f"{tmp_path}/export/a.dcm and /secret/place/b.dcm")
    failure = failure_from(err, tmp_path)
    assert failure.error_type == "KeyError" and failure.field == "<file>"
    assert "export/a.dcm" in failure.reason and "<path>/b.dcm" in failure.reason
    assert str(tmp_path) not in failure.reason and "/secret" not in failure.reason
    assert failure_from(RecursionError()).reason.startswith("RecursionError: input nested too deeply")
    ingest_err = pickle.loads(pickle.dumps(IngestError("a.dcm", "Rows", "missing")))
    assert (ingest_err.path, ingest_err.field, ingest_err.reason) == ("a.dcm", "Rows", "missing")


def test_paths_in_reports_are_relative_or_cut():
    assert display_uri("/data/export", "ecg/p1.dcm") == "ecg/p1.dcm"
    assert display_uri("/data/export", "/data/export/ecg/p1.dcm") == "ecg/p1.dcm"
    assert display_uri("/data/export", "/elsewhere/p1.dcm") == "<outside>/p1.dcm"
    assert redact_paths("cannot read /data/export/ecg/p1.dcm", "/data/export") == "cannot read ecg/p1.dcm"
    assert redact_paths("unit mg/dL and mmol/L stay") == "unit mg/dL and mmol/L stay"


def test_allow_listed_dicom_text_carrying_a_name_is_redacted():
    import pydicom

    from nextgen_ml.ingest.deid import Pseudonymiser
    from nextgen_ml.ingest.dicom_common import dicom_metadata

    from ..conftest import pydicom_file

    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.PatientName, ds.OperatorsName = "Quixote^Dulcinea", ["Panza^Sancho"]
    ds.SoftwareVersions, ds.BodyPartExamined = "exported by Dulcinea Q.", "SANCHO HEART"
    meta = dicom_metadata(ds, Pseudonymiser(b"k" * 20))
    assert meta["SoftwareVersions"] == meta["BodyPartExamined"] == "[REDACTED]"
    assert meta["Manufacturer"] == "GE MEDICAL SYSTEMS"  # no name in it: kept


def test_heart_sound_resampling_factor_is_bounded(tmp_path):
    import soundfile as sf

    from nextgen_ml.ingest.heart_sound_wav import read_heart_sound_wav

    path = tmp_path / "slow_AV.wav"
    sf.write(path, np.zeros(100), 10)  # a 10 Hz "heart sound"
    with pytest.raises(IngestError, match="fs_hz: resampling 10.0 → 4000.0 Hz is a factor 400"):
        read_heart_sound_wav(path, IngestOptions(heart_sound_fs_hz=4000))


def test_impossible_call_is_a_report_warning_and_the_patient_keeps_its_genotype(tmp_path):
    from nextgen_ml.data.store import RecordStore
    from nextgen_ml.ingest.manifest import parse_manifest
    from nextgen_ml.ingest.pipeline import ingest

    from ..conftest import TEST_KEY, fhir_fixture, write_panel

    export = tmp_path / "export"
    write_vcf(export, VCF_TEXT.replace("0/1:0.9\t1/1:1.8", "0/1:3.5\t1/1:1.8"))
    write_panel(export)
    (export / "p.json").write_text(fhir_fixture().read_text())
    text = (
        "site: s\npanel: panel.json\ngenotypes: [{path: cohort.vcf.gz}]\n"
        "patients: [{id: P0, vcf_sample: S1, files: [p.json]}, {id: P1, vcf_sample: S2, files: [p.json]}]\n"
    )
    report = ingest(parse_manifest(text, export, export / "m.yaml"), tmp_path / "store", key=TEST_KEY, progress=False)
    assert report.counts()["records_written"] == 2 and report.counts()["files_quarantined"] == 0
    assert [(w.path, w.field) for w in report.warnings] == [("cohort.vcf.gz", "genotype")]
    assert "rs5: dosage 3.5 outside [0, 2]" in report.warnings[0].reason
    rows = [RecordStore(tmp_path / "store").row(i) for i in range(2)]
    dosages = sorted((r["genotype"]["dosages"] for r in rows), key=lambda d: d[4] == d[4])
    assert dosages[0][4] != dosages[0][4] and dosages[0][0] == 0.0  # S1: rs5 missing, rs1 kept
