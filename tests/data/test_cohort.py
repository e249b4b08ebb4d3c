"""Tests of the synthetic cohort generator (nextgen_ml.data.cohort) and its CLI."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pyarrow as pa
import pytest
from scipy import ndimage, signal
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from nextgen_ml.cli import main
from nextgen_ml.data.codec import decode_ecg, decode_image
from nextgen_ml.data.cohort import CohortConfig, build_panel, generate_cohort, write_cohort
from nextgen_ml.data.cohort.oracle import oracle_aurocs
from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, DUO_DS, ECG_LEADS, FINDING_CLASSES, RECORD_SCHEMA
from nextgen_ml.data.store import RecordStore
from nextgen_ml.data.validate import validate_table

SMALL = CohortConfig(ecg_fs_hz=100.0, image_size=32)
N = 200


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(N, sites=5, seed=3, config=SMALL)


@pytest.fixture(scope="module")
def rows(cohort):
    return cohort.table.to_pylist()


def test_schema_and_validation(cohort):
    assert cohort.table.schema.equals(RECORD_SCHEMA, check_metadata=True)
    assert validate_table(cohort.table, panel_size=len(cohort.panel)) == N
    assert len(set(cohort.table.column("patient_id").to_pylist())) == N
    assert len(cohort.panel) == 64
    assert len(cohort.latent) == N
    assert cohort.table.column("split").null_count == N


def test_payload_shapes(rows):
    ecg = next(r["ecg"] for r in rows if r["ecg"] is not None)
    assert decode_ecg(ecg).shape == (12, 1000) and ecg["leads"] == list(ECG_LEADS) and ecg["fs_hz"] == 100.0
    image = next(r["image"] for r in rows if r["image"] is not None)
    pixels = decode_image(image)
    assert pixels.shape == (2, 32, 32) and pixels.dtype == np.uint8
    assert image["frame_labels"] == ["ED", "ES"] and image["modality"] == "MR"
    assert image["spacing_mm"] == pytest.approx([3.0, 3.0])
    assert 100 < image["frame_time_ms"] < 700
    geno = next(r["genotype"] for r in rows if r["genotype"] is not None)
    assert len(geno["dosages"]) == 64 and np.isfinite(geno["prs"])


def test_3d_cine_shapes():
    config = CohortConfig(ecg_fs_hz=100.0, ecg_seconds=4, image_size=32, image_frames=5, image_3d=True,
                          missing={"image": 0.0})
    c = generate_cohort(3, sites=1, seed=0, config=config)
    image = c.table.column("image")[0].as_py()
    assert decode_image(image).shape == (5, 8, 32, 32)
    assert image["frame_labels"][0] == "ED" and "ES" in image["frame_labels"] and len(image["spacing_mm"]) == 3


def test_clinical_ranges(cohort, rows):
    lat = cohort.latent
    assert lat["hr_bpm"].between(40, 180).all()
    assert lat["qtc_ms"].between(340, 650).all() and lat["pr_ms"].between(100, 400).all()
    assert lat["lvef"].between(10, 80).all()
    ages = [r["tabular"]["age"] for r in rows if r["tabular"] is not None]
    assert min(ages) >= 40 and max(ages) <= 80
    values = [v for r in rows if r["tabular"] for v in r["tabular"].values() if isinstance(v, float)]
    assert not np.isnan(values).any()
    assert any(v is None for r in rows if r["tabular"] for v in r["tabular"].values())  # some missing, as null
    sbp = np.array([r["tabular"]["sbp"] for r in rows if r["tabular"] and r["tabular"]["sbp"] is not None])
    assert 120 < sbp.mean() < 145 and 10 < sbp.std() < 25
    dos = np.array([r["genotype"]["dosages"] for r in rows if r["genotype"]], dtype=float)
    assert np.isnan(dos).any() and set(np.unique(dos[~np.isnan(dos)])) <= {0.0, 1.0, 2.0}


def test_einthoven_goldberger(rows):
    for r in [r for r in rows if r["ecg"] is not None][:20]:
        x = decode_ecg(r["ecg"]) * 1000  # µV
        lead = {name: x[i] for i, name in enumerate(ECG_LEADS)}
        tol = 1.01  # integer rounding of the stored µV
        assert np.abs(lead["III"] - (lead["II"] - lead["I"])).max() <= tol
        assert np.abs(lead["aVR"] + (lead["I"] + lead["II"]) / 2).max() <= tol
        assert np.abs(lead["aVL"] - (lead["I"] - lead["II"] / 2)).max() <= tol
        assert np.abs(lead["aVF"] - (lead["II"] - lead["I"] / 2)).max() <= tol
        assert 300 < np.ptp(lead["II"]) < 8000  # a QRS of about a millivolt, not noise


def test_ecg_rhythm_follows_latent_state(cohort, rows):
    """AF beats are irregular; detected heart rate matches the latent rate in sinus rhythm."""
    lat = cohort.latent.set_index("patient_id")
    cv, af, err = [], [], []
    for r in rows:
        if r["ecg"] is None:
            continue
        lead_ii = decode_ecg(r["ecg"])[1]
        lead_ii = lead_ii - ndimage.median_filter(lead_ii, size=61)
        peaks, _ = signal.find_peaks(lead_ii, height=0.5 * np.percentile(lead_ii, 99.5), distance=30)
        rr = np.diff(peaks) / 100.0
        cv.append(rr.std() / rr.mean())
        af.append(bool(lat.loc[r["patient_id"], "af"]))
        if not af[-1]:
            err.append(abs(60 / rr.mean() - lat.loc[r["patient_id"], "hr_bpm"]))
    cv, af = np.array(cv), np.array(af)
    assert af.sum() >= 3
    assert np.median(cv[af]) > 2 * np.median(cv[~af])
    assert np.median(err) < 5


def test_image_ef_follows_latent_state(cohort, rows):
    """The LV cavity area (ED vs ES) measured on the pixels tracks the latent EF."""
    lat = cohort.latent.set_index("patient_id")
    measured, truth = [], []
    for r in rows:
        if r["image"] is None:
            continue
        px = decode_image(r["image"]).astype(float)
        areas = []
        for frame in px:
            lab, _ = ndimage.label(frame > 0.6 * np.percentile(frame, 99))
            centre = lab[16, 18] if lab[16, 18] else lab[16, 19]
            areas.append((lab == centre).sum() if centre else np.nan)
        measured.append(1 - areas[1] / areas[0])
        truth.append(lat.loc[r["patient_id"], "lvef"])
    ok = np.isfinite(measured)
    assert np.corrcoef(np.array(measured)[ok], np.array(truth)[ok])[0, 1] > 0.7


def test_labels_consistent(cohort, rows):
    lat = cohort.latent.set_index("patient_id")
    for r in rows:
        lab, p = r["labels"], lat.loc[r["patient_id"]]
        surv = lab["time_to_mace"]
        assert lab["mace"] == surv["event"] and 0 < surv["time"] <= 5.0 + 1e-6
        assert lab["diagnosis"] in DIAGNOSIS_CLASSES and set(lab["findings"]) <= set(FINDING_CLASSES)
        assert ("atrial_fibrillation" in lab["findings"]) == bool(p["af"])
        assert ("reduced_ef" in lab["findings"]) == (lab["lvef"] < 50)
        if p["lvef"] < 40 and not (p["hcm"] or p["dcm"]):
            assert lab["diagnosis"] == "heart_failure"
        if lab["diagnosis"] == "normal":
            assert not (p["af"] or p["prior_mi"] or p["lvef"] < 40)
    assert 0.15 < cohort.latent["mace"].mean() < 0.4


def test_consent_and_provenance(rows):
    for r in rows:
        codes = r["consent"]["codes"]
        assert codes and all(re.fullmatch(r"DUO:\d{7}", c) for c in codes)
        if DUO_DS in codes:
            assert r["consent"]["diseases"] == ["MONDO:0005267"]
        present = {m for m, col in [("ecg", "ecg"), ("image", "image"), ("genomics", "genotype"), ("text", "text"),
                                    ("tabular", "tabular"), ("heart_sound", "heart_sound"), ("wearable", "wearable")]
                   if r[col] is not None}
        assert {p["modality"] for p in r["provenance"]} == present
        for p in r["provenance"]:  # payload hashes tie an entry to the exact bytes stored
            if p["modality"] == "heart_sound":
                assert p["sha256"] == hashlib.sha256(r["heart_sound"]["signal"]).hexdigest()
        assert all('"seed": 3' in p["metadata"] for p in r["provenance"])


def test_sites_differ_in_missingness(cohort):
    lat = cohort.latent
    rates = lat.groupby("site")[["has_image", "has_genotype"]].mean()
    assert len(rates) == 5
    assert rates["has_image"].max() - rates["has_image"].min() > 0.2
    assert rates["has_genotype"].max() - rates["has_genotype"].min() > 0.2
    assert cohort.table.column("image").null_count == int((~lat["has_image"]).sum())
    assert cohort.table.column("genotype").null_count == int((~lat["has_genotype"]).sum())


def _ipc_bytes(table: pa.Table) -> bytes:
    """Serialised table: byte-equal tables are identical, NaN dosages included (``Table.equals`` says NaN != NaN)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


