"""The federated simulation over one store per site (`data.data_dir=[store_a, store_b, store_c]`), issue 15."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.data.store import RecordStore, write_store
from nextgen_ml.training import train

SITES = ("site_a", "site_b", "site_c")


@pytest.mark.slow
def test_federated_run_over_one_store_per_site(make_fed_cfg, tiny_store: Path, tmp_path: Path):
    stores = []
    for site in SITES:  # each hospital wrote its own store
        part = RecordStore(tiny_store, sites=[site])
        stores.append(str(write_store(tmp_path / site, part.table, panel=part.panel, dictionary=part.dictionary)))
    cfg = make_fed_cfg(["federated.rounds=1", "privacy.enabled=false", "data.purpose=null"])
    with open_dict(cfg):
        cfg.data.data_dir = stores
    metrics = train(cfg)
    assert metrics["federated/sites"] == 3 and 0.0 <= metrics["test/auroc"] <= 1.0
    # no site's data moved: every store is exactly as written
    for site, path in zip(SITES, stores, strict=True):
        assert set(RecordStore(path, columns=["site"]).column("site").to_pylist()) == {site}
