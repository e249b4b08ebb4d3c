"""Heart-sound WAV and wearable CSV/Parquet ingestion: WAV files the tests write, real PPG shipped by heartpy."""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from scipy import signal as sps

from nextgen_ml.data.codec import decode_heart_sound, decode_wearable_channel
from nextgen_ml.data.sensor_transforms import WearableTransform
from nextgen_ml.data.store import RecordStore
from nextgen_ml.data.validate import validate_record
from nextgen_ml.ingest.deid import KEY_ENV, Pseudonymiser
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.heart_sound_wav import read_heart_sound_wav
from nextgen_ml.ingest.manifest import IngestOptions, load_manifest
from nextgen_ml.ingest.pipeline import ingest
from nextgen_ml.ingest.wearable_csv import read_wearable_export

from .conftest import TEST_KEY, garbage


def write_wav16(path: Path, pcm: np.ndarray, fs: int) -> Path:
    """A 16-bit PCM WAV with the standard library; ``pcm`` is ``(frames,)`` or ``(frames, channels)`` int16."""
    pcm = np.asarray(pcm, dtype="<i2")
    pcm = pcm[:, None] if pcm.ndim == 1 else pcm  # (frames, channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes(pcm.tobytes())
    return path


def pcg(n: int, fs: float, seed: int = 0) -> np.ndarray:
    """A heart-sound-like int16 signal: 50 Hz bursts once per second plus noise."""
    t = np.arange(n) / fs
    burst = np.exp(-0.5 * (((t % 1.0) - 0.1) / 0.015) ** 2) * np.sin(2 * np.pi * 50 * t)
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    return np.round((0.5 * burst + noise) * 32767).astype(np.int16)


def test_mono_wav_round_trips_exactly_and_site_comes_from_the_file_name(tmp_path):
    pcm = pcg(8000, 4000.0)
    path = write_wav16(tmp_path / "50001_AV.wav", pcm, 4000)
    conv = read_heart_sound_wav(path, IngestOptions())
    hs = conv.value
    assert hs["sites"] == ["AV"] and hs["fs_hz"] == 4000.0 and hs["n_samples"] == 8000
    np.testing.assert_array_equal(np.round(decode_heart_sound(hs)[0] * 32768).astype(np.int16), pcm)
    assert conv.metadata["subtype"] == ["PCM_16"] and conv.format == "wav" and conv.column == "heart_sound"
    validate_record({"patient_id": "p", "site": "s", "consent": {"codes": ["DUO:0000042"]}, "heart_sound": hs})


def test_multichannel_wav_sites_from_view_and_bad_view_is_quarantined(tmp_path):
    stereo = np.stack([pcg(2000, 2000.0, 1), pcg(2000, 2000.0, 2)], axis=1)  # (frames, 2)
    path = write_wav16(tmp_path / "rec.wav", stereo, 2000)
    hs = read_heart_sound_wav(path, IngestOptions(), view="AV, MV").value
    assert hs["sites"] == ["AV", "MV"]
    np.testing.assert_allclose(decode_heart_sound(hs)[1], stereo[:, 1] / 32768, atol=1e-4)
    assert read_heart_sound_wav(path, IngestOptions()).value["sites"] == ["Phc1", "Phc2"]  # unknown sites
    with pytest.raises(IngestError, match="3 site names for 2 audio channels") as err:
        read_heart_sound_wav(path, IngestOptions(), view="AV,PV,MV")
    assert err.value.field == "view"


def test_folder_of_sites_with_different_rates_needs_a_target_rate(tmp_path):
    folder = tmp_path / "p1"
    write_wav16(folder / "p1_AV.wav", pcg(8000, 4000.0), 4000)
    write_wav16(folder / "p1_MV.wav", pcg(3000, 2000.0), 2000)  # 1.5 s at 2 kHz vs 2 s at 4 kHz
    with pytest.raises(IngestError, match="different sampling rates") as err:
        read_heart_sound_wav(folder, IngestOptions())
    assert err.value.field == "fs_hz"
    conv = read_heart_sound_wav(folder, IngestOptions(heart_sound_fs_hz=2000.0))
    hs = conv.value
    assert hs["sites"] == ["AV", "MV"] and hs["fs_hz"] == 2000.0 and hs["n_samples"] == 3000  # cropped
    assert conv.metadata["source_samples"] == [4000, 3000]
    # the resampled AV channel keeps its 50 Hz bursts once per second
    av = decode_heart_sound(hs)[0]
    env = np.abs(sps.hilbert(av))
    peaks, _ = sps.find_peaks(env, height=0.5 * env.max(), distance=1000)
    np.testing.assert_allclose(np.diff(peaks) / 2000.0, 1.0, atol=0.01)


