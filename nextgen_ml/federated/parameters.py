"""The model update a site sends: the net's floating-point state tensors, in the state dict's fixed order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def parameter_keys(net: nn.Module) -> list[str]:
    """State-dict keys that travel between server and sites: every floating-point tensor (weights, biases,
    normalisation statistics), in ``state_dict`` order. Integer buffers (e.g. ``num_batches_tracked``) stay local."""
    return [k for k, v in net.state_dict().items() if torch.is_floating_point(v)]


def get_parameters(net: nn.Module) -> list[np.ndarray]:
    """The net's shared tensors as float32 NumPy arrays, in :func:`parameter_keys` order."""
    state = net.state_dict()
    return [state[k].detach().cpu().numpy().astype(np.float32, copy=True) for k in parameter_keys(net)]


def set_parameters(net: nn.Module, arrays: Sequence[np.ndarray]) -> None:
    """Load arrays produced by :func:`get_parameters` (of a net with the same architecture) into ``net``.

    Raises:
        ValueError: naming the first key whose count or shape differs (another architecture or preprocessing).
    """
    keys = parameter_keys(net)
    if len(arrays) != len(keys):
        raise ValueError(f"parameters: got {len(arrays)} arrays for {len(keys)} floating tensors of the net "
                         "(different model config or modality specs?)")
    state = net.state_dict()
    update = {}
    for key, array in zip(keys, arrays, strict=True):
        if tuple(array.shape) != tuple(state[key].shape):
            raise ValueError(f"parameters: {key} has shape {tuple(array.shape)}, the net expects "
                             f"{tuple(state[key].shape)}")
        update[key] = torch.as_tensor(np.asarray(array), dtype=state[key].dtype, device=state[key].device)
    net.load_state_dict(update, strict=False)
