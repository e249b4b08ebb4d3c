"""Metrics that torchmetrics does not provide: Harrell's concordance index."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def concordance_index(risk: Tensor, time: Tensor, event: Tensor, chunk: int = 2048) -> Tensor:
    """Harrell's C-index: share of comparable pairs whose higher risk has the earlier event (risk ties count 1/2).

    A pair is comparable when the earlier time is an observed event, or when both times are equal and only one of
    the two is an event (the censored one is taken to outlive it). Computed in row chunks (memory O(chunk·N)).

    Args:
        risk: higher = earlier expected event, ``(N,)``.
        time: event or censoring times, ``(N,)``.
        event: 1 = event observed, 0 = censored, ``(N,)``.
        chunk: rows per block.

    Returns:
        Scalar C-index; NaN when no pair is comparable.
    """
    risk, time, event = risk.double(), time.double(), event > 0.5
    concordant = torch.zeros((), dtype=torch.float64, device=risk.device)
    comparable = torch.zeros_like(concordant)
    for start in range(0, risk.shape[0], chunk):
        rows = slice(start, start + chunk)
        r, t, e = risk[rows, None], time[rows, None], event[rows, None]  # (C, 1) each
        pairs = e & ((t < time[None, :]) | ((t == time[None, :]) & ~event[None, :]))  # (C, N): i earlier than j
        comparable = comparable + pairs.sum()
        concordant = concordant + (pairs & (r > risk[None, :])).sum() + 0.5 * (pairs & (r == risk[None, :])).sum()
    if comparable == 0:
        return torch.tensor(float("nan"), dtype=torch.float64, device=risk.device)
    return concordant / comparable


class ConcordanceIndex(Metric):
    """Harrell's C-index as a torchmetrics ``Metric`` (states: lists of risk/time/event, ``cat`` reduction).

    ``update(risk (N,), time (N,), event (N,))``; ``compute() -> scalar`` (see :func:`concordance_index`).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("risk", default=[], dist_reduce_fx="cat")
        self.add_state("time", default=[], dist_reduce_fx="cat")
        self.add_state("event", default=[], dist_reduce_fx="cat")

    def update(self, risk: Tensor, time: Tensor, event: Tensor) -> None:
        if risk.ndim != 1 or time.shape != risk.shape or event.shape != risk.shape:
            raise ValueError(f"risk, time and event must all be (N,), got {tuple(risk.shape)}, "
                             f"{tuple(time.shape)}, {tuple(event.shape)}")
        self.risk.append(risk.detach().float())
        self.time.append(time.detach().float())
        self.event.append(event.detach().float())

    def compute(self) -> Tensor:
        return concordance_index(dim_zero_cat(self.risk), dim_zero_cat(self.time), dim_zero_cat(self.event))
