"""``Recorder``: what the server learns during a federated run (per round, per site), all of it aggregate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorder:
    """Round-by-round record of the server side of a run.

    Attributes:
        fit: round → list of ``{"num_examples", "metrics", "shapes"}`` per site result (``shapes``: the shapes of
            the arrays the site sent; under secure aggregation the server only sees the aggregate).
        evaluate: round → list of ``{"num_examples", "loss", "metrics"}`` per site (validation split).
        test: round → the global test metrics of the aggregated model (server-side evaluation).
        failures: round → number of failed site results.
        sites: site → its latest fit metrics (ε, counts).
    """

    fit: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    evaluate: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    test: dict[int, dict[str, float]] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_fit(self, server_round: int, results: list[dict[str, Any]], failures: int) -> None:
        self.fit[server_round] = results
        self.failures[server_round] = self.failures.get(server_round, 0) + failures
        for result in results:
            site = result["metrics"].get("site")
            if site is not None:
                self.sites[str(site)] = dict(result["metrics"])

    def add_evaluate(self, server_round: int, results: list[dict[str, Any]], failures: int) -> None:
        self.evaluate[server_round] = results
        self.failures[server_round] = self.failures.get(server_round, 0) + failures

    @property
    def last_round(self) -> int:
        return max(self.test, default=0)
