"""Site clients: the plan, own-site data only, consent before any batch, and what crosses the client boundary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from omegaconf import open_dict

from nextgen_ml.data.store import RecordStore
from nextgen_ml.federated.client import SiteClient
from nextgen_ml.federated.parameters import parameter_keys
from nextgen_ml.federated.plan import FederatedPlan, make_plan, scoped_plan_path, site_datamodule
from nextgen_ml.federated.simulation import plan_preprocessing
from nextgen_ml.governance.consent_filter import ConsentError
from nextgen_ml.governance.duo import ConsentCodes, ResearchPurpose, permits
from nextgen_ml.training.factory import build_datamodule
from tests.federated.conftest import FOR_PROFIT

SITES = ("site_a", "site_b", "site_c")


def _plan(cfg):  # noqa: ANN001, ANN202
    pooled = build_datamodule(cfg)
    pooled.setup()
    return pooled, make_plan(pooled, preprocessing=plan_preprocessing(cfg))


def _batch_records(dm, field: str) -> list[str]:  # noqa: ANN001
    """``field`` of every record in every batch of the train/val/test loaders (via the batch's ``index``)."""
    out = []
    for name, loader in (("train", dm.train_dataloader()), ("val", dm.val_dataloader()),
                         ("test", dm.test_dataloader())):
        view = dm.datasets[name].store
        values = view.column(field).to_pylist() if field in view.columns else None
        for batch in loader:
            idx = batch["index"].tolist()
            out += [values[i] for i in idx] if values is not None else [view.row(i)[field] for i in idx]
    return out


def test_plan_reproduces_the_pooled_split_and_ships_only_public_preprocessing(make_fed_cfg) -> None:
    pooled, plan = _plan(make_fed_cfg())
    assert plan.sites == SITES and plan.reference_site == "site_a" and plan.preprocessing == "public"
    pids = pooled.store.column("patient_id").to_pylist()
    for name, idx in pooled.split_indices.items():
        assert {pids[i] for i in idx} == {p for p, s in plan.split.items() if s == name}
    # issue 17: no site's statistics or vocabulary travel; the plan is the same whichever site sets it up
    other = make_plan(pooled, reference_site="site_c")
    assert other.transforms == plan.transforms
    assert plan.transforms["tabular"]["statistics"] == "declared"
    assert plan.site(2) == "site_c"
    with pytest.raises(ValueError, match="partition-id 3"):
        plan.site(3)


def test_reference_site_preprocessing_is_an_explicit_opt_in_that_fits_at_that_site(make_fed_cfg) -> None:
    cfg = make_fed_cfg(["privacy.enabled=false", "federated.preprocessing=reference_site"])
    pooled, plan = _plan(cfg)
    assert plan.preprocessing == "reference_site"
    ref = site_datamodule(pooled, "site_a", plan.split, None)
    ref.setup()
    assert ref.state_dict()["transforms"]["tabular"] == plan.transforms["tabular"]
    assert plan.transforms["tabular"] != pooled.state_dict()["transforms"]["tabular"]  # not the pooled statistics
    with pytest.raises(ValueError, match="would be fitted on the reference site's records"):
        make_plan(pooled, preprocessing="public")


def test_a_client_only_reads_its_own_sites_records_with_the_shared_preprocessing(make_fed_cfg) -> None:
    cfg = make_fed_cfg(["privacy.enabled=false", "data.purpose=null"])  # every record: consent is tested elsewhere
    _, plan = _plan(cfg)
    client = SiteClient(cfg, plan, "site_b")
    sites = {s for name in ("train", "val", "test") for s in client.dm.datasets[name].store.column("site").to_pylist()}
    assert sites == {"site_b"}
    pids = _batch_records(client.dm, "patient_id")
    all_b = RecordStore(cfg.data.data_dir, columns=["patient_id"], sites=["site_b"]).column("patient_id").to_pylist()
    assert sorted(pids) == sorted(all_b)  # every batch record is site_b's, and all of them are used
    assert all(plan.split[p] == "train" for p in _batch_records_split(client.dm, "train"))
    assert client.dm.state_dict()["transforms"]["tabular"] == plan.transforms["tabular"]


def test_each_site_is_shipped_only_its_own_patient_ids(make_fed_cfg, tmp_path: Path) -> None:
    # issue 17: the one-file plan mapped every site's patient ids to their split, and every site received it
    cfg = make_fed_cfg(["privacy.enabled=false", "data.purpose=null"])
    pooled, plan = _plan(cfg)
    view = pooled.store
    site_of = dict(zip(view.column("patient_id").to_pylist(), view.column("site").to_pylist(), strict=True))
    common_path = plan.save(tmp_path / "plan" / "federated_plan.json")
    common = FederatedPlan.load(common_path)
    assert common.scope == "common" and common.split == {} and common.sites == SITES
    assert not any(pid in common_path.read_text() for pid in site_of)  # no patient id in what every node reads
    assert sum(sum(c.values()) for c in common.counts.values()) == len(plan.split)  # aggregate sizes only
    for site in SITES:
        text = scoped_plan_path(common_path, site).read_text()
        assert {p for p in site_of if p in text} == {p for p in plan.split if site_of[p] == site}
    server = FederatedPlan.load(scoped_plan_path(common_path, "server"))
    assert set(server.split.values()) == {"test"} and len(server.split) == len(pooled.split_indices["test"])

    # a site deployed with only the common file and its own file (the others' files are not there)
    for other in ("site_a", "site_c", "server"):
        scoped_plan_path(common_path, other).unlink()
    client = SiteClient(cfg, common.for_recipient(common_path, "site_b"), "site_b")
    assert client.plan.split and {site_of[p] for p in client.plan.split} == {"site_b"}
    assert len(client.dm.datasets["train"]) == common.counts["site_b"]["train"]
    with pytest.raises(ValueError, match="federated_plan.site_a.json"):
        common.for_recipient(common_path, "site_a")
    with pytest.raises(ValueError, match="needs its own"):
        SiteClient(cfg, common, "site_b")  # the common plan holds no split to train on
    # even handed every site's ids (one process), a client keeps only its own
    assert {site_of[p] for p in SiteClient(cfg, plan, "site_c").plan.split} == {"site_c"}


def _batch_records_split(dm, name: str) -> list[str]:  # noqa: ANN001
    view = dm.datasets[name].store.column("patient_id").to_pylist()
    return [view[i] for b in dm._loader(name, train=False) for i in b["index"].tolist()]


def test_fit_sends_only_parameters_and_scalar_metrics(make_fed_cfg) -> None:
    cfg = make_fed_cfg(["privacy.enabled=false"])
    _, plan = _plan(cfg)
    client = SiteClient(cfg, plan, "site_a")
    start = client.get_parameters({})
    arrays, n_train, metrics = client.fit(start, {"server_round": 1})
    state = client.module.net.state_dict()
    assert [a.shape for a in arrays] == [tuple(state[k].shape) for k in parameter_keys(client.module.net)]
    assert all(isinstance(a, np.ndarray) for a in arrays)
    assert any(not np.array_equal(a, b) for a, b in zip(arrays, start, strict=True))  # it trained
    assert n_train == len(client.dm.datasets["train"]) and isinstance(n_train, int)
    assert all(isinstance(v, int | float | str | bool) for v in metrics.values())
    site_pids = set(client.dm.store.column("patient_id").to_pylist())
    assert not {v for v in metrics.values() if isinstance(v, str)} & site_pids  # no record ids
    loss, n_val, eval_metrics = client.evaluate(arrays, {"server_round": 1})
    assert n_val == len(client.dm.datasets["val"]) and np.isfinite(loss)
    assert all(isinstance(v, int | float | str | bool) for v in eval_metrics.values())


_PURPOSE = st.builds(
    lambda for_profit, commercial, methods, disease: {
        "requester": "r", "for_profit": for_profit, "commercial": commercial, "methods_development": methods,
        "disease": disease},
    st.booleans(), st.booleans(), st.booleans(), st.sampled_from([None, "MONDO:0005267", "MONDO:0005148"]),
)


def _forbidden(store: Path, purpose: dict) -> set[str]:
    """Patient ids whose own consent refuses ``purpose`` (decided here, independently of the filter)."""
    view = RecordStore(store, columns=["patient_id", "consent"])
    rp = ResearchPurpose(**purpose)
    return {pid for pid, c in zip(view.column("patient_id").to_pylist(), view.column("consent").to_pylist(),
                                  strict=True)
            if not permits(ConsentCodes.from_dict(c, where=pid), rp).allowed}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(purpose=_PURPOSE)
def test_a_forbidden_record_never_appears_in_any_batch_pooled_or_federated(make_fed_cfg, purpose) -> None:
    cfg = make_fed_cfg(["privacy.enabled=false", "data.modalities=[tabular]"])
    with open_dict(cfg):
        cfg.data.purpose = purpose
    forbidden = _forbidden(Path(cfg.data.data_dir), purpose)
    try:
        pooled, plan = _plan(cfg)
    except ConsentError:
        assume(False)
    assert not set(_batch_records(pooled, "patient_id")) & forbidden  # pooled mode
    assert not set(plan.split) & forbidden  # the plan never even names a forbidden patient
    seen = []
    for site in plan.sites:
        dm = site_datamodule(pooled, site, plan.split, plan.transforms)
        try:
            dm.setup()
        except ConsentError:  # a site where no record permits the purpose trains nothing
            continue
        seen += _batch_records(dm, "patient_id")
        assert dm.consent_report.included + sum(dm.consent_report.excluded.values()) == dm.consent_report.n_records
    assert seen and not set(seen) & forbidden  # federated mode
    assert len(seen) + len(forbidden) == 160


def test_the_for_profit_purpose_used_by_the_simulation_test_forbids_records(make_fed_cfg) -> None:
    cfg = make_fed_cfg([FOR_PROFIT])
    assert len(_forbidden(Path(cfg.data.data_dir), dict(cfg.data.purpose))) == 36
