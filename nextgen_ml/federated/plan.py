"""``FederatedPlan``: what every site must agree on before round 1 — the site list, the patient-level split and
the shared preprocessing — saved as JSON files that ship with the Flower app, **one per recipient**.

The plan holds no record data, and no recipient gets another site's patient ids:

* ``federated_plan.json`` (every node reads it): site names, the preprocessing state and per-site split counts;
  no patient id;
* ``federated_plan.<site>.json`` (that site only): its own patients' ids → split name;
* ``federated_plan.server.json`` (the server only): the held-out test patients its global evaluation reads (in
  the simulation the server evaluates on the pooled test split; drop this file where no one may hold it).

The preprocessing state comes from public declarations by default (``federated.preprocessing=public``: declared
tabular ranges, the public MiniLM tokenizer, declared wearable scales and image geometry; see
:mod:`nextgen_ml.privacy.public`), so no site's statistics or vocabulary reach another site. The opt-in
``federated.preprocessing=reference_site`` fits them at the reference site on its own training records and ships
them to every site (docs/federated.md lists what then leaves that site).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.splits import SPLITS

log = logging.getLogger(__name__)

PLAN_FILE = "federated_plan.json"
#: scopes of a plan: every patient (held in memory by whoever made it), none (the common file), the server's.
ALL, COMMON, SERVER = "all", "common", "server"


def scoped_plan_path(plan_path: str | Path, scope: str) -> Path:
    """``federated_plan.<scope>.json`` next to the common ``plan_path``."""
    path = Path(plan_path)
    return path.with_name(f"{path.stem}.{scope}{path.suffix}")


@dataclass(frozen=True)
class FederatedPlan:
    """The agreed set-up of a federated run, as one recipient sees it.

    Args:
        sites: site names in partition order (``partition-id`` i trains ``sites[i]``).
        split: patient id → ``"train"``, ``"val"`` or ``"test"`` for the patients this recipient may see (its own
            site's; the server's test patients; none in the common plan; every site's in an ``"all"`` plan).
        transforms: transform state per modality (``CardioDataModule.state_dict()["transforms"]``).
        reference_site: the site that set up ``transforms`` (with public preprocessing it read no data there).
        preprocessing: ``"public"`` (declarations only) or ``"reference_site"`` (fitted on that site's records).
        scope: ``"all"``, ``"common"``, ``"server"`` or a site name (whose patients ``split`` holds).
        counts: site → split name → patients (aggregate sizes, known to every node).
        site_of: patient id → site, in ``"all"`` plans only (never saved).
    """

    sites: tuple[str, ...]
    split: dict[str, str]
    transforms: dict[str, Any]
    reference_site: str
    preprocessing: str = "reference_site"
    scope: str = ALL
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    site_of: dict[str, str] = field(default_factory=dict)

    def scoped(self, scope: str) -> FederatedPlan:
        """The plan as ``scope`` (a site, ``"server"`` or ``"common"``) receives it (from an ``"all"`` plan)."""
        if self.scope == scope:
            return self
        if self.scope != ALL:
            raise ValueError(f"a {self.scope!r} federated plan cannot be narrowed to {scope!r} (it lacks the ids)")
        if scope == COMMON:
            keep: dict[str, str] = {}
        elif scope == SERVER:
            keep = {p: s for p, s in self.split.items() if s == "test"}
        elif scope in self.sites:
            keep = {p: s for p, s in self.split.items() if self.site_of.get(p) == scope}
        else:
            raise ValueError(f"federated plan scope {scope!r} is none of {[COMMON, SERVER, *self.sites]}")
        return replace(self, split=keep, scope=scope, site_of={})

    def save(self, path: str | Path) -> Path:
        """Write this plan to ``path``; an ``"all"`` plan is written as its common, site and server files
        (:func:`scoped_plan_path`) and ``path`` is the common one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.scope == ALL:
            for scope in (*self.sites, SERVER):
                self.scoped(scope).save(scoped_plan_path(path, scope))
            return self.scoped(COMMON).save(path)
        raw = asdict(self)
        raw.pop("site_of")
        path.write_text(json.dumps(raw))
        return path

    @classmethod
    def load(cls, path: str | Path) -> FederatedPlan:
        raw = json.loads(Path(path).read_text())
        return cls(tuple(raw["sites"]), dict(raw["split"]), dict(raw["transforms"]), raw["reference_site"],
                   raw.get("preprocessing", "reference_site"),  # plans from before public preprocessing
                   raw.get("scope", ALL), dict(raw.get("counts") or {}))  # one-file plans from before scopes

    def for_recipient(self, plan_path: str | Path, scope: str) -> FederatedPlan:
        """This (common) plan's ``scope`` part: read from its file next to ``plan_path``, or narrowed in memory
        from a one-file plan of an earlier version."""
        if self.scope == ALL:
            return self.scoped(scope) if self.site_of else replace(self, scope=scope)
        path = scoped_plan_path(plan_path, scope)
        if not path.is_file():
            raise ValueError(f"{path}: the federated plan of {scope!r} is missing (each recipient gets its own file; "
                             "re-create the plan with `nextgen-ml federated --plan-only`)")
        return FederatedPlan.load(path)

    def site(self, partition_id: int) -> str:
        """The site that SuperNode ``partition_id`` serves."""
        if not 0 <= partition_id < len(self.sites):
            raise ValueError(f"partition-id {partition_id} is out of range for the plan's {len(self.sites)} sites "
                             f"{list(self.sites)}")
        return self.sites[partition_id]


def split_indices_for(patient_ids: Sequence[str], split: Mapping[str, str], where: str,
                      partial: bool = False) -> dict[str, np.ndarray]:
    """Indices of a store view per split, looked up by patient id in the plan's ``split``.

    Args:
        partial: patients not in the plan are in no split (the server's plan holds the test patients only).

    Raises:
        ValueError: a patient of the view is not in the plan (the store changed since the plan was made).
    """
    missing = [p for p in patient_ids if p not in split]
    if missing and not partial:
        raise ValueError(f"{where}: {len(missing)} patients (e.g. {missing[0]!r}) are not in the federated plan's "
                         "split; re-create the plan for this store")
    names = np.asarray([split.get(p, "") for p in patient_ids])
    return {name: np.flatnonzero(names == name) for name in SPLITS}


def make_plan(pooled: CardioDataModule, sites: Sequence[str] = (), reference_site: str | None = None,
              preprocessing: str = "public") -> FederatedPlan:
    """The plan for a (set-up) pooled datamodule: its split, and the shared preprocessing.

    With ``preprocessing="public"`` the pooled datamodule must have been built with public transforms
    (:func:`nextgen_ml.training.factory.build_datamodule` does so for federated runs): the transforms then read
    nothing at the reference site, and the plan carries declarations only.

    The split is exactly the one a pooled ``train.py`` run with the same data config makes, so federated,
    pooled and single-site runs are tested on the same patients.

    Args:
        pooled: the datamodule over every site (consent filter included), after ``setup()``.
        sites: site names in partition order; empty = every site of the store, sorted.
        reference_site: the site whose training records fit the shared transforms (default ``sites[0]``).
        preprocessing: ``"public"`` or ``"reference_site"`` (see :class:`FederatedPlan`).

    Raises:
        ValueError: ``preprocessing="public"`` but a transform of ``pooled`` fits statistics on records.
    """
    if preprocessing == "public":
        _check_public(pooled)
    store = pooled.store
    if store is None:
        raise RuntimeError("make_plan needs a set-up datamodule (call setup() first)")
    pids = store.column("patient_id").to_pylist()
    store_sites = sorted(set(store.column("site").to_pylist()))
    sites = tuple(sites) or tuple(store_sites)
    unknown = sorted(set(sites) - set(store_sites))
    if unknown:
        raise ValueError(f"federated.sites: {unknown} not in the store's sites {store_sites}")
    reference = reference_site or sites[0]
    if reference not in sites:
        raise ValueError(f"federated.reference_site: {reference!r} is not one of the sites {list(sites)}")
    split = {pids[i]: name for name, idx in pooled.split_indices.items() for i in idx.tolist()}
    site_of = dict(zip(pids, store.column("site").to_pylist(), strict=True))
    counts = {site: {name: sum(1 for p, s in split.items() if s == name and site_of[p] == site) for name in SPLITS}
              for site in sites}
    ref = site_datamodule(pooled, reference, split, transforms=None)
    ref.setup()
    log.info("federated plan: %d sites, %s preprocessing (set up at %s)", len(sites), preprocessing, reference)
    return FederatedPlan(sites, split, ref.state_dict()["transforms"], reference, preprocessing, ALL, counts, site_of)


def _check_public(pooled: CardioDataModule) -> None:
    """Refuse a plan said to be public whose transforms would fit on a site's records."""
    from nextgen_ml.privacy.public import public_transforms

    expected = public_transforms(pooled.modalities, pooled.transform_kwargs, why="federated")
    def same(m: str) -> bool:  # tuples and lists alike (Hydra turns tuples into lists)
        return json.dumps(expected[m], sort_keys=True) == json.dumps(pooled.transform_kwargs[m], sort_keys=True)

    differing = sorted(m for m in pooled.modalities if not same(m))
    if differing:
        raise ValueError(f"federated.preprocessing=public: the transforms of {differing} would be fitted on the "
                         "reference site's records; build the datamodule with "
                         "nextgen_ml.training.factory.build_datamodule (public transforms)")


def site_datamodule(template: CardioDataModule, site: str | None, split: Mapping[str, str],
                    transforms: Mapping[str, Any] | None, partial: bool = False) -> CardioDataModule:
    """A datamodule like ``template`` restricted to ``site`` (None = every site), split by the plan.

    The consent filter of ``template.purpose`` is applied when the store is opened, before any payload; the
    split indices are looked up by patient id in ``split`` (``partial``: patients not in it are in no split);
    ``transforms`` (the plan's) are loaded instead of fitted when given.
    """
    dm = CardioDataModule(
        template.data_dir, modalities=template.modalities, cohort=None, split=template.split,
        stratify_on=template.stratify_on, sites=None if site is None else [site],
        transforms=template.transform_kwargs, batch_size=template.batch_size, num_workers=template.num_workers,
        fit_max_records=template.fit_max_records, modality_dropout=template.modality_dropout, seed=template.seed,
        purpose=template.purpose,
    )
    view = dm.open_store()
    state: dict[str, Any] = {"split_indices": split_indices_for(view.column("patient_id").to_pylist(), split,
                                                                f"site {site or 'all'}", partial)}
    if transforms is not None:
        state["transforms"] = dict(transforms)
    dm.load_state_dict(state)
    return dm
