import json

import numpy as np
import pyarrow as pa
import pytest

from nextgen_ml.data.codec import decode_ecg
from nextgen_ml.data.panel import Variant, VariantPanel
from nextgen_ml.data.schema import RECORD_SCHEMA
from nextgen_ml.data.store import METADATA_FILE, RecordStore, StoreError, StoreWriter, write_store
from tests.conftest import make_record

PANEL = VariantPanel("test", "GRCh38", tuple(Variant(f"rs{i}", "1", 100 + i, "A", "G", "G1", 0.2) for i in range(4)))


def _records(n, rng):
    return [make_record(f"p{i}", site=f"site_{'abc'[i % 3]}", rng=rng) for i in range(n)]


@pytest.mark.parametrize("fmt", ["ipc", "parquet"])
def test_round_trip_partitioned_by_site(tmp_path, fmt):
    rng = np.random.default_rng(0)
    recs = _records(30, rng)
    write_store(tmp_path, recs, panel=PANEL, format=fmt)
    assert sorted(p.name for p in tmp_path.glob("site=*")) == ["site=site_a", "site=site_b", "site=site_c"]
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    assert meta["n_records"] == 30 and meta["sites"] == {"site_a": 10, "site_b": 10, "site_c": 10}
    store = RecordStore(tmp_path)
    assert len(store) == 30
    assert store.panel == PANEL
    by_id = {r["patient_id"]: r for r in recs}
    for i in range(len(store)):
        row = store.row(i)
        np.testing.assert_array_equal(decode_ecg(row["ecg"]), decode_ecg(by_id[row["patient_id"]]["ecg"]))
        assert row["tabular"] == pytest.approx(by_id[row["patient_id"]]["tabular"])


def test_reads_only_requested_columns_and_sites(tmp_path):
    write_store(tmp_path, _records(12, np.random.default_rng(1)))
    store = RecordStore(tmp_path, columns=["patient_id", "labels"], sites=["site_b"])
    assert store.table.column_names == ["patient_id", "labels"]
    assert len(store) == 4
    assert set(store.row(0)) == {"patient_id", "labels"}
    with pytest.raises(ValueError, match="not requested"):
        store.column("ecg")
    with pytest.raises(ValueError, match="not record fields"):
        RecordStore(tmp_path, columns=["ekg"])


def test_chunked_writes_and_subset_views(tmp_path):
    rng = np.random.default_rng(2)
    with StoreWriter(tmp_path) as writer:
        writer.write(_records(9, rng))
        writer.write(pa.Table.from_pylist(_records(9, rng), schema=RECORD_SCHEMA))
    store = RecordStore(tmp_path, columns=["patient_id"])
    assert len(store) == 18 and len(list(tmp_path.glob("site=site_a/part-*"))) == 2
    view = store.subset([5, 1, 7])
    assert [view.row(i)["patient_id"] for i in range(3)] == [store.row(i)["patient_id"] for i in (5, 1, 7)]
    nested = view.subset([2, 0])
    assert nested.row(0)["patient_id"] == store.row(7)["patient_id"]
    assert nested.take([1]).column("patient_id").to_pylist() == [store.row(5)["patient_id"]]
    with pytest.raises(IndexError, match="out of range"):
        view.row(3)


def test_store_errors_are_clear(tmp_path):
    with pytest.raises(StoreError, match="not a nextgen_ml store"):
        RecordStore(tmp_path)
    write_store(tmp_path, _records(3, np.random.default_rng(3)))
    with pytest.raises(StoreError, match="already holds a store"):
        write_store(tmp_path, _records(3, np.random.default_rng(3)))
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    (tmp_path / METADATA_FILE).write_text(json.dumps(dict(meta, schema_version="9.0.0")))
    with pytest.raises(StoreError, match="schema 9.0.0"):
        RecordStore(tmp_path)
