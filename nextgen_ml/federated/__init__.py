"""Federated training with Flower: one ClientApp per site (its own consented records, optional DP-SGD), a
ServerApp aggregating with FedAvg/FedProx (optionally SecAgg+), run in Flower's simulation engine or deployed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nextgen_ml.federated.config import STRATEGIES, FederatedConfig
from nextgen_ml.federated.parameters import get_parameters, parameter_keys, set_parameters
from nextgen_ml.federated.plan import FederatedPlan, make_plan, site_datamodule, split_indices_for
from nextgen_ml.federated.proximal import ProximalStep
from nextgen_ml.federated.recorder import Recorder

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "STRATEGIES",
    "FederatedConfig",
    "FederatedPlan",
    "ProximalStep",
    "Recorder",
    "get_parameters",
    "make_plan",
    "parameter_keys",
    "run_federated",
    "set_parameters",
    "site_datamodule",
    "split_indices_for",
]


def run_federated(cfg: DictConfig) -> dict[str, float]:
    """See :func:`nextgen_ml.federated.simulation.run_federated` (imported lazily: keeps Ray out of imports)."""
    from nextgen_ml.federated.simulation import run_federated as _run

    return _run(cfg)
