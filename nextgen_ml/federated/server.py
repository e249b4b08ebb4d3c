"""Server side: strategy builders (FedAvg, FedProx) that record every round, and the global test evaluation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from flwr.common import FitRes, Parameters, Scalar, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg, FedProx, Strategy
from omegaconf import DictConfig

from nextgen_ml.federated.config import FederatedConfig
from nextgen_ml.federated.parameters import get_parameters, set_parameters
from nextgen_ml.federated.plan import ALL, SERVER, FederatedPlan, site_datamodule
from nextgen_ml.federated.recorder import Recorder
from nextgen_ml.federated.site_config import round_config
from nextgen_ml.privacy.compat import refuse_data_fitted_layers
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer

log = logging.getLogger(__name__)


def _weighted_mean(results: list[tuple[int, dict[str, Scalar]]], key: str) -> float | None:
    pairs = [(n, float(m[key])) for n, m in results if key in m and n > 0]
    total = sum(n for n, _ in pairs)
    return sum(n * v for n, v in pairs) / total if total else None


def aggregate_fit_metrics(results: list[tuple[int, dict[str, Scalar]]]) -> dict[str, Scalar]:
    """Example-weighted mean training loss and the largest site ε of a round."""
    out: dict[str, Scalar] = {"sites": len(results)}
    loss = _weighted_mean(results, "train_loss")
    if loss is not None:
        out["train_loss"] = loss
    eps = [float(m["epsilon"]) for _, m in results if "epsilon" in m]
    if eps:
        out["max_epsilon"] = max(eps)
    return out


def aggregate_evaluate_metrics(results: list[tuple[int, dict[str, Scalar]]]) -> dict[str, Scalar]:
    """Example-weighted mean of the sites' validation metrics."""
    keys = {k for _, m in results for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return {k: v for k in sorted(keys) if (v := _weighted_mean(results, k)) is not None}


def _recording(base: type[Strategy]) -> type[Strategy]:
    """``base`` with every round's site results written to a :class:`Recorder` before aggregation."""

    class Recording(base):  # type: ignore[valid-type, misc]
        def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.recorder = recorder

        def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                          failures: list[Any]) -> tuple[Parameters | None, dict[str, Scalar]]:
            self.recorder.add_fit(server_round, [
                {"num_examples": r.num_examples, "metrics": dict(r.metrics),
                 "shapes": [tuple(a.shape) for a in parameters_to_ndarrays(r.parameters)]}
                for _, r in results], len(failures))
            return super().aggregate_fit(server_round, results, failures)

        def aggregate_evaluate(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
            self.recorder.add_evaluate(server_round, [
                {"num_examples": r.num_examples, "loss": r.loss, "metrics": dict(r.metrics)} for _, r in results],
                len(failures))
            return super().aggregate_evaluate(server_round, results, failures)

    Recording.__name__ = Recording.__qualname__ = f"Recording{base.__name__}"
    return Recording


#: strategy name → Flower strategy class (wrapped to record rounds) and the extra kwargs it takes from the config.
STRATEGY_BUILDERS: dict[str, tuple[type[Strategy], Callable[[FederatedConfig], dict[str, Any]]]] = {
    "fedavg": (_recording(FedAvg), lambda fed: {}),
    "fedprox": (_recording(FedProx), lambda fed: {"proximal_mu": fed.proximal_mu}),
}


def build_strategy(fed: FederatedConfig, n_sites: int, initial: list[np.ndarray], recorder: Recorder,
                   evaluate_fn: Callable[[int, list[np.ndarray], dict[str, Scalar]], Any] | None = None) -> Strategy:
    """The configured Flower strategy.

    Args:
        fed: the federated settings (strategy name, sampling fractions, minimum clients, FedProx μ).
        n_sites: sites in the federation (caps the minimum client counts).
        initial: the global model's initial parameters (every site starts from them).
        recorder: receives every round's site results.
        evaluate_fn: server-side evaluation of the aggregated model (``(round, arrays, config) -> (loss, metrics)``).
    """
    cls, extra = STRATEGY_BUILDERS[fed.strategy]
    min_fit, min_available = fed.min_clients(n_sites)
    return cls(
        recorder=recorder,
        fraction_fit=fed.fraction_fit,
        fraction_evaluate=fed.fraction_evaluate,
        min_fit_clients=min_fit,
        min_evaluate_clients=min_fit if fed.fraction_evaluate > 0 else 0,
        min_available_clients=min_available,
        evaluate_fn=evaluate_fn,
        on_fit_config_fn=lambda r: {"server_round": r, "local_epochs": fed.local_epochs},
        on_evaluate_config_fn=lambda r: {"server_round": r},
        accept_failures=False,
        initial_parameters=ndarrays_to_parameters(initial),
        fit_metrics_aggregation_fn=aggregate_fit_metrics,
        evaluate_metrics_aggregation_fn=aggregate_evaluate_metrics,
        **extra(fed),
    )


class GlobalEvaluator:
    """Server-side evaluation of the aggregated model on the plan's held-out test patients (every site's).

    In the simulation the server reads the test split of the store directly (the same patients a pooled run is
    tested on); in a deployment this evaluation runs where the held-out test data lives.

    Args:
        cfg: the federated run's resolved config.
        plan: the server's plan (``federated_plan.server.json``: the test patients only; others are in no split).
        recorder: receives the test metrics of every round.
    """

    def __init__(self, cfg: DictConfig, plan: FederatedPlan, recorder: Recorder) -> None:
        self.cfg, self.recorder = cfg, recorder
        plan = plan.scoped(SERVER) if plan.scope == ALL and plan.site_of else plan  # test patients only
        self.dm = site_datamodule(build_datamodule(cfg), None, plan.split, plan.transforms, partial=True)
        self.dm.setup()
        self.module = build_module(cfg, self.dm, label_prior=False)  # no statistic of a site's labels
        refuse_data_fitted_layers(self.module.net, "federated server")  # no statistic of a site's data either

    def initial_parameters(self) -> list[np.ndarray]:
        """The freshly initialised global model (seeded by ``cfg.seed``)."""
        return get_parameters(self.module.net)

    def __call__(self, server_round: int, arrays: list[np.ndarray],
                 config: dict[str, Scalar]) -> tuple[float, dict[str, Scalar]] | None:
        if server_round == 0 or len(self.dm.datasets["test"]) == 0:
            return None
        set_parameters(self.module.net, arrays)
        cfg = round_config(self.cfg, server_round, -1, train=False)
        cfg.trainer.limit_test_batches = self.cfg.trainer.get("limit_test_batches") or 1.0
        results = build_trainer(cfg).test(self.module, datamodule=self.dm, verbose=False)[0]
        metrics = {k: float(v) for k, v in results.items()}
        self.recorder.test[server_round] = metrics
        log.info("round %d global test: %s", server_round, metrics)
        return metrics.get("test/loss", float("nan")), {k.replace("/", "_"): v for k, v in metrics.items()}
