"""The worker pool: a decoder killed by a signal, a segfault, a memory blow-up or a hang costs only its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextgen_ml.data.store import RecordStore
from nextgen_ml.ingest.manifest import parse_manifest
from nextgen_ml.ingest.pipeline import ingest
from nextgen_ml.ingest.readers import READERS

from ..conftest import LIMB_AND_CHEST, TEST_KEY, einthoven_ecg, write_wfdb
from .crashing_readers import misbehaving_wfdb


def _manifest(tmp_path: Path, names: list[str], options: str) -> object:
    export = tmp_path / "export"
    for k, name in enumerate(names):
        write_wfdb(export / "wfdb", name, einthoven_ecg(500, seed=k), LIMB_AND_CHEST)
    patients = ", ".join(f"{{id: P{k}, files: [wfdb/{name}.hea]}}" for k, name in enumerate(names))
    text = f"site: s\noptions: {{{options}}}\npatients: [{patients}]\n"
    return parse_manifest(text, export, export / "manifest.yaml")


def _run(tmp_path: Path, names: list[str], options: str) -> dict[str, tuple[str, str | None, str | None]]:
    manifest = _manifest(tmp_path, names, options)
    readers = {**READERS, "wfdb": misbehaving_wfdb}
    report = ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False, readers=readers)
    counts = report.counts()
    assert counts["patients_in"] == len(names) == counts["records_written"] + counts["patients_quarantined"]
    assert len(RecordStore(tmp_path / "store")) == counts["records_written"]
    return {Path(f.path).stem: (f.status, f.field, f.reason) for f in report.files}


def test_decoder_killed_by_a_signal_costs_only_its_file(tmp_path):
    files = _run(tmp_path, ["ok_a", "kill_me", "ok_b", "ok_c"], "workers: 2")
    assert files["kill_me"][0] == "quarantined"
    assert "decoder process died (signal SIGKILL)" in files["kill_me"][2]
    assert all(files[n][0] == "ingested" for n in ("ok_a", "ok_b", "ok_c"))


@pytest.mark.slow
def test_segfault_memory_blowup_and_hang_cost_only_their_files(tmp_path):
    names = ["ok_a", "segv_me", "hog_me", "sleep_me", "ok_b"]
    files = _run(tmp_path, names, "workers: 2, worker_memory_mb: 4096, file_timeout_s: 3")
    assert "signal SIGSEGV" in files["segv_me"][2]
    assert files["hog_me"][0] == "quarantined" and "MemoryError" in files["hog_me"][2]
    assert files["sleep_me"][0] == "quarantined" and "file_timeout_s" in files["sleep_me"][2]
    assert files["ok_a"][0] == files["ok_b"][0] == "ingested"


def test_in_process_decoding_isolates_exceptions_too(tmp_path):
    files = _run(tmp_path, ["ok_a", "recurse_me", "keyerror_me", "ok_b"], "workers: 0")
    assert files["ok_a"][0] == files["ok_b"][0] == "ingested"
    assert files["recurse_me"][1:] == ("<file>", "RecursionError: input nested too deeply to process")
    assert files["keyerror_me"][1:] == ("<file>", "KeyError: 'R4.SpaceshipType'")


def test_cohort_vcf_crash_in_a_worker_costs_only_the_genotypes(tmp_path, monkeypatch):
    import nextgen_ml.ingest.vcf as vcf

    from ..conftest import write_panel, write_vcf
    from .crashing_readers import segfaulting_vcf

    export = tmp_path / "export"
    write_vcf(export)
    write_panel(export)
    for k in range(2):
        write_wfdb(export / "wfdb", f"ok_{k}", einthoven_ecg(500, seed=k), LIMB_AND_CHEST)
    text = (
        "site: s\noptions: {workers: 2}\npanel: panel.json\ngenotypes: [{path: cohort.vcf.gz}]\npatients:\n"
        "  - {id: P0, vcf_sample: S1, files: [wfdb/ok_0.hea]}\n  - {id: P1, vcf_sample: S2, files: [wfdb/ok_1.hea]}\n"
    )
    monkeypatch.setattr(vcf, "read_vcf_dosages", segfaulting_vcf)
    report = ingest(parse_manifest(text, export, export / "m.yaml"), tmp_path / "store", key=TEST_KEY, progress=False)
    assert report.counts()["records_written"] == 2
    genotypes = [f for f in report.files if f.format == "vcf"]
    assert len(genotypes) == 2 and all(f.status == "quarantined" for f in genotypes)
    assert all("decoder process died (signal SIGSEGV)" in f.reason for f in genotypes)


def test_strict_with_workers_stops_without_waiting_for_the_rest(tmp_path):
    import time

    from nextgen_ml.ingest.report import QuarantineAbort

    manifest = _manifest(tmp_path, ["kill_me", "sleep_a", "sleep_b"], "workers: 2")
    readers = {**READERS, "wfdb": misbehaving_wfdb}
    start = time.perf_counter()
    with pytest.raises(QuarantineAbort, match="kill_me"):
        ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False, strict=True, readers=readers)
    assert time.perf_counter() - start < 30  # the sleeping decoders (60 s) were stopped, not awaited
    assert not (tmp_path / "store").exists()


def test_a_file_swapped_for_a_link_after_the_manifest_check_is_not_read(tmp_path):
    import os

    manifest = _manifest(tmp_path, ["ok_a", "swapped"], "workers: 0")
    secret = tmp_path / "secret.hea"
    (tmp_path / "export" / "wfdb" / "swapped.hea").rename(secret)
    os.symlink(secret, tmp_path / "export" / "wfdb" / "swapped.hea")
    report = ingest(manifest, tmp_path / "store", key=TEST_KEY, progress=False)
    files = {Path(f.path).stem: f for f in report.files}
    assert files["ok_a"].status == "ingested"
    assert files["swapped"].status == "quarantined" and "outside the manifest folder" in files["swapped"].reason


@pytest.mark.slow
def test_ray_engine_runs_the_same_task_and_a_killed_worker_costs_only_its_file(tmp_path):
    pytest.importorskip("ray")
    names = ["ok_a", "kill_me", "keyerror_me", "ok_b"]
    files = _run(tmp_path, names, "workers: 2, engine: ray")
    assert files["kill_me"][0] == "quarantined" and "Ray worker crashed" in files["kill_me"][2]
    assert files["keyerror_me"][1:] == ("<file>", "KeyError: 'R4.SpaceshipType'")
    assert files["ok_a"][0] == files["ok_b"][0] == "ingested"
    pooled = _run(tmp_path / "pool", ["ok_a", "ok_b"], "workers: 2")
    ray_store, pool_store = RecordStore(tmp_path / "store"), RecordStore(tmp_path / "pool" / "store")
    assert pooled["ok_a"][0] == "ingested" and len(ray_store) == len(pool_store) == 2
    assert ray_store.row(0)["ecg"] == pool_store.row(0)["ecg"]  # the same values as the process pool