def test_determinism(cohort):
    again = generate_cohort(N, sites=5, seed=3, config=SMALL)
    assert _ipc_bytes(again.table) == _ipc_bytes(cohort.table)
    other = generate_cohort(N, sites=5, seed=4, config=SMALL)
    assert not other.table.column("ecg").equals(cohort.table.column("ecg"))


def test_write_cohort_round_trip_independent_of_chunks(tmp_path):
    config = CohortConfig(ecg_fs_hz=100.0, ecg_seconds=4, image_size=32)
    a = write_cohort(tmp_path / "a", 250, sites=2, seed=1, config=config, chunk_size=100, progress=False)
    b = write_cohort(tmp_path / "b", 250, sites=2, seed=1, config=config, chunk_size=1000, progress=False)
    store_a, store_b = RecordStore(a), RecordStore(b)
    assert len(store_a) == len(store_b) == 250
    assert store_a.panel == build_panel()
    key = pa.compute.sort_indices(store_a.table, [("patient_id", "ascending")])
    key_b = pa.compute.sort_indices(store_b.table, [("patient_id", "ascending")])
    assert _ipc_bytes(store_a.table.take(key)) == _ipc_bytes(store_b.table.take(key_b))
    direct = generate_cohort(250, sites=2, seed=1, config=config).table
    assert _ipc_bytes(direct.sort_by("patient_id")) == _ipc_bytes(store_a.table.take(key))
    with pytest.raises(Exception, match="overwrite"):
        write_cohort(a, 10, config=config, progress=False)


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["cohort", "--n", "40", "--sites", "2", "--seed", "5", "--out", str(out), "--fs", "100",
               "--image-size", "32", "--frames", "3", "--no-progress"])
    assert rc == 0 and "wrote 40 patients" in capsys.readouterr().out
    store = RecordStore(out)
    assert len(store) == 40 and set(store.metadata["sites"]) == {"site_a", "site_b"}
    image = next(x for x in store.column("image").to_pylist() if x is not None)
    assert image["shape"] == [3, 32, 32]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n": 0}, "n must be"), ({"n": 5, "sites": 0}, "sites must be")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_cohort(config=SMALL, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"image_frames": 1}, "image_frames"), ({"missing": {"xray": 0.1}}, "unknown modality"),
     ({"missing": {"image": 1.5}}, r"missing\['image'\]"), ({"ecg_fs_hz": 10}, "ecg_fs_hz")],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CohortConfig(**kwargs)


