"""Inputs that do not fit the bundle's preprocessing fail with errors naming the record and the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from nextgen_ml.bundle import BundleError, InputMismatchError, load_pretrained
from nextgen_ml.data.codec import encode_ecg, encode_image
from nextgen_ml.data.store import RecordStore, write_store
from tests.conftest import make_record


@pytest.fixture(scope="module")
def bundle(exported: Path):
    return load_pretrained(exported)


@pytest.fixture(scope="module")
def good(tiny_store: Path) -> dict:
    return RecordStore(tiny_store).row(0)


def test_missing_ecg_leads(bundle, good):
    rng = np.random.default_rng(0)
    ecg = encode_ecg(rng.normal(0, 100, (3, 1000)), 100.0, leads=["I", "II", "III"])
    with pytest.raises(InputMismatchError, match=r"record 'bad_ecg', field 'ecg.leads'.*missing leads") as err:
        bundle.predict([dict(good, patient_id="bad_ecg", ecg=ecg)])
    assert err.value.record == "bad_ecg" and err.value.field == "ecg.leads"


def test_genotype_panel_size(bundle, good):
    with pytest.raises(InputMismatchError, match=r"record 'bad_geno', field 'genotype.dosages'.*has 64 variants"):
        bundle.predict([dict(good, patient_id="bad_geno", genotype={"dosages": [0.0, 1.0, 2.0], "prs": 0.0})])


def test_image_spatial_dims(bundle, good):
    volume = encode_image(np.zeros((2, 4, 32, 32), dtype=np.uint8), [8.0, 1.5, 1.5])
    with pytest.raises(InputMismatchError, match=r"record 'bad_img', field 'image.shape'.*expects 2D"):
        bundle.predict([dict(good, patient_id="bad_img", image=volume)])
    one_frame = encode_image(np.zeros((1, 32, 32), dtype=np.uint8), [1.5, 1.5])
    with pytest.raises(InputMismatchError, match=r"field 'image.shape': 1 frames; the bundle's model needs 2"):
        bundle.predict([dict(good, patient_id="bad_img", image=one_frame)])


def test_unknown_tabular_category(bundle, good):
    tab = dict(good["tabular"], smoking="sometimes")
    with pytest.raises(InputMismatchError, match=r"record 'bad_tab', field 'tabular.smoking'"):
        bundle.predict([dict(good, patient_id="bad_tab", tabular=tab)])


def test_table_schema_major_version(bundle, good):
    table = pa.Table.from_pylist([good]).replace_schema_metadata({"nextgen_ml.schema_version": "9.0.0"})
    with pytest.raises(InputMismatchError, match=r"field 'schema_version'.*9.0.0"):
        bundle.predict(table)


def test_store_with_another_panel(bundle, tmp_path):
    from nextgen_ml.data.panel import Variant, VariantPanel

    panel = VariantPanel("toy-4", "GRCh38", tuple(Variant(f"v{i}", "1", i + 1, "A", "G", "G1", 0.2) for i in range(4)))
    store = write_store(tmp_path / "toy", [make_record("p0")], panel=panel)
    with pytest.raises(InputMismatchError, match=r"<store .*toy>', field 'genotype.dosages'.*toy-4.*4 variants"):
        bundle.predict(store)


def test_bundle_schema_version_and_corruption(exported: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps(dict(manifest, schema_version="0.9.0")))
    with pytest.raises(BundleError, match="field 'schema_version': trained on record schema 0.9.0"):
        load_pretrained(copy)
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with (copy / "model.safetensors").open("r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(BundleError, match="does not match the sha256"):
        load_pretrained(copy)
    with pytest.raises(BundleError, match="no bundle directory"):
        load_pretrained(tmp_path / "nowhere")
    (copy / "config.json").unlink()
    with pytest.raises(BundleError, match=r"missing \['config.json'\]"):
        load_pretrained(copy)


def test_wrong_source_types(bundle, good):
    with pytest.raises(TypeError, match="not a single record"):
        bundle.predict(good)
    with pytest.raises(TypeError, match=r"records\[1\]"):
        bundle.predict([good, 3])


def test_schema_1_bundle_reads_schema_2_records_but_not_other_majors():
    from nextgen_ml.bundle.inputs import check_schema_version
    from nextgen_ml.bundle.preprocess import InputMismatchError

    check_schema_version("2.0.0", "<table>", "1.1.0")  # 2.0 changed declarations, not model inputs
    check_schema_version("1.1.0", "<table>", "2.0.0")
    with pytest.raises(InputMismatchError, match="schema_version"):
        check_schema_version("3.0.0", "<table>", "2.0.0")
