"""RecordStore on filesystem URIs: file:// (memory-mapped) and fsspec's in-memory filesystem (memory://)."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.store import RecordStore, StoreError, write_store
from nextgen_ml.data.store_fs import StoreLocation, filesystem_from_uri, is_uri
from tests.conftest import make_record


def _copy_to_memory_fs(local: Path) -> str:
    """Upload a local store directory to fsspec's process-wide memory filesystem; returns its URI."""
    fs = fsspec.filesystem("memory")
    root = f"/stores/{uuid.uuid4().hex}"
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe(f"{root}/{path.relative_to(local).as_posix()}", path.read_bytes())
    return f"memory://{root}"


def test_is_uri() -> None:
    assert is_uri("s3://bucket/store") and is_uri("file:///tmp/x") and is_uri("memory://x")
    assert not is_uri("/tmp/x") and not is_uri(Path("/tmp/x")) and not is_uri("relative/dir")


def test_file_uri_is_memory_mapped_and_reads_the_same_records(tiny_store: Path) -> None:
    plain = RecordStore(tiny_store, columns=["patient_id", "tabular", "labels"])
    via_uri = RecordStore(tiny_store.as_uri(), columns=["patient_id", "tabular", "labels"])
    assert via_uri.location.local and via_uri.path == tiny_store
    assert len(via_uri) == len(plain)
    assert via_uri.row(7) == plain.row(7) and via_uri.row(-1) == plain.row(-1)


def test_memory_fs_store_reads_only_requested_columns(tiny_store: Path) -> None:
    uri = _copy_to_memory_fs(tiny_store)
    plain = RecordStore(tiny_store, columns=["patient_id", "ecg", "labels"], sites=["site_b"])
    remote = RecordStore(uri, columns=["patient_id", "ecg", "labels"], sites=["site_b"])
    assert not remote.location.local and remote.path == uri
    assert remote.columns == ["patient_id", "ecg", "labels"] and remote.table.schema.names == remote.columns
    assert len(remote) == len(plain) > 0
    for i in (0, len(plain) // 2, len(plain) - 1):
        assert remote.row(i) == plain.row(i)
    assert remote.column("patient_id").to_pylist() == plain.column("patient_id").to_pylist()


def test_memory_fs_parquet_store(tmp_path: Path) -> None:
    records = [make_record(f"p{i}", site="site_a" if i % 2 else "site_b") for i in range(6)]
    write_store(tmp_path / "pq", records, format="parquet")
    remote = RecordStore(_copy_to_memory_fs(tmp_path / "pq"), columns=["patient_id", "text"])
    assert sorted(remote.column("patient_id").to_pylist()) == [f"p{i}" for i in range(6)]


def test_missing_remote_store_and_unknown_scheme() -> None:
    with pytest.raises(StoreError, match="not a nextgen_ml store"):
        RecordStore(f"memory://nothing-here-{uuid.uuid4().hex}")
    with pytest.raises(ValueError, match="no pyarrow or fsspec filesystem"):
        filesystem_from_uri("nosuchscheme-xyz://bucket/store")
    assert StoreLocation("memory://a/b/").root == "/a/b"


def test_datamodule_reads_a_store_from_a_uri(tiny_store: Path) -> None:
    dm = CardioDataModule(_copy_to_memory_fs(tiny_store), modalities=["tabular", "genomics"], batch_size=8)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"]["tabular"].shape[0] == 8 and "genomics" in batch["mask"]
