"""What a DP run releases beyond its gradients: preprocessing, the training-set size, replayable randomness."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import open_dict

from nextgen_ml.data.dictionary import Variable
from nextgen_ml.data.sensor_transforms import WearableTransform
from nextgen_ml.data.transforms import ImageTransform, TabularTransform
from nextgen_ml.privacy import DPCallback
from nextgen_ml.privacy.public import DECLARED_WEARABLE, check_public_label_statistics, public_transforms
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer

TAB = ["+experiment=tabular_only", "model.encoder.tabular.name=tabular_mlp"]


def test_public_transforms_override_every_fitted_quantity():
    out = public_transforms(["tabular", "text", "wearable", "image", "ecg"], {"text": {"max_len": 8}})
    assert out["tabular"] == {"statistics": "declared"}
    assert out["text"] == {"max_len": 8, "tokenizer": "minilm"}
    assert out["wearable"]["statistics"] == DECLARED_WEARABLE
    assert out["image"] == {"spatial_dims": 2} and out["ecg"] == {}
    with pytest.raises(ValueError, match=r"privacy=dp: wearable channels \['ppg'\] have no declared"):
        public_transforms(["wearable"], {"wearable": {"channels": ["heart_rate", "ppg"]}})
    declared = public_transforms(["wearable"], {"wearable": {"channels": ["ppg"], "statistics": {"ppg": [0, 2]}}})
    assert declared["wearable"]["statistics"] == {"ppg": (0, 2)}


def test_declared_transforms_read_no_data():
    wearable = WearableTransform(statistics=DECLARED_WEARABLE).fit(None)  # type: ignore[arg-type]
    assert wearable.mean["heart_rate"] == 75.0 and wearable.std["hrv_rmssd"] == 25.0
    image = ImageTransform(spatial_dims=2).fit(None)  # type: ignore[arg-type]
    assert image.spatial_dims == 2


def test_a_numeric_variable_without_a_declared_range_is_refused_by_name():
    from nextgen_ml.data.dictionary import DataDictionary

    dictionary = DataDictionary(variables={"troponin": Variable(name="troponin", kind="numeric", unit="ng/L")})
    with pytest.raises(ValueError, match=r"'troponin' declares no range.*dictionary\.variables\.troponin\.range"):
        TabularTransform(dictionary=dictionary, statistics="declared")


def test_a_dp_regression_head_needs_declared_loc_and_scale():
    with pytest.raises(ValueError, match="task.options.loc"):
        check_public_label_statistics("regression", "lvef", {})
    check_public_label_statistics("regression", "lvef", {"loc": 55, "scale": 10})
    check_public_label_statistics("binary", "mace", None)


def test_dp_preprocessing_does_not_depend_on_the_training_records(make_dp_cfg):
    # reconstruction attack of issue 17: fitted statistics in the checkpoint revealed included records. Under DP
    # the saved transform state is the same whichever patients are in the training split.
    states = []
    for seed in (0, 1):
        cfg = make_dp_cfg(["data.modalities=[tabular,text,ecg,wearable,image]", f"data.seed={seed}"])
        dm = build_datamodule(cfg)
        dm.setup()
        states.append((dm.state_dict()["transforms"], dm.split_indices["train"]))
        # the effective (public) settings are in the config that config.yaml, eval.py and bundles rebuild from
        assert cfg.data.transforms.text.tokenizer == "minilm" and cfg.data.transforms.tabular.statistics == "declared"
    (first, train_a), (second, train_b) = states
    assert set(train_a.tolist()) != set(train_b.tolist())  # different training patients ...
    assert first == second  # ... identical released preprocessing
    assert first["tabular"]["statistics"] == "declared" and first["tabular"]["mean"]["age"] == (18 + 110) / 2
    assert first["text"]["kind"] == "minilm" and first["text"]["trained"] is None  # no vocabulary of the notes
    assert first["wearable"]["mean"]["heart_rate"] == 75.0 and first["image"]["spatial_dims"] == 2


def _weights_after_fit(cfg) -> list[torch.Tensor]:
    pl.seed_everything(cfg.seed, workers=True)
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=dm)
    assert "train_dataloader" not in vars(dm)  # the callback's Poisson loader is gone after the fit
    return [p.detach().clone() for p in module.net.parameters()]


def test_secure_noise_cannot_be_replayed_from_the_config_and_debug_mode_can(make_dp_cfg):
    # replay attack of issue 17: the public seed reproduced the noise and the sampling bit for bit
    secure = ["privacy.reproducible_noise=false", "privacy.noise_seed=null", "trainer.limit_train_batches=2"]
    a, b = (_weights_after_fit(make_dp_cfg([*TAB, *secure], run=f"s{i}")) for i in range(2))
    assert not all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    debug = ["trainer.limit_train_batches=2"]  # the fixture's reproducible_noise=true, noise_seed=0
    c, d = (_weights_after_fit(make_dp_cfg([*TAB, *debug], run=f"d{i}")) for i in range(2))
    assert all(torch.equal(x, y) for x, y in zip(c, d, strict=True))


def test_the_callback_reports_a_bound_not_n(make_dp_cfg):
    cfg = make_dp_cfg(TAB)
    with open_dict(cfg):
        cfg.privacy.n_bound = 5000
    dm = build_datamodule(cfg)
    dm.setup()
    trainer = build_trainer(cfg)
    dp = next(c for c in trainer.callbacks if isinstance(c, DPCallback))
    module = build_module(cfg, dm)
    trainer.fit(module, datamodule=dm)
    assert dp.delta == pytest.approx(1 / 50_000) and dp.n_bound == 5000
    assert "n_train" not in str(dp.metrics())
