"""Modality attribution through the presence mask: exact Shapley values and leave-one-modality-out.

A "coalition" of modalities is evaluated by setting the mask of every other modality to False, which is exactly
how the model sees a patient without those data (the fusions never read masked rows). For a row whose present
modalities are ``P`` (``p = |P|``), the Shapley value of ``i ∈ P`` is

    φ_i = Σ_{S ⊆ P \\ {i}} |S|! (p − |S| − 1)! / p! · (f(S ∪ {i}) − f(S)),

and φ_i = 0 for absent modalities, so ``Σ_i φ_i = f(P) − f(∅)`` (efficiency). All ``2^M`` coalitions are
evaluated once for the whole batch; when the net is a ``MultimodalNet`` the encoders run only once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

#: exact enumeration needs 2^M forward passes of the fusion; refuse beyond this many modalities.
MAX_EXACT_MODALITIES = 10

OutputFn = Callable[[Mapping[str, Tensor]], Tensor]


def first_logit(out: Mapping[str, Tensor]) -> Tensor:
    """Default ``output_fn``: the first logit, ``(B,)``."""
    return out["logits"][:, 0]


@contextmanager
def _eval_mode(net: nn.Module):
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        net.train(was_training)


def _check(inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> tuple[list[str], int]:
    names = sorted(mask)
    if not names:
        raise ValueError("mask must name at least one modality")
    if len(names) > MAX_EXACT_MODALITIES:
        raise ValueError(f"mask has {len(names)} modalities; exact Shapley enumerates 2^M coalitions, "
                         f"at most {MAX_EXACT_MODALITIES} modalities are supported")
    extra = sorted(set(inputs) - set(mask))
    if extra:
        raise ValueError(f"mask is missing for modalities {extra}")
    batch = {tuple(m.shape) for m in mask.values()}
    if len(batch) != 1 or len(next(iter(batch))) != 1:
        raise ValueError(f"mask values must all be (B,) bool tensors, got shapes {sorted(batch)}")
    return names, next(iter(batch))[0]


def outputs_under_masks(
    net: nn.Module,
    inputs: Mapping[str, Tensor],
    masks: Sequence[Mapping[str, Tensor]],
    output_fn: OutputFn | None = None,
) -> Tensor:
    """Model output for the same inputs under several presence masks.

    A ``MultimodalNet`` (anything with ``encode``, ``fusion`` and ``head``) is encoded once and only the fusion
    and head run per mask (encoders never see the mask), unless its fusion conditions the encoders
    (``conditions_encoders``: a masked conditioner changes the encodings); any other ``forward(inputs, mask)``
    module runs once per mask. The net is put in eval mode (and restored) and no gradients are recorded.

    Args:
        net: module with ``forward(inputs, mask) -> {"logits": (B, K), ...}``.
        inputs: modality → batch tensor, as in the batch contract.
        masks: presence masks, each modality → ``(B,)`` bool (modalities of ``inputs`` at least).
        output_fn: maps the net's output dict to ``(B,)``; default: the first logit.

    Returns:
        ``(len(masks), B)``.
    """
    output_fn = output_fn or first_logit
    present = sorted(inputs)  # modalities absent from every row may be left out of inputs (see Collate)
    fast = all(hasattr(net, a) for a in ("encode", "fusion", "head"))
    fast = fast and not getattr(net.fusion, "conditions_encoders", None)  # encodings depend on the mask (FiLM)
    values = []
    with _eval_mode(net):
        features = net.encode(inputs) if fast else None
        for mask in masks:
            missing = sorted(set(present) - set(mask))
            if missing:
                raise ValueError(f"mask is missing for modalities {missing}")
            sub = {m: mask[m] for m in present}
            if fast:
                embedding = net.fusion(features, sub)  # (B, E)
                out = {"logits": net.head(embedding), "embedding": embedding}
            else:
                out = net(inputs, sub)
            values.append(output_fn(out).reshape(-1).float())  # (B,)
    return torch.stack(values)  # (C, B)


def coalition_outputs(
    net: nn.Module,
    inputs: Mapping[str, Tensor],
    mask: Mapping[str, Tensor],
    coalitions: Sequence[Sequence[str]],
    output_fn: OutputFn | None = None,
) -> Tensor:
    """Model output with only the modalities of each coalition visible (the others masked out).

    Args:
        net: module with ``forward(inputs, mask) -> {"logits": (B, K), ...}``.
        inputs: modality → batch tensor, as in the batch contract.
        mask: modality → ``(B,)`` bool presence.
        coalitions: modality subsets to evaluate (names must be keys of ``mask``).
        output_fn: maps the net's output dict to ``(B,)``; default: the first logit.

    Returns:
        ``(C, B)``: output per coalition and row (a row's absent modalities stay absent in every coalition).
    """
    _check(inputs, mask)
    for c in coalitions:
        unknown = sorted(set(c) - set(mask))
        if unknown:
            raise ValueError(f"coalition {list(c)} names modalities {unknown} that are not in mask {sorted(mask)}")
    masks = [{m: mask[m] & (m in coalition) for m in mask} for coalition in coalitions]
    return outputs_under_masks(net, inputs, masks, output_fn)


def _presence(mask: Mapping[str, Tensor], names: Sequence[str]) -> Tensor:
    return torch.stack([mask[m].bool() for m in names], dim=1)  # (B, M)


def modality_shapley(
    net: nn.Module, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor], output_fn: OutputFn | None = None
) -> dict[str, Tensor]:
    """Exact Shapley values of the model output over the modalities present in each row.

    Args:
        net: module with ``forward(inputs, mask) -> {"logits": (B, K), ...}`` (e.g. ``MultimodalNet``).
        inputs: modality → batch tensor.
        mask: modality → ``(B,)`` bool presence; the players are the keys of ``mask``.
        output_fn: maps the output dict to ``(B,)``; default: the first logit.

    Returns:
        modality → ``(B,)`` Shapley values; 0 where the modality is absent; per row they sum to
        ``f(all present) − f(none)``.
    """
    names, _ = _check(inputs, mask)
    m = len(names)
    subsets = [[names[j] for j in range(m) if s >> j & 1] for s in range(2**m)]
    values = coalition_outputs(net, inputs, mask, subsets, output_fn)  # (2^M, B)
    present = _presence(mask, names).to(values.device)  # (B, M)
    p = present.sum(dim=1)  # (B,)
    fact = torch.tensor([math.factorial(k) for k in range(m + 1)], dtype=torch.float64, device=values.device)
    out = {}
    for i, name in enumerate(names):
        phi = torch.zeros(values.shape[1], dtype=torch.float64, device=values.device)
        for s in range(2**m):
            if s >> i & 1:
                continue
            members = [j for j in range(m) if s >> j & 1]
            inside = present[:, members].all(dim=1) & present[:, i]  # (B,) S ⊆ P and i ∈ P
            size = len(members)
            rest = (p - size - 1).clamp(min=0)
            weight = fact[size] * fact[rest] / fact[p]  # (B,)
            gain = values[s | 1 << i].double() - values[s].double()  # (B,)
            phi = phi + torch.where(inside, weight * gain, torch.zeros_like(phi))
        out[name] = phi.to(values.dtype)
    return out


def leave_one_out(
    net: nn.Module, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor], output_fn: OutputFn | None = None
) -> dict[str, Tensor]:
    """Leave-one-modality-out attribution: ``f(P) − f(P \\ {i})`` for present ``i``, 0 for absent ones.

    Args:
        net: module with ``forward(inputs, mask) -> {"logits": (B, K), ...}``.
        inputs: modality → batch tensor.
        mask: modality → ``(B,)`` bool presence.
        output_fn: maps the output dict to ``(B,)``; default: the first logit.

    Returns:
        modality → ``(B,)`` drop in output when that modality alone is hidden.
    """
    names, _ = _check(inputs, mask)
    coalitions = [names] + [[n for n in names if n != name] for name in names]
    values = coalition_outputs(net, inputs, mask, coalitions, output_fn)  # (1 + M, B)
    out = {}
    for i, name in enumerate(names):
        out[name] = torch.where(mask[name].to(values.device), values[0] - values[1 + i], torch.zeros_like(values[0]))
    return out


def attribution_frame(values: Mapping[str, Tensor], index: Sequence[Any] | Tensor | None = None):
    """Per-patient attributions as a pandas DataFrame (rows = patients, columns = modalities)."""
    import pandas as pd

    data = {m: v.detach().cpu().numpy() for m, v in values.items()}
    idx = index.tolist() if isinstance(index, Tensor) else index
    return pd.DataFrame(data, index=idx)
