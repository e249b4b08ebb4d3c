import json

import numpy as np
import pytest
import torch

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.dataset import Collate
from nextgen_ml.data.schema import FINDING_CLASSES, MODALITIES


@pytest.fixture(scope="module")
def dm(tiny_store):
    dm = CardioDataModule(tiny_store, batch_size=16, transforms={"image": {"size": 32}, "text": {"max_len": 48}})
    dm.setup()
    return dm


def test_batches_hold_every_modality_with_presence_masks(dm):
    batch = next(iter(dm.train_dataloader()))
    b = batch["index"].shape[0]
    assert set(batch["mask"]) == set(MODALITIES)
    for mask in batch["mask"].values():
        assert mask.dtype == torch.bool and mask.shape == (b,)
    x = batch["inputs"]
    assert x["ecg"].shape == (b, 12, 1000) and x["ecg"].dtype == torch.float32
    assert x["image"].shape == (b, 2, 32, 32)
    assert x["genomics"].shape == (b, len(dm.store.panel))
    assert x["tabular"].shape == (b, 12)
    assert x["text"].dtype == torch.int64 and x["text"].shape == (b, 48)
    assert batch["targets"]["findings"].shape == (b, len(FINDING_CLASSES))
    for m, t in x.items():
        assert torch.isfinite(t.float()).all(), m
        absent = ~batch["mask"][m]
        assert (t[absent] == 0).all(), f"absent {m} rows must be placeholders"


def test_absent_modalities_match_nulls_in_the_store(dm):
    ds = dm.datasets["val"]
    for i in range(len(ds)):
        row = ds.store.row(i)
        sample = ds[i]
        assert (sample["inputs"]["image"] is None) == (row["image"] is None)
        assert (sample["inputs"]["genomics"] is None) == (row["genotype"] is None)


def test_splits_are_patient_level_and_cover_the_store(dm):
    ids = {k: set(dm.store.subset(v).column("patient_id").to_pylist()) for k, v in dm.split_indices.items()}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert sum(len(v) for v in dm.split_indices.values()) == len(dm.store)


def test_tabular_standardisation_is_fitted_on_train_only(dm):
    tab = dm.transforms["tabular"]
    train_ages = [t["age"] for t in dm.store.subset(dm.split_indices["train"]).column("tabular").to_pylist()
                  if t and t["age"] is not None]
    assert tab.mean["age"] == pytest.approx(np.mean(train_ages), rel=1e-6)
    all_ages = [t["age"] for t in dm.store.column("tabular").to_pylist() if t and t["age"] is not None]
    assert tab.mean["age"] != pytest.approx(np.mean(all_ages), rel=1e-9)


def test_specs_describe_encoder_inputs(dm):
    specs = dm.modality_specs
    assert specs["ecg"] == {"in_channels": 12}
    assert specs["image"]["in_channels"] == 2 and specs["image"]["spatial_dims"] == 2
    assert specs["genomics"]["n_variants"] == len(dm.store.panel)
    assert specs["tabular"]["cardinalities"][0] == 0  # age is numeric
    assert specs["text"]["vocab_size"] > 10


def test_modality_subset_and_unknown_modality(tiny_store):
    dm = CardioDataModule(tiny_store, modalities=["ecg", "tabular"], batch_size=8)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch["inputs"]) <= {"ecg", "tabular"} and set(batch["mask"]) == {"ecg", "tabular"}
    with pytest.raises(ValueError, match="ekg"):
        CardioDataModule(tiny_store, modalities=["ecg", "ekg"])


def test_site_held_out_split(tiny_store):
    dm = CardioDataModule(tiny_store, modalities=["tabular"], split="site", test_sites=["site_c"])
    dm.setup()
    test_sites = set(dm.store.subset(dm.split_indices["test"]).column("site").to_pylist())
    train_sites = set(dm.store.subset(dm.split_indices["train"]).column("site").to_pylist())
    assert test_sites == {"site_c"} and "site_c" not in train_sites


