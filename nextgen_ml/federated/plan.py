"""``FederatedPlan``: what every site must agree on before round 1 — the site list, the patient-level split and
the shared preprocessing — saved as one JSON file that ships with the Flower app.

The plan holds no record data: patient ids map to a split name (a site only looks up its own patients) and the
preprocessing state comes from public declarations by default (``federated.preprocessing=public``: declared
tabular ranges, the public MiniLM tokenizer, declared wearable scales and image geometry; see
:mod:`nextgen_ml.privacy.public`), so no site's statistics or vocabulary reach another site. The opt-in
``federated.preprocessing=reference_site`` fits them at the reference site on its own training records and ships
them to every site (docs/federated.md lists what then leaves that site).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.splits import SPLITS

log = logging.getLogger(__name__)

PLAN_FILE = "federated_plan.json"


@dataclass(frozen=True)
class FederatedPlan:
    """The agreed set-up of a federated run.

    Args:
        sites: site names in partition order (``partition-id`` i trains ``sites[i]``).
        split: patient id → ``"train"``, ``"val"`` or ``"test"``.
        transforms: transform state per modality (``CardioDataModule.state_dict()["transforms"]``).
        reference_site: the site that set up ``transforms`` (with public preprocessing it read no data there).
        preprocessing: ``"public"`` (declarations only) or ``"reference_site"`` (fitted on that site's records).
    """

    sites: tuple[str, ...]
    split: dict[str, str]
    transforms: dict[str, Any]
    reference_site: str
    preprocessing: str = "reference_site"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> FederatedPlan:
        raw = json.loads(Path(path).read_text())
        return cls(tuple(raw["sites"]), dict(raw["split"]), dict(raw["transforms"]), raw["reference_site"],
                   raw.get("preprocessing", "reference_site"))  # plans from before public preprocessing

    def site(self, partition_id: int) -> str:
        """The site that SuperNode ``partition_id`` serves."""
        if not 0 <= partition_id < len(self.sites):
            raise ValueError(f"partition-id {partition_id} is out of range for the plan's {len(self.sites)} sites "
                             f"{list(self.sites)}")
        return self.sites[partition_id]


def split_indices_for(patient_ids: Sequence[str], split: Mapping[str, str], where: str) -> dict[str, np.ndarray]:
    """Indices of a store view per split, looked up by patient id in the plan's ``split``.

    Raises:
        ValueError: a patient of the view is not in the plan (the store changed since the plan was made).
    """
    missing = [p for p in patient_ids if p not in split]
    if missing:
        raise ValueError(f"{where}: {len(missing)} patients (e.g. {missing[0]!r}) are not in the federated plan's "
                         "split; re-create the plan for this store")
    names = np.asarray([split[p] for p in patient_ids])
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
    ref = site_datamodule(pooled, reference, split, transforms=None)
    ref.setup()
    log.info("federated plan: %d sites, %s preprocessing (set up at %s)", len(sites), preprocessing, reference)
    return FederatedPlan(sites, split, ref.state_dict()["transforms"], reference, preprocessing)


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
                    transforms: Mapping[str, Any] | None) -> CardioDataModule:
    """A datamodule like ``template`` restricted to ``site`` (None = every site), split by the plan.

    The consent filter of ``template.purpose`` is applied when the store is opened, before any payload; the
    split indices are looked up by patient id in ``split``; ``transforms`` (the plan's) are loaded instead of
    fitted when given.
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
                                                                f"site {site or 'all'}")}
    if transforms is not None:
        state["transforms"] = dict(transforms)
    dm.load_state_dict(state)
    return dm
