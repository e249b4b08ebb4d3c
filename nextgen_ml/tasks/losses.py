"""Survival losses."""

from __future__ import annotations

import torch
from torch import Tensor


def cox_ph_loss(risk: Tensor, time: Tensor, event: Tensor, valid: Tensor | None = None) -> Tensor:
    """Negative Cox partial log-likelihood (Breslow ties), averaged over the events.

    For each event ``i``: ``-(η_i - log Σ_{j: t_j >= t_i} exp(η_j))``; tied times share one risk set (Breslow).

    Args:
        risk: log hazard ratios ``η``, shape ``(B,)``.
        time: event or censoring times, ``(B,)``.
        event: 1 for an observed event, 0 for censoring, ``(B,)``.
        valid: optional ``(B,)`` bool; rows that are False are left out of both events and risk sets.

    Returns:
        Scalar loss; 0 (still attached to ``risk``'s graph) when the batch has no valid event.
    """
    if risk.ndim != 1 or time.shape != risk.shape or event.shape != risk.shape:
        raise ValueError(f"risk, time and event must all be (B,), got {tuple(risk.shape)}, {tuple(time.shape)}, "
                         f"{tuple(event.shape)}")
    valid = torch.ones_like(risk, dtype=torch.bool) if valid is None else valid
    safe_risk = torch.where(valid, risk, torch.zeros_like(risk))
    safe_time = torch.where(valid, time, torch.zeros_like(time))
    is_event = valid & (event > 0.5)
    at_risk = (safe_time[None, :] >= safe_time[:, None]) & valid[None, :]  # (B_i, B_j): j in risk set of i
    at_risk = at_risk | torch.eye(risk.shape[0], dtype=torch.bool, device=risk.device)  # no empty row (NaN grads)
    scores = safe_risk[None, :].expand_as(at_risk).masked_fill(~at_risk, float("-inf"))  # (B, B)
    log_den = torch.logsumexp(scores, dim=1)  # (B,)
    terms = torch.where(is_event, safe_risk - torch.where(is_event, log_den, torch.zeros_like(log_den)),
                        torch.zeros_like(risk))
    return -terms.sum() / is_event.sum().clamp_min(1)
