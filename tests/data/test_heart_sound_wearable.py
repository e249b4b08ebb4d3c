"""Heart sounds and wearables: record fields, codec, validation, old stores, cohort physiology, transforms,
datamodule, encoders with every fusion, DP-SGD and the Hydra experiments."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import torch
from scipy import signal as sps
from sklearn.metrics import roc_auc_score

from nextgen_ml.data.codec import (
    decode_heart_sound,
    decode_wearable_channel,
    encode_heart_sound,
    encode_wearable,
    encode_wearable_channel,
)
from nextgen_ml.data.cohort import CohortConfig, generate_cohort
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.schema import MODALITIES, MODALITY_COLUMN, RECORD_SCHEMA, SCHEMA_VERSION
from nextgen_ml.data.sensor_transforms import HeartSoundTransform, WearableTransform
from nextgen_ml.data.store import METADATA_FILE, RecordStore, StoreError
from nextgen_ml.data.validate import RecordValidationError, validate_record, validate_table
from nextgen_ml.models.builder import build_multimodal_net
from nextgen_ml.privacy import assert_dp_compatible
from nextgen_ml.registry import create_encoder, list_fusions
from tests.conftest import make_record

SMALL = CohortConfig(ecg_fs_hz=100.0, image_size=32, missing={"heart_sound": 0.0, "wearable": 0.0})


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(150, sites=5, seed=5, config=SMALL)


@pytest.fixture(scope="module")
def rows(cohort):
    return cohort.table.select(["patient_id", "heart_sound", "wearable"]).to_pylist()


# ------------------------------------------------------------------ schema, codec, validation
def test_schema_has_the_new_modalities():
    assert SCHEMA_VERSION.split(".")[0] == "2"
    assert {"heart_sound", "wearable"} <= set(MODALITIES) and list(MODALITIES) == sorted(MODALITIES)
    for m in ("heart_sound", "wearable"):
        assert MODALITY_COLUMN[m] in RECORD_SCHEMA.names


def test_codec_round_trips_with_gaps():
    audio = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 500))
    hs = encode_heart_sound(audio, 2000.0, ["AV", "MV"])
    np.testing.assert_allclose(decode_heart_sound(hs), audio, atol=1 / 32768)
    ch = encode_wearable_channel("heart_rate", "/min", 1 / 60, [(600.0, [70, 71]), (0.0, [60, 61, 62])])
    assert ch["segment_start_s"] == [0.0, 600.0] and ch["segment_length"] == [3, 2]  # sorted
    times, values = decode_wearable_channel(ch)
    np.testing.assert_allclose(times, [0, 60, 120, 600, 660])
    np.testing.assert_allclose(values, [60, 61, 62, 70, 71])
    w = encode_wearable([ch], start_hour=7.5)
    assert w["duration_s"] == pytest.approx(720.0)
    validate_record(make_record(heart_sound=hs, wearable=w))
    with pytest.raises(ValueError, match="NaN"):
        encode_wearable_channel("hr", "/min", 1.0, [(0.0, [1.0, np.nan])])
    with pytest.raises(ValueError, match="overlaps"):
        encode_wearable_channel("hr", "/min", 1.0, [(0.0, [1.0, 2.0]), (1.0, [3.0])])
    with pytest.raises(ValueError, match="n_sites"):
        encode_heart_sound(audio, 2000.0, ["AV"])


def _bad_wearable(**channel) -> dict:
    ch = encode_wearable_channel("hr", "/min", 1.0, [(0.0, [60.0, 61.0])])
    return encode_wearable([{**ch, **channel}], duration_s=10.0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"heart_sound": {**encode_heart_sound(np.zeros((1, 10)), 1000.0, ["AV"]), "fs_hz": 0.0}},
         "heart_sound.fs_hz"),
        ({"heart_sound": {**encode_heart_sound(np.zeros((2, 10)), 1000.0, ["AV", "MV"]), "sites": ["AV", "AV"]}},
         "heart_sound.sites"),
        ({"heart_sound": {**encode_heart_sound(np.zeros((1, 10)), 1000.0, ["AV"]), "n_samples": 11}},
         "heart_sound.signal"),
        ({"wearable": _bad_wearable(values=np.array([60.0, np.nan], "<f4").tobytes())}, "wearable.channels[hr].values"),
        ({"wearable": _bad_wearable(fs_hz=-1.0)}, "wearable.channels[hr].fs_hz"),
        ({"wearable": _bad_wearable(segment_length=[3])}, "wearable.channels[hr].values"),
        ({"wearable": _bad_wearable(segment_start_s=[20.0])}, "wearable.channels[hr].segment_start_s"),
        ({"wearable": {**_bad_wearable(), "start_hour": 25.0}}, "wearable.start_hour"),
    ],
)
def test_bad_payloads_name_the_field(overrides, field):
    with pytest.raises(RecordValidationError) as err:
        validate_record(make_record(pid="p-7", **overrides), panel_size=4)
    assert err.value.field == field and err.value.record == "p-7"


def _write_old_store(path, fmt: str, version: str) -> None:
    """A store as an older nextgen_ml wrote it: no heart_sound / wearable columns, ``schema_version`` ``version``."""
    schema = pa.schema([f for f in RECORD_SCHEMA if f.name not in ("heart_sound", "wearable")],
                       metadata={b"nextgen_ml.schema_version": version.encode()})
    rec = {k: v for k, v in make_record().items() if k in schema.names}
    table = pa.Table.from_pylist([rec, {**rec, "patient_id": "p1"}], schema=schema)
    (path / "site=site_a").mkdir(parents=True)
    if fmt == "ipc":
        with pa.OSFile(str(path / "site=site_a" / "part-00000.arrow"), "wb") as sink, ipc.new_file(sink, schema) as w:
            w.write_table(table)
    else:
        pq.write_table(table, path / "site=site_a" / "part-00000.parquet")
    meta = {"schema_version": version, "format": fmt, "n_records": 2, "sites": {"site_a": 2}, "panel": None}
    (path / METADATA_FILE).write_text(json.dumps(meta))


def test_schema_1_store_is_refused_with_a_fix(tmp_path):
    _write_old_store(tmp_path, "ipc", "1.0.0")
    with pytest.raises(StoreError, match=r"record schema 1\.0\.0.*re-ingest"):
        RecordStore(tmp_path)


@pytest.mark.parametrize("fmt", ["ipc", "parquet"])
def test_older_minor_store_loads_with_null_new_columns(tmp_path, fmt, monkeypatch):
    import nextgen_ml.data.store as store_module

    # as if heart sounds and wearables had been added in schema 2.1.0 and this store were written by 2.0.0
    monkeypatch.setattr(store_module, "COLUMNS_SINCE", {"heart_sound": "2.1.0", "wearable": "2.1.0"})
    _write_old_store(tmp_path, fmt, "2.0.0")
    store = RecordStore(tmp_path)
    assert store.missing_columns == ["heart_sound", "wearable"]
    assert store.table.schema.equals(RECORD_SCHEMA, check_metadata=False)
    assert store.row(1)["heart_sound"] is None and store.row(1)["patient_id"] == "p1"
    assert store.column("wearable").null_count == 2 and store.row(0)["ecg"] is not None
    narrow = RecordStore(tmp_path, columns=["patient_id", "ecg"])
    assert narrow.missing_columns == [] and narrow.table.column_names == ["patient_id", "ecg"]
    with pytest.raises(ValueError, match=r"schema 2\.0\.0.*no such column"):
        CardioDataModule(tmp_path, modalities=["ecg", "heart_sound"], split="predefined").setup()


# ------------------------------------------------------------------ the synthetic cohort
def test_cohort_payloads_validate_and_follow_the_config(cohort, rows):
    assert validate_table(cohort.table, panel_size=len(cohort.panel)) == len(cohort)
    hs = next(r["heart_sound"] for r in rows if r["heart_sound"])
    assert hs["fs_hz"] == 2000.0 and hs["n_samples"] == 12000 and set(hs["sites"]) <= {"AV", "PV", "TV", "MV"}
    w = next(r["wearable"] for r in rows if r["wearable"])
    assert w["duration_s"] == 24 * 3600 and 0 <= w["start_hour"] < 24
    names = {c["name"] for r in rows for c in r["wearable"]["channels"]}
    assert names == {"heart_rate", "activity", "hrv_rmssd", "ppg"}
    segments = [len(c["segment_length"]) for r in rows for c in r["wearable"]["channels"] if c["name"] == "heart_rate"]
    assert np.mean(np.array(segments) > 1) > 0.5  # most exports have wear gaps


def test_new_modalities_leave_existing_columns_unchanged():
    config = CohortConfig(ecg_fs_hz=100.0, ecg_seconds=2, image_size=32)
    without = CohortConfig(ecg_fs_hz=100.0, ecg_seconds=2, image_size=32,
                           missing={"heart_sound": 1.0, "wearable": 1.0})
    a, b = generate_cohort(30, sites=2, seed=9, config=config), generate_cohort(30, sites=2, seed=9, config=without)
    for col in ("tabular", "ecg", "image", "text", "labels", "consent"):
        assert a.table.column(col).equals(b.table.column(col)), col
    assert b.table.column("heart_sound").null_count == 30 and a.table.column("heart_sound").null_count < 30


def _systolic_murmur_ratio(audio: np.ndarray, fs: float) -> float:
    """High-frequency (150-400 Hz) over low-frequency (20-100 Hz) power: murmurs are broadband noise."""
    f, p = sps.welch(audio, fs, nperseg=1024)
    return float(p[(f > 150) & (f < 400)].sum() / p[(f > 20) & (f < 100)].sum())


def test_heart_sounds_follow_the_latent_state(cohort, rows):
    lat = cohort.latent.set_index("patient_id")
    ratio, murmur, rate_err = [], [], []
    for r in rows:
        p = lat.loc[r["patient_id"]]
        audio = decode_heart_sound(r["heart_sound"])
        k = r["heart_sound"]["sites"].index("MV")  # every site set includes the mitral area
        ratio.append(_systolic_murmur_ratio(audio[k], 2000.0))
        murmur.append(bool(p["aortic_stenosis"] or p["mitral_regurgitation"]))
        if not p["af"]:  # S1-S2 rhythm: the envelope's dominant period is the RR interval
            env = np.abs(sps.hilbert(sps.sosfiltfilt(sps.butter(2, (25, 150), "bandpass", fs=2000, output="sos"),
                                                     audio[k])))
            env = sps.decimate(env, 20) - env.mean()  # 100 Hz
            acf = np.correlate(env, env, "full")[env.size - 1 :]  # the RR lag matches both S1 and S2
            lag = 40 + int(np.argmax(acf[40:160]))  # 0.4-1.6 s
            rate_err.append(abs(6000 / lag - p["hr_bpm"]))
    assert roc_auc_score(murmur, ratio) > 0.8
    assert np.median(rate_err) < 6


def test_wearables_follow_the_latent_state(cohort, rows):
    lat = cohort.latent.set_index("patient_id")
    hr_mean, hr_true, jitter, af = [], [], [], []
    for r in rows:
        p = lat.loc[r["patient_id"]]
        ch = {c["name"]: c for c in r["wearable"]["channels"]}
        _, hr = decode_wearable_channel(ch["heart_rate"])
        _, act = decode_wearable_channel(ch["activity"])
        rest = hr[act[: hr.size] < 1] if act.size == hr.size else hr
        hr_mean.append(np.median(rest))
        hr_true.append(p["hr_bpm"] - 35 * p["af"])  # sinus rate of permanent-AF patients is not observed
        jitter.append(np.median(np.abs(np.diff(hr))))
        af.append(bool(p["af"]))
    assert np.corrcoef(hr_mean, hr_true)[0, 1] > 0.6
    assert sum(af) >= 3 and roc_auc_score(af, jitter) > 0.85  # AF: irregular minute-to-minute rate


def test_sites_differ_in_sensor_missingness():
    c = generate_cohort(300, sites=5, seed=2, config=CohortConfig(ecg_fs_hz=100.0, ecg_seconds=2, image_size=32,
                                                                  wearable_hours=2, heart_sound_seconds=2))
    rates = c.latent.groupby("site")[["has_heart_sound", "has_wearable"]].mean()
    assert (rates.max() - rates.min() > 0.2).all()
    assert c.table.column("wearable").null_count == int((~c.latent["has_wearable"]).sum())


# ------------------------------------------------------------------ transforms and the datamodule
def test_heart_sound_transform_rows_by_site():
    t = HeartSoundTransform(fs_hz=1000.0, seconds=2.0)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 6000))
    x = t(encode_heart_sound(audio, 2000.0, ["MV", "AV"]))
    assert x.shape == (4, 2000) and x.dtype == np.float32
    assert np.abs(x[[1, 2]]).max() == 0 and x[0].std() == pytest.approx(1, abs=1e-3)  # AV row 0, MV row 3
    unlabelled = t(encode_heart_sound(audio[:1, :1000], 2000.0, ["Phc"]))  # no known site: positional, padded
    assert np.abs(unlabelled[0]).max() > 0 and unlabelled.shape == (4, 2000)
    torch.manual_seed(0)
    crops = {t(encode_heart_sound(audio, 2000.0, ["MV", "AV"]), train=True)[0, :5].tobytes() for _ in range(4)}
    assert len(crops) > 1  # random crops in training
    assert t.spec() == {"in_channels": 4, "fs_hz": 1000.0}


def test_wearable_transform_grid_mask_and_crop(rows):
    values = [r["wearable"] for r in rows]
    t = WearableTransform(hours=12).fit(values)
    assert set(t.mean) == {"heart_rate", "activity", "hrv_rmssd"} and 50 < t.mean["heart_rate"] < 100
    x = t(values[0])
    assert x.shape == (8, 720) and set(np.unique(x[3:6])) <= {0.0, 1.0}
    assert np.all(x[:3][x[3:6] == 0] == 0)  # gaps hold 0
    times, hr = decode_wearable_channel(next(c for c in values[0]["channels"] if c["name"] == "heart_rate"))
    first = times < 12 * 3600 - 1
    assert x[3].sum() == first.sum()  # one minute sample per observed bin
    np.testing.assert_allclose(x[0][x[3] == 1] * t.std["heart_rate"] + t.mean["heart_rate"], hr[first], atol=1e-3)
    restored = WearableTransform(hours=12)
    restored.load_state_dict(json.loads(json.dumps(t.state_dict())))
    np.testing.assert_array_equal(restored(values[0]), x)
    with pytest.raises(RuntimeError, match="before fit"):
        WearableTransform()(values[0])


def test_datamodule_batches_and_specs(tiny_store):
    dm = CardioDataModule(tiny_store, modalities=["heart_sound", "wearable", "ecg"], batch_size=8,
                          transforms={"heart_sound": {"seconds": 2.0}, "wearable": {"hours": 6}})
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"]["heart_sound"].shape == (8, 4, 2000)
    assert batch["inputs"]["wearable"].shape == (8, 8, 360)
    assert dm.modality_specs["wearable"] == {"in_channels": 8, "n_signals": 3}
    absent = ~batch["mask"]["heart_sound"]
    assert torch.all(batch["inputs"]["heart_sound"][absent] == 0)


# ------------------------------------------------------------------ encoders, fusions, privacy
ENCODERS = {"heart_sound": "heart_sound_logmel_cnn", "wearable": "wearable_window_transformer",
            "ecg": "ecg_xresnet1d_small"}


@pytest.mark.parametrize("fusion", list_fusions())
def test_every_fusion_takes_the_new_modalities(fusion):
    torch.manual_seed(0)
    net = build_multimodal_net(ENCODERS, fusion, num_outputs=2, embed_dim=32,
                               modality_specs={"heart_sound": {"in_channels": 4, "fs_hz": 1000.0},
                                               "wearable": {"in_channels": 8, "n_signals": 3},
                                               "ecg": {"in_channels": 12}})
    inputs = {"heart_sound": torch.randn(4, 4, 1500), "wearable": torch.zeros(4, 8, 200),
              "ecg": torch.randn(4, 12, 300)}
    inputs["wearable"][:2, 3:6] = 1.0  # rows 0-1 fully observed, rows 2-3 all gap (absent placeholders)
    mask = {"heart_sound": torch.tensor([True, False, True, False]),
            "wearable": torch.tensor([True, True, False, False]), "ecg": torch.tensor([True, True, True, False])}
    out = net(inputs, mask)
    assert out["logits"].shape == (4, 2) and torch.isfinite(out["logits"]).all()
    out["logits"].sum().backward()


def test_wearable_gaps_are_masked_and_length_is_free():
    torch.manual_seed(0)
    enc = create_encoder("wearable_window_transformer", embed_dim=32).eval()
    x = torch.randn(1, 8, 300)
    x[:, 3:6] = 1.0
    x[:, 3:6, 120:180] = 0.0  # hour 3 is a gap ...
    gap_a, gap_b = x.clone(), x.clone()
    gap_a[:, :3, 120:180], gap_b[:, :3, 120:180] = 0.0, 5.0  # ... whatever its value rows hold
    with torch.no_grad():
        torch.testing.assert_close(enc(gap_a), enc(gap_b))
        assert enc.forward_tokens(torch.zeros(2, 8, 1000)).shape == (2, 1 + 17, 32)  # padded to 17 windows
        assert torch.isfinite(enc(torch.zeros(2, 8, 100))).all()  # all gap: only the summary token attends


@pytest.mark.parametrize("name", ["heart_sound_logmel_cnn", "heart_sound_cnn1d", "wearable_window_transformer",
                                  "wearable_stats_pool"])
def test_one_dp_sgd_step(name):
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    enc = create_encoder(name, embed_dim=8)
    assert_dp_compatible(enc)
    x = torch.randn(8, 4, 1000) if name.startswith("heart_sound") else torch.rand(8, 8, 120).round()
    model = torch.nn.Sequential(enc, torch.nn.Linear(8, 1))
    data = DataLoader(TensorDataset(x, torch.randn(8, 1)), batch_size=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt, data = PrivacyEngine().make_private(module=model, optimizer=opt, data_loader=data,
                                                    noise_multiplier=1.0, max_grad_norm=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    xb, yb = next(iter(data))
    torch.nn.functional.mse_loss(model(xb), yb).backward()
    opt.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_logmel_front_end_matches_librosa():
    import librosa

    enc = create_encoder("heart_sound_logmel_cnn", in_channels=1, fs_hz=1000.0)
    front = enc.backbone.front
    x = np.sin(2 * np.pi * 120 * np.arange(2000) / 1000).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=x, sr=1000, n_fft=256, hop_length=front.hop, win_length=front.win,
                                         window="hann", center=True, pad_mode="reflect", n_mels=32, fmin=20.0,
                                         fmax=500.0, power=2.0)
    spec = torch.stft(torch.from_numpy(x)[None], 256, front.hop, front.win, front.window, center=True,
                      return_complex=True).abs().pow(2)
    torch.testing.assert_close(torch.matmul(front.mel, spec)[0], torch.from_numpy(ref).float(), rtol=1e-3, atol=1e-3)
    band = int(np.argmax(ref.mean(1)))
    assert band == int(np.argmax(front(torch.from_numpy(x)[None, None])[0, 0].mean(-1)))  # energy at 120 Hz


# ------------------------------------------------------------------ Hydra experiments
@pytest.mark.parametrize(("group", "option"), [("heart_sound", "cnn1d"), ("heart_sound", "logmel_cnn"),
                                               ("heart_sound", "stats_pool"), ("wearable", "window_transformer"),
                                               ("wearable", "stats_pool"), ("genomics", "linear")])
def test_encoder_configs_build(tiny_store, group, option):
    from nextgen_ml.training.factory import build_datamodule, build_module
    from tests.training.conftest import TINY, compose_cfg

    cfg = compose_cfg([*TINY, f"data.modalities=[{group}]", f"model/encoder/{group}={option}",
                       f"data.data_dir={tiny_store}", "data.cohort=null"])  # use the store as it is
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    batch = next(iter(dm.val_dataloader()))
    assert module.net(batch["inputs"], batch["mask"])["logits"].shape[0] == batch["index"].shape[0]


def test_default_run_stays_at_five_modalities():
    from tests.training.conftest import compose_cfg

    assert list(compose_cfg([]).data.modalities) == ["ecg", "genomics", "image", "tabular", "text"]
    assert len(compose_cfg(["+experiment=all_modalities"]).data.modalities) == 7