@pytest.mark.slow
def test_every_modality_carries_mace_signal():
    """Each modality predicts MACE on its own; all modalities together do clearly better."""
    config = CohortConfig(ecg_fs_hz=50.0, ecg_seconds=2, image_size=32)
    c = generate_cohort(1500, sites=5, seed=11, config=config)
    mace = c.latent["mace"].to_numpy()
    auc = oracle_aurocs(c.latent, mace)
    singles = {m: a for m, a in auc.items() if m != "all"}
    assert min(singles.values()) > 0.58, auc
    assert auc["all"] > max(singles.values()) + 0.04, auc
    # observed columns, not only the latent state: tabular and genotype records, keywords in the notes
    rows = c.table.select(["tabular", "genotype", "text", "labels"]).to_pylist()
    tab = [(r["tabular"]["age"], r["tabular"]["diabetes"] == "yes", r["labels"]["mace"]) for r in rows
           if r["tabular"] and r["tabular"]["age"] is not None]
    x, y = np.array([t[:2] for t in tab], float), np.array([t[2] for t in tab])
    prob = cross_val_predict(LogisticRegression(), x, y, cv=3, method="predict_proba")[:, 1]
    assert roc_auc_score(y, prob) > 0.55
    prs = [(r["genotype"]["prs"], r["labels"]["mace"]) for r in rows if r["genotype"]]
    assert roc_auc_score([p[1] for p in prs], [p[0] for p in prs]) > 0.55
    severe = re.compile(r"nyha (iii|iv|3|class iii|class iv)|at rest|minimal exertion|sudden", re.I)
    notes = [(bool(severe.search(r["text"])), r["labels"]["mace"]) for r in rows if r["text"]]
    flag, y = np.array([n[0] for n in notes]), np.array([n[1] for n in notes])
    assert y[flag].mean() > y[~flag].mean() + 0.1