def test_bad_wav_files_are_quarantined_with_a_reason(tmp_path):
    with pytest.raises(IngestError, match="unreadable WAV"):
        read_heart_sound_wav(garbage(tmp_path / "junk.wav"), IngestOptions())
    nan = np.zeros((400, 1), dtype=np.float32)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 2000, subtype="FLOAT")
    with pytest.raises(IngestError, match="NaN") as err:
        read_heart_sound_wav(tmp_path / "nan.wav", IngestOptions())
    assert err.value.field == "channel 0"
    write_wav16(tmp_path / "empty.wav", np.zeros(0, np.int16), 2000)
    with pytest.raises(IngestError, match="no samples"):
        read_heart_sound_wav(tmp_path / "empty.wav", IngestOptions())
    (tmp_path / "none").mkdir()
    with pytest.raises(IngestError, match="no .wav"):
        read_heart_sound_wav(tmp_path / "none", IngestOptions())


def _wide_export(path: Path) -> Path:
    """Minute heart rate with a 30-min gap and a NaN, 5-min HRV; timestamps as ISO date-times."""
    t = pd.date_range("2024-03-01 22:30:00", periods=180, freq="min")
    hr = 60 + (np.arange(180) % 7).astype(float)
    hr[100] = np.nan
    frame = pd.DataFrame({"timestamp": t.astype(str), "heart_rate[/min]": hr})
    frame = frame.drop(index=range(40, 70))  # off the wrist for 30 minutes
    frame["hrv[ms]"] = np.where(np.arange(len(frame)) % 5 == 0, 40.0, np.nan)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def test_wide_csv_export_gaps_units_and_time_of_day(tmp_path):
    conv = read_wearable_export(_wide_export(tmp_path / "watch.csv"))
    w = conv.value
    assert w["start_hour"] == pytest.approx(22.5)
    assert w["duration_s"] == pytest.approx(180 * 60)  # the last sample covers its minute
    hr, hrv = w["channels"]
    assert (hr["name"], hr["units"], hr["fs_hz"]) == ("heart_rate", "/min", pytest.approx(1 / 60))
    assert (hrv["name"], hrv["units"]) == ("hrv", "ms")
    assert hr["segment_start_s"] == [0.0, 70 * 60.0]  # the wrist gap; one missed minute is no gap (< 3 intervals)
    times, values = decode_wearable_channel(hr)
    assert values.size == 180 - 30 and np.isfinite(values).all()
    minute = np.round(times / 60).astype(int)
    regular = minute != 100
    np.testing.assert_allclose(values[regular], 60 + minute[regular] % 7)  # regular minutes copied exactly
    assert values[minute == 100] == pytest.approx((60 + 99 % 7 + 60 + 101 % 7) / 2)  # the NaN minute interpolated
    assert conv.metadata["channels"][0]["n_missing"] == 1
    validate_record({"patient_id": "p", "site": "s", "consent": {"codes": ["DUO:0000042"]}, "wearable": w})
    grid = WearableTransform(channels=["heart_rate", "hrv"], hours=3).fit([w])(w)
    assert grid.shape == (6, 180)
    np.testing.assert_array_equal(grid[2, 40:70], 0.0)  # mask row of heart_rate: the gap
    assert grid[2].sum() == 150 and grid[4:].any()  # clock rows from start_hour


def test_long_parquet_export_and_irregular_samples(tmp_path):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(250, 350, 40))  # irregular ~5-min HR samples, seconds
    frame = pd.DataFrame({"t": np.concatenate([t, t[:10]]), "type": ["hr"] * 40 + ["steps"] * 10,
                          "value": np.concatenate([np.full(40, 70.0), np.arange(10.0)])})
    frame.to_parquet(tmp_path / "long.parquet")
    conv = read_wearable_export(tmp_path / "long.parquet", {
        "channel_column": "type", "value_column": "value", "gap_s": 900,
        "channels": {"hr": {"name": "heart_rate", "units": "/min"}, "steps": {"name": "activity", "units": "/min"}},
    })
    hr, steps = conv.value["channels"]
    assert hr["name"] == "heart_rate" and steps["name"] == "activity"
    assert 1 / 350 <= hr["fs_hz"] <= 1 / 250 and len(hr["segment_length"]) == 1
    _, v = decode_wearable_channel(hr)
    np.testing.assert_allclose(v, 70.0)  # interpolated onto a regular grid
    assert conv.value["start_hour"] is None


@pytest.mark.parametrize(
    ("csv", "options", "field"),
    [
        ("a,b\n1,2\n", {}, "options.time_column"),
        ("time,hr\n2024-01-01 10:00,60\nnot a date,61\n", {}, "time"),
        ("time,hr\n0,60\n60,high\n", {}, "hr"),
        ("time,hr\n0,60\n60,61\n", {"channels": ["spo2"]}, "spo2"),
        ("time,hr\n0,\n60,\n", {}, "<columns>"),
        ("time,hr\n0,60\n", {"sampling": 1}, "options.sampling"),
    ],
)
def test_bad_exports_are_quarantined_naming_the_field(tmp_path, csv, options, field):
    path = tmp_path / "bad.csv"
    path.write_text(csv)
    with pytest.raises(IngestError) as err:
        read_wearable_export(path, options)
    assert err.value.field == field


