"""Inductive graph fusion: each patient attends over a memory bank of training-patient embeddings (a learned,
soft patient-similarity graph whose nodes are training patients only)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, prepare_inputs
from nextgen_ml.fusion.dp import refuse_under_dp
from nextgen_ml.layers import masked_mean
from nextgen_ml.registry import register_fusion


class PatientMemory(nn.Module):
    """FIFO bank of ``size`` detached training-patient embeddings and the similarity attention over it.

    Each entry holds the patient's node embedding (the message it sends), its similarity embedding (where it sits
    in the graph) and whether that similarity embedding exists. Only :meth:`write` changes the bank, and
    :class:`GraphFusion` calls it in training mode only, after its outputs are computed: a batch never reads
    itself, and evaluation (validation and test patients) never enters the graph. The bank is made of persistent
    buffers, so a checkpoint carries the graph its model was trained with.

    Args:
        size: bank capacity ``K`` (oldest entries are overwritten).
        dim: embedding width ``E``.
        temperature: initial similarity temperature (learned, as ``log_scale``).

    Shapes: ``q (B, H, 1, Dh)``, ``k, v (B, H, K', Dh)``, ``key_mask (B, K')`` → ``(B, H, 1, Dh)``.
    """

    def __init__(self, size: int, dim: int, temperature: float = 0.1) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"bank_size must be >= 1, got {size}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.register_buffer("bank", torch.zeros(size, dim))
        self.register_buffer("sims", torch.zeros(size, dim))
        self.register_buffer("valid", torch.zeros(size, dtype=torch.bool))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.log_scale = nn.Parameter(torch.tensor(-float(torch.log(torch.tensor(temperature)))))

    def entries(self) -> tuple[Tensor, Tensor, Tensor]:
        """Copies of the filled part of the bank: nodes ``(K', E)``, similarity embeddings ``(K', E)`` and their
        validity ``(K',)``, with ``K' = min(count, size)`` (copies: :meth:`write` updates the buffers in place)."""
        n = int(self.count.clamp(max=self.bank.shape[0]))
        return self.bank[:n].clone(), self.sims[:n].clone(), self.valid[:n].clone()

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor) -> Tensor:
        """Cosine-similarity attention with a learned scale over the keys where ``key_mask`` is True."""
        q = F.normalize(q, dim=-1) * self.log_scale.exp()
        k = F.normalize(k, dim=-1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :], scale=1.0)

    @torch.no_grad()
    def write(self, nodes: Tensor, sims: Tensor, valid: Tensor) -> None:
        """Append detached ``nodes (n, E)``, ``sims (n, E)`` and ``valid (n,)`` (the newest ``size`` if ``n``
        exceeds it); ``count`` counts every patient written."""
        size, n = self.bank.shape[0], nodes.shape[0]
        k = min(n, size)
        idx = (self.ptr + n - k + torch.arange(k, device=nodes.device)) % size  # (k,) ring slots of the kept ones
        self.bank.index_copy_(0, idx, nodes.detach()[-k:].to(self.bank.dtype))
        self.sims.index_copy_(0, idx, sims.detach()[-k:].to(self.sims.dtype))
        self.valid.index_copy_(0, idx, valid[-k:])
        self.ptr.copy_((self.ptr + n) % size)
        self.count.add_(n)


class GraphFusion(nn.Module):
    """Patient-similarity graph fusion that is inductive.

    A node embedding ``h = LN(masked mean over present modalities of W_m x_m)`` is computed per patient. Each patient
    then aggregates messages (the neighbours' ``h``) from a soft similarity graph: multi-head cosine attention over a
    learned "self" node and the bank of training patients (:class:`PatientMemory`). The graph is built from the
    similarity embedding: ``h`` itself (``similarity=None``), or, as in population-graph GNNs, one modality only
    (``similarity="tabular"``: ``LN(W x_tabular)``); then a patient without that modality has no neighbours (it attends
    to the self node only) and is no one's neighbour. The output is ``LN(h + W_o · message)`` followed by a residual
    MLP. In training mode the batch's embeddings (rows with any modality) are written to the bank **after** the outputs
    are computed, so no row reads another row of its batch; in eval mode nothing is written, so test patients only ever
    attend to training patients and adding test patients changes no training output or gradient. Rows with no modality
    get a learned "no data" embedding.

    Not DP-compatible (see :data:`nextgen_ml.fusion.dp.DP_REFUSED`): the bank stores training patients'
    embeddings inside the model and each output depends on other patients, which per-sample clipping does not
    bound. Training patients may also meet their own (stale) embedding from an earlier epoch in the bank.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: node and output width.
        bank_size: number of training-patient embeddings kept.
        num_heads: attention heads.
        temperature: initial cosine-similarity temperature.
        similarity: the modality the graph is built from (None: the fused node embedding).

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        bank_size: int = 512,
        num_heads: int = 4,
        temperature: float = 0.1,
        similarity: str | None = None,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.in_dims = check_in_dims(in_dims)
        if similarity is not None and similarity not in self.in_dims:
            raise ValueError(f"similarity must be one of {list(self.in_dims)} or None, got {similarity!r}")
        self.out_dim, self.num_heads, self.similarity = embed_dim, num_heads, similarity
        self.sim_norm = nn.LayerNorm(embed_dim) if similarity is not None else None
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.node_norm = nn.LayerNorm(embed_dim)
        self.memory = PatientMemory(bank_size, embed_dim, temperature)
        self.self_node = LearnedVectors(1, embed_dim)
        self.q, self.k, self.v = (nn.Linear(embed_dim, embed_dim) for _ in range(3))
        self.o = nn.Linear(embed_dim, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)
        self.ff = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.GELU(), nn.Linear(embed_dim, embed_dim))
        self.no_data = LearnedVectors(1, embed_dim)

    def nodes(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Node embeddings ``(B, E)`` and presence ``(B, M)``."""
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        names = list(self.in_dims)
        projected = torch.stack([self.proj[m](x) for m, x in clean.items()], dim=1)  # (B, M', E)
        keep = present[:, [names.index(m) for m in clean]]  # (B, M')
        return self.node_norm(masked_mean(projected, keep)), present  # (B, E)

    def _heads(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)  # (B, H, T, Dh)

    def similarities(self, features: Mapping[str, Tensor], h: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        """Similarity embeddings ``(B, E)`` and whether each row has one ``(B,)``."""
        if self.similarity is None:
            return h, present.any(dim=1)
        has = present[:, list(self.in_dims).index(self.similarity)]  # (B,)
        if self.similarity not in features:
            return torch.zeros_like(h), has
        x = torch.where(has[:, None], features[self.similarity], torch.zeros_like(features[self.similarity]))
        return self.sim_norm(self.proj[self.similarity](x)), has  # (B, E)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        h, present = self.nodes(features, mask)
        s, has = self.similarities(features, h, present)
        batch, device = h.shape[0], h.device
        bank, sims, valid = self.memory.entries()  # (K', E), (K', E), (K',): training patients only
        node = self.self_node(batch, device)[:, None]  # (B, 1, E): always a valid key, no row attends to nothing
        # the bank's keys and values are projected once and shared by every row (the bank is constant per forward)
        keys = torch.cat([self.k(node), self.k(sims).expand(batch, -1, -1)], dim=1)  # (B, 1 + K', E)
        values = torch.cat([self.v(node), self.v(bank).expand(batch, -1, -1)], dim=1)  # (B, 1 + K', E)
        key_mask = torch.cat([has.new_ones(batch, 1), has[:, None] & valid[None, :]], dim=1)  # (B, 1 + K')
        q = self._heads(self.q(s)[:, None])  # (B, H, 1, Dh)
        msg = self.memory.attend(q, self._heads(keys), self._heads(values), key_mask)  # (B, H, 1, Dh)
        msg = msg.transpose(1, 2).reshape(batch, -1)  # (B, E)
        out = self.norm(h + self.o(msg))  # (B, E)
        out = out + self.ff(out)
        any_present = present.any(dim=1)
        if self.training and bool(any_present.any()):
            self.memory.write(h[any_present], s[any_present], has[any_present])
        return fill_empty_rows(out, present, self.no_data(batch, device))


refuse_under_dp(
    "graph",
    PatientMemory,
    "its memory bank stores training patients' embeddings inside the model and "
    "every output depends on other patients, which per-sample gradient clipping does not bound",
)


@register_fusion
def graph(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> GraphFusion:
    """Inductive patient-similarity graph fusion over a training-patient memory bank (see :class:`GraphFusion`)."""
    return GraphFusion(check_in_dims(in_dims), embed_dim, **kwargs)
