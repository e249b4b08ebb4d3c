"""Input saliency for one modality (ECG leads × time, image frames × pixels) through Captum, the other
modalities held fixed.

The explained quantity is a scalar per patient, ``output_fn(net(inputs, mask)) -> (B,)`` (e.g. the predicted
probability). Captum repeats the other modalities' tensors and the masks along with the interpolated input, so
integrated gradients see each patient's own other modalities at every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency
from torch import Tensor, nn

#: method name → Captum attribution class.
SALIENCY_METHODS: dict[str, type] = {
    "integrated_gradients": IntegratedGradients,
    "saliency": Saliency,
    "input_x_gradient": InputXGradient,
}

OutputFn = Callable[[Mapping[str, Tensor]], Tensor]


def input_saliency(
    net: nn.Module,
    inputs: Mapping[str, Tensor],
    mask: Mapping[str, Tensor],
    modality: str,
    output_fn: OutputFn,
    method: str = "integrated_gradients",
    n_steps: int = 32,
) -> Tensor:
    """Attribution of ``output_fn`` to every element of ``inputs[modality]``.

    Args:
        net: a ``MultimodalNet`` (in eval mode) with ``forward(inputs, mask) -> {"logits", ...}``.
        inputs: modality → batch tensor (see the batch contract).
        mask: modality → ``(B,)`` bool presence.
        modality: the continuous modality to attribute (``"ecg"``, ``"image"``, ``"genomics"``, ``"tabular"``);
            token ids (``"text"``) have no gradient.
        output_fn: net output dict → ``(B,)`` scalar per patient.
        method: a key of :data:`SALIENCY_METHODS`; integrated gradients use an all-zero baseline (the
            standardised mean signal).
        n_steps: integration steps for integrated gradients.

    Returns:
        Attributions with the shape of ``inputs[modality]``, e.g. ``(B, L, T)`` for the ECG or ``(B, F, H, W)`` for
        the image; rows where the modality is absent are 0.
    """
    if method not in SALIENCY_METHODS:
        raise ValueError(f"method: unknown saliency method {method!r}; choose from {sorted(SALIENCY_METHODS)}")
    if modality not in inputs:
        raise ValueError(f"modality: {modality!r} is not in inputs ({sorted(inputs)})")
    x = inputs[modality]
    if not torch.is_floating_point(x):
        raise ValueError(f"modality: {modality!r} holds {x.dtype} values (token ids), which have no gradient")
    others = [m for m in sorted(inputs) if m != modality]
    mask_keys = sorted(mask)

    def forward(x_m: Tensor, *args: Tensor) -> Tensor:
        fixed = dict(zip(others, args[: len(others)]))
        masks = dict(zip(mask_keys, args[len(others) :]))
        out = output_fn(net({**fixed, modality: x_m}, masks))
        if out.ndim != 1:
            raise ValueError(f"output_fn must return (B,), got shape {tuple(out.shape)}")
        return out

    extra = tuple(inputs[m] for m in others) + tuple(mask[m] for m in mask_keys)
    explainer = SALIENCY_METHODS[method](forward)
    kwargs: dict = {"additional_forward_args": extra}
    if method == "integrated_gradients":
        kwargs.update(baselines=torch.zeros_like(x), n_steps=n_steps, internal_batch_size=max(1, x.shape[0]))
    if method == "saliency":
        kwargs.update(abs=False)
    with torch.enable_grad():
        attr = explainer.attribute(x.detach().clone().requires_grad_(True), **kwargs)
    present = mask[modality].to(attr.dtype).reshape(-1, *([1] * (attr.ndim - 1)))  # (B, 1, ...)
    return (attr * present).detach()


def lead_importance(ecg_attr: Tensor) -> Tensor:
    """Share of absolute ECG attribution per lead: ``(B, L, T)`` → ``(B, L)`` (rows sum to 1, or 0 if empty)."""
    total = ecg_attr.abs().sum(dim=-1)  # (B, L)
    return total / total.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def image_heatmap(image_attr: Tensor) -> Tensor:
    """Absolute image attribution summed over frames (and depth for 3D): ``(B, F, [D,] H, W)`` → ``(B, H, W)``."""
    heat = image_attr.abs()
    return heat.flatten(1, heat.ndim - 3).sum(dim=1)  # (B, F·[D], H, W) → (B, H, W)
