"""WFDB records written with wfdb.wrsamp (the wfdb package ships no sample records)."""

from __future__ import annotations

import numpy as np
import pytest

from nextgen_ml.data.codec import decode_ecg
from nextgen_ml.data.schema import ECG_LEADS
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.wfdb_ecg import read_wfdb_ecg

from .conftest import LIMB_AND_CHEST, einthoven_ecg, garbage, write_wfdb


def test_wfdb_roundtrip_in_microvolts_with_lowercase_names(tmp_path, pseudo):
    sig = einthoven_ecg(1000, fs=500.0)
    names = [n.lower() for n in LIMB_AND_CHEST][::-1]  # reversed order, PTB-XL style lowercase names
    header = write_wfdb(tmp_path, "rec1", sig[:, ::-1], names, fs=500.0)
    converted = read_wfdb_ecg(header, IngestOptions(ecg_fs_hz=500.0), pseudo)
    ecg = converted.value
    assert ecg["leads"] == list(ECG_LEADS) and ecg["n_samples"] == 1000
    np.testing.assert_allclose(decode_ecg(ecg), sig.T, atol=1e-6)  # mV → µV int16 → mV
    assert converted.metadata["record_name"] == "rec1" and converted.format == "wfdb"


def test_wfdb_resampled_and_limb_leads_derived(tmp_path, pseudo, options):
    sig = einthoven_ecg(1000, fs=250.0)
    keep = [0, 1, *range(6, 12)]  # I, II, V1-V6: a common 8-channel export
    header = write_wfdb(tmp_path, "rec8", sig[:, keep], [LIMB_AND_CHEST[k] for k in keep], fs=250.0)
    converted = read_wfdb_ecg(header, options, pseudo)
    out = decode_ecg(converted.value)
    assert converted.value["n_samples"] == 2000 and converted.value["fs_hz"] == 500.0
    assert converted.metadata["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    np.testing.assert_allclose(out[2], out[1] - out[0], atol=2e-3)  # III = II - I after resampling
    np.testing.assert_allclose(out[3], -(out[0] + out[1]) / 2, atol=2e-3)


def test_bad_wfdb_records_quarantined_with_reason(tmp_path, pseudo, options):
    sig = einthoven_ecg(500)
    sig[100:120, 4] = np.nan
    header = write_wfdb(tmp_path, "nan", sig, LIMB_AND_CHEST)
    with pytest.raises(IngestError, match="lead aVL.*NaN"):
        read_wfdb_ecg(header, options, pseudo)
    eleven = [k for k in range(12) if k != 9]  # V4 missing: wrong lead count
    header = write_wfdb(tmp_path, "eleven", einthoven_ecg(500)[:, eleven], [LIMB_AND_CHEST[k] for k in eleven])
    with pytest.raises(IngestError, match="lead V4"):
        read_wfdb_ecg(header, options, pseudo)
    (tmp_path / "junk.hea").write_text("this is not a header\n")
    garbage(tmp_path / "junk.dat")
    with pytest.raises(IngestError, match="junk.hea"):
        read_wfdb_ecg(tmp_path / "junk.hea", options, pseudo)
    with pytest.raises(IngestError, match="not found"):
        read_wfdb_ecg(tmp_path / "absent.hea", options, pseudo)