def _heartpy_data(name: str) -> Path:
    spec = importlib.util.find_spec("heartpy")  # located, not imported: heartpy imports pkg_resources
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("heartpy (real PPG example recordings) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    if not path.is_file():
        pytest.skip(f"heartpy does not ship {name}")
    return path


def _pulse_rates(x: np.ndarray, fs: float) -> tuple[float, float]:
    """Pulse rate (bpm) from the spectrum peak and from the median peak-to-peak interval."""
    x = sps.sosfiltfilt(sps.butter(2, (0.7, 3.5), "bandpass", fs=fs, output="sos"), x - x.mean())
    freqs, power = sps.welch(x, fs, nperseg=min(x.size, int(16 * fs)))
    band = (freqs > 0.7) & (freqs < 3.5)
    spectral = 60 * freqs[band][np.argmax(power[band])]
    period = 60 / spectral  # one systolic peak per beat: peaks closer than 60 % of a period are notches
    peaks, _ = sps.find_peaks(x, distance=int(0.6 * period * fs), prominence=0.5 * x.std())
    return spectral, 60 / np.median(np.diff(peaks) / fs)


@pytest.mark.parametrize(
    ("name", "options", "fs"),
    [
        ("data2.csv", {"time_column": "timer", "time_unit": "ms"}, 117.0),
        ("data3.csv", {"duplicate_times": "spread", "gap_s": 0.1}, 100.42),  # 15.6 ms Windows clock ticks
    ],
)
def test_real_ppg_recordings_shipped_by_heartpy(name, options, fs):
    conv = read_wearable_export(_heartpy_data(name), {**options, "channels": {"hr": {"name": "ppg", "units": "1"}}})
    (ppg,) = conv.value["channels"]
    assert ppg["fs_hz"] == pytest.approx(fs, rel=0.01)
    times, values = decode_wearable_channel(ppg)
    assert values.size > 0.95 * conv.metadata["rows"] and np.all(np.diff(times) > 0)
    longest = int(np.argmax(ppg["segment_length"]))
    start = int(np.sum(ppg["segment_length"][:longest]))
    x = values[start : start + ppg["segment_length"][longest]].astype(np.float64)
    assert x.size / ppg["fs_hz"] > 60  # a minute or more of contiguous pulse wave
    spectral, from_peaks = _pulse_rates(x, ppg["fs_hz"])
    assert 45 < spectral < 130 and abs(spectral - from_peaks) < 6, (spectral, from_peaks)


def test_manifest_pipeline_ingests_and_quarantines(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, TEST_KEY.decode())
    src = tmp_path / "export"
    write_wav16(src / "pcg" / "p1" / "p1_AV.wav", pcg(4000, 2000.0), 2000)
    write_wav16(src / "pcg" / "p1" / "p1_MV.wav", pcg(4000, 2000.0, 3), 2000)
    _wide_export(src / "watch" / "p1.csv")
    garbage(src / "pcg" / "p2.wav")
    (src / "watch" / "p2.csv").write_text("time,hr\n0,60\n60,high\n")
    manifest = {
        "site": "hospital_a",
        "deid": {"key_env": KEY_ENV},
        "options": {"heart_sound_fs_hz": 1000},
        "patients": [
            {"id": "MRN-1", "files": [{"path": "pcg/p1", "format": "wav"}, "watch/p1.csv"]},
            {"id": "MRN-2", "files": ["pcg/p2.wav", {"path": "watch/p2.csv", "options": {"time_column": "time"}}]},
        ],
    }
    (src / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    report = ingest(load_manifest(src / "manifest.yaml"), tmp_path / "store", progress=False)
    status = {p.index: p for p in report.patients}
    assert status[0].status == "written" and status[0].modalities == ["heart_sound", "wearable"]
    assert status[1].status == "quarantined" and status[1].field == "<record>"
    reasons = {(f.path, f.field) for f in report.files if f.status == "quarantined"}
    assert ("pcg/p2.wav", "<file>") in reasons and ("watch/p2.csv", "hr") in reasons
    store = RecordStore(tmp_path / "store")
    row = store.row(0)
    assert row["patient_id"] == Pseudonymiser(TEST_KEY).patient_id("hospital_a", "MRN-1")
    assert row["heart_sound"]["sites"] == ["AV", "MV"] and row["heart_sound"]["fs_hz"] == 1000.0
    assert decode_heart_sound(row["heart_sound"]).shape == (2, 2000)
    assert [c["name"] for c in row["wearable"]["channels"]] == ["heart_rate", "hrv"]
    assert {p["format"] for p in row["provenance"]} == {"wav", "wearable"}
    assert all(b"2024-03-01" not in p.read_bytes() for p in (tmp_path / "store").rglob("*.arrow"))  # no dates