def test_modality_dropout_hides_but_never_everything():
    samples = [{"inputs": {"ecg": np.ones((2, 3), np.float32), "tabular": np.ones(4, np.float32)},
                "targets": {k: np.float32(0) for k in ("mace", "lvef")} | {"time_to_mace": np.zeros(2, np.float32)}
                | {"diagnosis": np.int64(0), "findings": np.zeros(6, np.float32)}, "index": i} for i in range(200)]
    torch.manual_seed(0)
    batch = Collate(["ecg", "tabular"], modality_dropout=0.5)(samples)
    ecg, tab = batch["mask"]["ecg"], batch["mask"]["tabular"]
    assert (ecg | tab).all()  # at least one modality per row
    assert 0.2 < (~ecg).float().mean() < 0.6  # about p·(1 - p/2) of rows lose the ECG
    with pytest.raises(ValueError, match="modality_dropout"):
        Collate(["ecg"], modality_dropout=1.0)


def test_state_dict_restores_transforms_and_splits(dm, tiny_store):
    other = CardioDataModule(tiny_store, batch_size=16, transforms={"image": {"size": 32}, "text": {"max_len": 48}},
                             seed=123)
    other.load_state_dict(dm.state_dict())
    other.setup()
    assert all(np.array_equal(other.split_indices[k], dm.split_indices[k]) for k in dm.split_indices)
    sample_a, sample_b = dm.datasets["test"][0], other.datasets["test"][0]
    for m in sample_a["inputs"]:
        if sample_a["inputs"][m] is not None:
            np.testing.assert_array_equal(sample_a["inputs"][m], sample_b["inputs"][m])


def test_missing_store_without_cohort_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no record store"):
        CardioDataModule(tmp_path / "nothing").setup()


def test_consent_filter_runs_before_payloads_and_no_forbidden_record_reaches_a_batch(tiny_store):
    from nextgen_ml.governance.duo import ConsentCodes, ResearchPurpose, permits

    purpose = {"requester": "alice", "disease": "MONDO:0005267", "methods_development": True, "for_profit": True}
    dm = CardioDataModule(tiny_store, modalities=["tabular"], batch_size=32, purpose=purpose)
    dm.setup()
    report = dm.consent_report
    assert report.included == len(dm.store) and sum(report.excluded.values()) > 0
    consents = {}
    from nextgen_ml.data.store import RecordStore

    for row in RecordStore(tiny_store, columns=["patient_id", "consent"]).table.to_pylist():
        consents[row["patient_id"]] = row["consent"]
    seen = 0
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        for batch in loader:
            for i in batch["index"].tolist():
                pid = loader.dataset.store.row(i)["patient_id"]
                decision = permits(ConsentCodes.from_dict(consents[pid], where=pid), ResearchPurpose(**purpose))
                assert decision.allowed, (pid, decision.reason)
                seen += 1
    assert seen == report.included


def test_cached_cohort_is_regenerated_when_settings_change(tmp_path):
    cohort = {"n": 40, "sites": 2, "seed": 1, "config": {"ecg_fs_hz": 50.0, "image_size": 32}}
    dm = CardioDataModule(tmp_path / "c", modalities=["tabular"], cohort=cohort)
    dm.prepare_data()
    first = (tmp_path / "c" / "_metadata.json").read_text()
    CardioDataModule(tmp_path / "c", modalities=["tabular"], cohort=cohort).prepare_data()  # reused
    assert (tmp_path / "c" / "_metadata.json").read_text() == first
    CardioDataModule(tmp_path / "c", modalities=["tabular"], cohort={**cohort, "seed": 2}).prepare_data()
    assert '"seed": 2' in (tmp_path / "c" / "_metadata.json").read_text()


def test_cached_cohort_from_an_older_generator_is_regenerated(tmp_path):
    """A store whose generator settings lack a newer setting (same schema version) is not reused with empty
    columns: it is regenerated, and the new modality is then present."""
    cohort = {"n": 40, "sites": 2, "seed": 1, "config": {"ecg_fs_hz": 50.0, "image_size": 32}}
    CardioDataModule(tmp_path / "c", modalities=["tabular"], cohort=cohort).prepare_data()
    meta_file = tmp_path / "c" / "_metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["generator"]["config"]["heart_sound_fs_hz"]  # as written before heart sounds existed
    meta_file.write_text(json.dumps(meta))
    dm = CardioDataModule(tmp_path / "c", modalities=["heart_sound"], cohort=cohort)
    dm.prepare_data()
    assert "heart_sound_fs_hz" in json.loads(meta_file.read_text())["generator"]["config"]
    dm.setup()
    assert dm.store.column("heart_sound").null_count < len(dm.store)
