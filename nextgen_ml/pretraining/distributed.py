"""In-batch negatives across DDP processes: gather every process's embeddings, keeping the local part's gradient.

Each process computes the same global InfoNCE over the rows of all processes; the gather's backward all-reduces
the embedding gradients (so each process receives ``W·∂L/∂z_local``) and DDP's gradient average divides by ``W``:
the parameters get ``∂L/∂θ`` of the global loss, as on one process with the whole batch (the open_clip recipe).
Processes may hold batches of different sizes (the last one): rows are padded to the largest batch and the
padding is marked absent, so it is never an anchor or a negative.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def gather_rows(module: Any, z: dict[str, Tensor], mask: dict[str, Tensor], modalities: list[str]
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``z`` and ``mask`` over the rows of every process (a LightningModule's ``all_gather`` with gradients).

    Args:
        module: the LightningModule (its strategy gathers); on one process nothing is gathered.
        z: modality → ``(B, D)`` embeddings of this process.
        mask: modality → ``(B,)`` bool presence.
        modalities: every modality of the net: one absent from this process's whole batch (so not in ``z``) is
            gathered as absent zero rows, so that every process joins the same collectives.

    Returns:
        ``({m: (W·B_max, D)}, {m: (W·B_max,)})``, process by process; padded rows are absent.
    """
    trainer = getattr(module, "_trainer", None)
    if trainer is None or trainer.world_size <= 1 or not z:
        return z, mask
    first = next(iter(z.values()))
    b = first.shape[0]
    sizes = module.all_gather(torch.tensor(b, device=first.device))  # (W,)
    b_max = int(sizes.max())
    pad = b_max - b
    anchor = sum((v[:0].sum() for v in z.values()), first.new_zeros(()))  # 0 in the graph: fillers join backward
    z = {m: z[m] if m in z else first.new_zeros(b, first.shape[1]) + anchor for m in modalities}
    mask = {m: mask[m] if m in mask else torch.zeros(b, dtype=torch.bool, device=first.device) for m in modalities}
    out_z, out_m = {}, {}
    for m in sorted(z):
        zp = torch.cat([z[m], z[m].new_zeros(pad, z[m].shape[1])]) if pad else z[m]  # (B_max, D)
        mp = torch.cat([mask[m], mask[m].new_zeros(pad)]) if pad else mask[m]  # (B_max,)
        out_z[m] = module.all_gather(zp, sync_grads=True).reshape(-1, zp.shape[1])  # (W*B_max, D)
        out_m[m] = module.all_gather(mp.to(torch.uint8)).reshape(-1).bool()  # (W*B_max,)
    return out_z, out_m
