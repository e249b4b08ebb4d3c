"""``FederatedConfig``: the ``federated:`` config node (rounds, strategy, sampling, secure aggregation, Ray)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

#: strategies :func:`nextgen_ml.federated.server.build_strategy` knows.
STRATEGIES: tuple[str, ...] = ("fedavg", "fedprox")
#: where the shared preprocessing comes from (``federated.preprocessing``).
PREPROCESSING: tuple[str, ...] = ("public", "reference_site")


@dataclass(frozen=True)
class FederatedConfig:
    """Settings of a federated run (``configs/experiment/federated_5sites.yaml`` mirrors them).

    Args:
        rounds: server rounds (one local fit per sampled site per round).
        local_epochs: epochs every sampled site trains per round.
        strategy: ``"fedavg"`` or ``"fedprox"``.
        proximal_mu: FedProx μ (> 0 for fedprox); applied as a decoupled proximal step after every optimizer
            step (``w ← w − lr·μ·(w − w_global)``), which stays valid under DP-SGD.
        fraction_fit: fraction of sites sampled for training each round.
        fraction_evaluate: fraction of sites sampled for (validation-split) evaluation each round.
        min_fit_clients: least number of sites trained per round.
        min_available_clients: sites that must be connected before a round starts.
        sites: site names in partition order (SuperNode ``partition-id`` i = ``sites[i]``); empty = every site of
            the store, sorted.
        preprocessing: ``"public"`` (default): the shared preprocessing comes from public declarations (declared
            tabular ranges, the public MiniLM tokenizer, declared wearable scales; see
            :mod:`nextgen_ml.privacy.public`) and carries no site's data; ``"reference_site"``: fitted on the
            reference site's training records and shipped to every site (their statistics and vocabulary leave
            that site; refused under ``privacy=dp``, where preprocessing is always public).
        reference_site: with ``preprocessing="reference_site"``, the site whose training records fit the shared
            preprocessing; None = ``sites[0]``.
        secure_aggregation: use Flower's SecAgg+ (the server only ever sees the sum of the sites' updates).
        secagg_num_shares: SecAgg+ shares per secret (int, or a fraction of the sampled sites).
        secagg_reconstruction_threshold: SecAgg+ shares needed to reconstruct (int or fraction).
        secagg_clipping_range: SecAgg+ quantisation range ``[-r, r]`` of every parameter value.
        secagg_max_weight: SecAgg+ largest site weight (number of training records) it can encode exactly.
        ray_num_cpus: CPUs Ray may use in the simulation.
        client_num_cpus: CPUs per simulated site (``ray_num_cpus / client_num_cpus`` sites train in parallel).
    """

    rounds: int = 5
    local_epochs: int = 1
    strategy: str = "fedavg"
    proximal_mu: float = 0.0
    fraction_fit: float = 1.0
    fraction_evaluate: float = 1.0
    min_fit_clients: int = 2
    min_available_clients: int = 2
    sites: tuple[str, ...] = ()
    reference_site: str | None = None
    preprocessing: str = "public"
    secure_aggregation: bool = False
    secagg_num_shares: float = 1.0
    secagg_reconstruction_threshold: float = 0.67
    secagg_clipping_range: float = 16.0
    secagg_max_weight: float = 4000.0
    ray_num_cpus: int = 2
    client_num_cpus: float = 1.0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"federated.rounds must be >= 1, got {self.rounds}")
        if self.local_epochs < 1:
            raise ValueError(f"federated.local_epochs must be >= 1, got {self.local_epochs}")
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(f"federated.preprocessing must be one of {PREPROCESSING}, got {self.preprocessing!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"federated.strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.proximal_mu < 0 or (self.strategy == "fedprox" and self.proximal_mu <= 0):
            raise ValueError(f"federated.proximal_mu must be > 0 for fedprox (>= 0 otherwise), got {self.proximal_mu}")
        for name in ("fraction_fit", "fraction_evaluate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"federated.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.min_fit_clients < 1 or self.min_available_clients < self.min_fit_clients:
            raise ValueError(f"federated.min_available_clients ({self.min_available_clients}) must be >= "
                             f"min_fit_clients ({self.min_fit_clients}) >= 1")
        if self.ray_num_cpus < 1 or not 0 < self.client_num_cpus <= self.ray_num_cpus:
            raise ValueError(f"federated.client_num_cpus must be in (0, ray_num_cpus={self.ray_num_cpus}], "
                             f"got {self.client_num_cpus}")

    @classmethod
    def from_node(cls, node: Mapping[str, Any] | None) -> FederatedConfig:
        """Build from the plain ``federated`` config node; unknown keys are refused by name."""
        node = dict(node or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(node) - known)
        if unknown:
            raise ValueError(f"federated: unknown keys {unknown}; known: {sorted(known)}")
        if node.get("sites") is not None:
            node["sites"] = tuple(node["sites"])
        else:
            node.pop("sites", None)
        return cls(**node)

    def min_clients(self, n_sites: int) -> tuple[int, int]:
        """``(min_fit_clients, min_available_clients)`` capped at the number of sites."""
        return min(self.min_fit_clients, n_sites), min(self.min_available_clients, n_sites)
