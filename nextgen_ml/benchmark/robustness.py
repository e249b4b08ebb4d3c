"""Test-time missing modalities: keep every modality subset, or hide modalities at random (per-site rates).

Conditions are named ``full``, ``subset:<m1>+<m2>`` (only those modalities visible), ``missing:<rate>`` (each
present modality hidden with probability ``rate``, never all of a row's) and ``site_missing`` (the rate depends on
the row's site). Random masks are seeded by the repeat, fold and condition only, so every setting of a fold sees
the same missingness pattern (paired comparisons stay paired).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from nextgen_ml.benchmark.config import RobustnessConfig
from nextgen_ml.data.dropout import drop_modalities
from nextgen_ml.interpret.modalities import OutputFn, outputs_under_masks


def subset_name(modalities: Sequence[str]) -> str:
    """Condition name of a visible-modality subset."""
    return "subset:" + "+".join(sorted(modalities))


def random_missing(mask: Mapping[str, Tensor], rates: np.ndarray, seed: int) -> dict[str, Tensor]:
    """Hide each present modality of row ``b`` with probability ``rates[b]``, keeping at least one per row.

    Args:
        mask: modality → ``(B,)`` bool presence.
        rates: ``(B,)`` per-row missing rate in [0, 1).
        seed: generator seed.
    """
    names = sorted(mask)
    present = torch.stack([mask[m] for m in names], dim=1)  # (B, M)
    out = present.clone()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for rate in np.unique(rates):
            rows = torch.from_numpy(rates == rate)
            if rate > 0 and bool(rows.any()):
                out[rows] = drop_modalities(present[rows], float(rate))
    return {m: out[:, j] for j, m in enumerate(names)}


def condition_masks(
    mask: Mapping[str, Tensor], sites: np.ndarray, cfg: RobustnessConfig, seed: int
) -> dict[str, dict[str, Tensor]]:
    """Every robustness condition's mask for one test batch.

    Args:
        mask: modality → ``(B,)`` presence of the test batch.
        sites: ``(B,)`` site of each row.
        cfg: which conditions (subsets, missing rates, per-site rates).
        seed: the repeat/fold seed (shared by all settings).
    """
    names = sorted(mask)
    masks: dict[str, dict[str, Tensor]] = {"full": dict(mask)}
    if cfg.subsets and len(names) > 1:
        for k in range(1, len(names)):
            for subset in itertools.combinations(names, k):
                masks[subset_name(subset)] = {m: mask[m] & (m in subset) for m in names}
    if len(names) > 1:
        for rate in cfg.missing_rates:
            cond = f"missing:{rate:g}"
            masks[cond] = random_missing(mask, np.full(len(sites), float(rate)), seed + zlib.crc32(cond.encode()))
        if cfg.site_missing:
            unknown = sorted(set(np.unique(sites).tolist()) - set(cfg.site_missing))
            if unknown:
                raise ValueError(f"robustness.site_missing: no rate for sites {unknown}")
            rates = np.asarray([cfg.site_missing[s] for s in sites], dtype=np.float64)
            masks["site_missing"] = random_missing(mask, rates, seed + zlib.crc32(b"site_missing"))
    return masks


def robustness_logits(
    net: nn.Module, batch: Mapping[str, Mapping[str, Tensor]], sites: np.ndarray, cfg: RobustnessConfig, seed: int,
    output_fn: OutputFn | None = None,
) -> dict[str, np.ndarray]:
    """Score of every test row under every condition (the encoders run once).

    Args:
        output_fn: the net's output dict → ``(B,)`` or ``(B, K)`` scores; default the first logit.

    Returns:
        condition → ``(B,)`` (or ``(B, K)``) float64 scores.
    """
    return masked_scores(net, batch["inputs"], condition_masks(batch["mask"], sites, cfg, seed), output_fn)


def masked_scores(net: nn.Module, inputs: Mapping[str, Tensor], masks: Mapping[str, Mapping[str, Tensor]],
                  output_fn: OutputFn | None = None) -> dict[str, np.ndarray]:
    """Scores of the same inputs under named presence masks: name → ``(B,)`` or ``(B, K)`` float64."""
    n_rows = len(next(iter(next(iter(masks.values())).values())))
    values = outputs_under_masks(net, inputs, list(masks.values()), output_fn)  # (C, B) or (C, B*K)
    values = values.reshape(len(masks), n_rows, -1)  # (C, B, K)
    if values.shape[-1] == 1:
        values = values[..., 0]  # (C, B)
    return {name: values[i].double().numpy() for i, name in enumerate(masks)}
