"""A new modality in one file outside the package (tests/plugins/pulse_oximetry.py): a store holds it and
`train(cfg)` fits a fusion model on it with no edit anywhere else (issue 15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from omegaconf import open_dict

from nextgen_ml.data.store import RecordStore, StoreError, StoreWriter
from nextgen_ml.data.validate import RecordValidationError, validate_record
from nextgen_ml.modalities import load_plugins, modality_names, modality_spec, unregister_modality
from nextgen_ml.registry import ENCODERS, encoder_modality
from tests.conftest import make_record

PLUGIN = str(Path(__file__).resolve().parents[1] / "plugins" / "pulse_oximetry.py")


@pytest.fixture
def plugin():
    assert load_plugins([PLUGIN]) == ["pulse_oximetry"]
    yield modality_spec("pulse_oximetry")
    unregister_modality("pulse_oximetry")
    ENCODERS.unregister("pulse_oximetry_mlp")


def _write_store(tiny_store: Path, out: Path, spec) -> None:
    """The tiny cohort's records plus a pulse-oximetry trace that is lower in patients with MACE."""
    source = RecordStore(tiny_store)
    rng = np.random.default_rng(0)
    mace = [lab["mace"] for lab in source.column("labels").to_pylist()]
    values = [spec.example(rng, desaturating=bool(m)) for m in mace]
    table = source.table.drop_columns([spec.column])  # opened with the plugin registered: an all-null column
    table = table.append_column(pa.field(spec.column, spec.arrow_type), pa.array(values, spec.arrow_type))
    with StoreWriter(out, panel=source.panel, dictionary=source.dictionary) as writer:
        writer.write(table)


def test_plugin_derives_schema_validation_and_encoder_prefix(plugin):
    from tests.encoders.test_modality_specs import check_spec

    assert "pulse_oximetry" in modality_names()
    check_spec("pulse_oximetry")  # the checks every built-in spec passes
    assert encoder_modality("pulse_oximetry_mlp") == "pulse_oximetry"
    record = make_record(pulse_ox=plugin.example_value())
    validate_record(record, panel_size=4)
    with pytest.raises(RecordValidationError) as err:
        validate_record(make_record(pulse_ox={"values": [99.0, 120.0], "fs_hz": 1.0}), panel_size=4)
    assert err.value.field == "pulse_ox.values"


def test_store_with_plugin_column_is_refused_without_the_plugin(plugin, tiny_store, tmp_path):
    _write_store(tiny_store, tmp_path / "store", plugin)
    assert RecordStore(tmp_path / "store", columns=["patient_id", "pulse_ox"]).row(0)["pulse_ox"] is not None
    unregister_modality("pulse_oximetry")
    with pytest.raises(StoreError, match="pulse_oximetry.*plugins="):
        RecordStore(tmp_path / "store")
    ENCODERS.unregister("pulse_oximetry_mlp")
    load_plugins([PLUGIN])  # the fixture's teardown expects it registered


def test_train_py_fits_a_fusion_model_on_the_plugin_modality(plugin, tiny_store, tmp_path):
    from nextgen_ml.training import train
    from tests.training.conftest import TINY, compose_cfg

    _write_store(tiny_store, tmp_path / "store", plugin)
    cfg = compose_cfg([*TINY, "data=store", f"data.data_dir={tmp_path / 'store'}", f"plugins=[{PLUGIN}]",
                       "data.modalities=[tabular,pulse_oximetry]", "model/fusion=concat", "trainer.max_epochs=1"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.log_dir = str(tmp_path / "logs")
    metrics = train(cfg)
    assert 0.0 <= metrics["test/auroc"] <= 1.0
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
