"""DICOM waveform ECG: the real 12-lead file shipped with pydicom."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from nextgen_ml.data.codec import decode_ecg
from nextgen_ml.data.schema import ECG_LEADS
from nextgen_ml.ingest.dicom_ecg import read_dicom_ecg
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions

from .conftest import garbage, pydicom_file, truncate


def _int16_uv(ecg: dict) -> np.ndarray:
    return np.frombuffer(ecg["signal"], dtype="<i2").reshape(len(ecg["leads"]), ecg["n_samples"])


def test_real_dicom_ecg_matches_pydicom_waveform_array(pseudo):
    path = pydicom_file("waveform_ecg.dcm")
    converted = read_dicom_ecg(path, IngestOptions(ecg_fs_hz=1000.0), pseudo)
    ecg = converted.value
    assert ecg["leads"] == list(ECG_LEADS)
    assert ecg["fs_hz"] == 1000.0 and ecg["units"] == "uV"
    ds = pydicom.dcmread(path)
    group = ds.WaveformSequence[0]
    reference = ds.waveform_array(0)  # (samples, channels) in the channel sensitivity unit
    units = {c.ChannelSensitivityUnitsSequence[0].CodeValue for c in group.ChannelDefinitionSequence}
    assert units == {"uV"}
    meanings = [c.ChannelSourceSequence[0].CodeMeaning for c in group.ChannelDefinitionSequence]
    order = [ECG_LEADS.index(m.replace("Lead ", "").split(" ")[0]) for m in meanings]
    expected = np.zeros((12, reference.shape[0]))
    expected[order] = np.clip(np.rint(reference.T), -32768, 32767)
    np.testing.assert_array_equal(_int16_uv(ecg), expected.astype(np.int16))
    # independent check of pydicom's scaling: raw int16 samples x ChannelSensitivity (1.25 uV)
    raw = np.frombuffer(group.WaveformData, dtype="<i2").reshape(-1, 12)
    sens = np.array(
        [
            float(c.ChannelSensitivity) * float(c.ChannelSensitivityCorrectionFactor)
            for c in group.ChannelDefinitionSequence
        ]
    )
    np.testing.assert_allclose(decode_ecg(ecg)[order].T * 1000, np.rint(raw * sens), atol=1e-3)
    assert converted.metadata["MultiplexGroupLabel"] == "RHYTHM"
    assert converted.metadata["derived_leads"] == []


def test_resampled_to_record_rate_keeps_duration_and_shape(pseudo, options):
    path = pydicom_file("waveform_ecg.dcm")
    ecg = read_dicom_ecg(path, options, pseudo).value  # 1000 Hz → 500 Hz
    assert ecg["fs_hz"] == 500.0 and ecg["n_samples"] == 5000
    full = read_dicom_ecg(path, IngestOptions(ecg_fs_hz=1000.0), pseudo).value
    down = decode_ecg(ecg)
    # a low-frequency ECG survives 2x decimation: compare against every other sample of the original
    assert np.corrcoef(down[1], decode_ecg(full)[1, ::2])[0, 1] > 0.99


def test_provenance_is_pseudonymised_and_keeps_device_info(pseudo, options):
    path = pydicom_file("waveform_ecg.dcm")
    converted = read_dicom_ecg(path, options, pseudo)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    meta = converted.metadata
    assert meta["Manufacturer"] == str(ds.Manufacturer)
    assert meta["acquisition_year"] == int(str(ds.StudyDate)[:4]) == 2013
    assert meta["StudyInstanceUID"] == pseudo.uid(str(ds.StudyInstanceUID)) != str(ds.StudyInstanceUID)
    blob = str(converted.provenance())
    assert str(ds.StudyInstanceUID) not in blob and str(ds.SOPInstanceUID) not in blob
    assert str(ds.StudyDate) not in blob and str(ds.PatientName) not in blob
    assert len(converted.sha256) == 64


def test_median_beat_group_can_be_chosen(pseudo):
    ecg = read_dicom_ecg(
        pydicom_file("waveform_ecg.dcm"), IngestOptions(ecg_fs_hz=1000.0, ecg_waveform_group=1), pseudo
    ).value
    assert ecg["n_samples"] == 1200


def test_missing_lead_is_derived_and_missing_units_quarantined(tmp_path, pseudo):
    ds = pydicom.dcmread(pydicom_file("waveform_ecg.dcm"))
    group = ds.WaveformSequence[0]
    # relabel lead III (channel 2) as an unknown channel: it must be re-derived as II - I
    group.ChannelDefinitionSequence[2].ChannelSourceSequence[0].CodeValue = "5.6.3-9-999"
    group.ChannelDefinitionSequence[2].ChannelSourceSequence[0].CodeMeaning = "Respiration"
    out = tmp_path / "relabelled.dcm"
    ds.save_as(out)
    converted = read_dicom_ecg(out, IngestOptions(ecg_fs_hz=1000.0), pseudo)
    sig = decode_ecg(converted.value)
    assert converted.metadata["derived_leads"] == ["III"] and converted.metadata["ignored_channels"] == [2]
    np.testing.assert_allclose(sig[2], sig[1] - sig[0], atol=2e-3)
    del group.ChannelDefinitionSequence[5].ChannelSensitivityUnitsSequence
    ds.save_as(out)
    with pytest.raises(IngestError, match="ChannelSensitivityUnitsSequence"):
        read_dicom_ecg(out, IngestOptions(), pseudo)


def test_corrupt_ecg_files_raise_ingest_error(tmp_path, pseudo, options):
    src = pydicom_file("waveform_ecg.dcm")
    with pytest.raises(IngestError) as err:
        read_dicom_ecg(truncate(src, tmp_path / "trunc.dcm", 0.4), options, pseudo)
    assert "trunc.dcm" in str(err.value)
    with pytest.raises(IngestError, match="not a DICOM file|unreadable"):
        read_dicom_ecg(garbage(tmp_path / "junk.dcm"), options, pseudo)
    with pytest.raises(IngestError, match="WaveformSequence"):
        read_dicom_ecg(pydicom_file("CT_small.dcm"), options, pseudo)
