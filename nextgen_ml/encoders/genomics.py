"""Genomics encoders over panel dosages ``(B, V)`` in [0, 2] (NaN = missing call)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers import MLP, TransformerBlock
from nextgen_ml.registry import register_encoder


class DosageEmbedding(nn.Module):
    """Dosage-weighted variant embeddings ``d_v E_v + m_v M_v + b_v``.

    ``d_v`` is the dosage (0 where missing), ``m_v`` is 1 for a missing call (NaN); ``E``, ``M``, ``b`` are learned.
    (No buffers here: Opacus computes this layer's per-sample gradients with functorch.)

    Args:
        n_variants: panel size ``V``.
        embed_dim: token width ``D``.

    Shapes: ``(B, V) -> (B, V, D)``.
    """

    def __init__(self, n_variants: int, embed_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_variants, embed_dim) * embed_dim**-0.5)
        self.missing = nn.Parameter(torch.zeros(n_variants, embed_dim))
        self.bias = nn.Parameter(torch.zeros(n_variants, embed_dim))

    def forward(self, dosages: Tensor) -> Tensor:
        missing = torch.isnan(dosages).to(dosages.dtype).unsqueeze(-1)  # (B, V, 1)
        d = torch.nan_to_num(dosages, nan=0.0).unsqueeze(-1)  # (B, V, 1)
        return d * self.weight + missing * self.missing + self.bias  # (B, V, D)


class GenePooling(nn.Module):
    """Mean of the variant embeddings of each gene.

    Args:
        gene_index: gene id per variant (``V`` ints using every id ``0..G-1``).

    Shapes: ``(B, V, D) -> (B, G, D)``.
    """

    def __init__(self, gene_index: Sequence[int]) -> None:
        super().__init__()
        index = torch.as_tensor(list(gene_index), dtype=torch.long)
        n_variants = index.numel()
        if index.min() < 0:
            raise ValueError(f"gene_index must hold non-negative gene ids, got min {int(index.min())}")
        assign = torch.zeros(int(index.max()) + 1, n_variants)  # (G, V)
        assign[index, torch.arange(n_variants)] = 1.0
        if (assign.sum(1) == 0).any():
            raise ValueError("gene_index must use every gene id 0..G-1 at least once")
        self.register_buffer("assign", assign / assign.sum(1, keepdim=True), persistent=False)

    def forward(self, per_variant: Tensor) -> Tensor:
        return torch.einsum("gv,bvd->bgd", self.assign, per_variant)  # (B, G, D)


class VariantEmbedEncoder(nn.Module):
    """Gene tokens (mean of dosage-weighted variant embeddings per gene; one token per variant without
    ``gene_index``), refined by transformer blocks; optionally plus a linear (polygenic-score-like) path.

    With ``linear=True`` a ``Linear(V → D)`` over the dosages (no call → 0) is a first, un-normalised token and
    is added to the mean of the gene tokens in ``forward``: an additive genetic effect (what a logistic regression
    on dosages captures) is learned directly, without going through attention and LayerNorm.

    Args:
        n_variants: panel size ``V``.
        embed_dim: output width ``D``.
        gene_index: gene id per variant for gene tokens.
        depth: transformer blocks.
        num_heads: attention heads.
        name: encoder name for error messages.
        linear: add the linear path.

    Shapes: ``(B, V)`` → ``forward_tokens (B, G, D)`` (``(B, 1 + G, D)`` with ``linear``, the linear token
    first), ``forward (B, D)``.
    """

    def __init__(
        self,
        n_variants: int,
        embed_dim: int,
        gene_index: Sequence[int] | None,
        depth: int,
        num_heads: int,
        name: str = "genomics_variant_embed",
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.name, self.n_variants, self.out_dim = name, n_variants, embed_dim
        if gene_index is not None and len(gene_index) != n_variants:
            raise ValueError(f"{name}: gene_index has {len(gene_index)} entries, expected n_variants={n_variants}")
        self.embed = DosageEmbedding(n_variants, embed_dim)
        self.genes: nn.Module = nn.Identity() if gene_index is None else GenePooling(gene_index)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.linear = nn.Linear(n_variants, embed_dim) if linear else None

    def _gene_tokens(self, x: Tensor) -> Tensor:
        check_input(self.name, x, f"(B, V={self.n_variants})", 2, self.n_variants)
        tokens = self.genes(self.embed(x))  # (B, G, D); G = V without gene_index
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def _linear_token(self, x: Tensor) -> Tensor:
        return self.linear(torch.nan_to_num(x, nan=0.0)).unsqueeze(1)  # (B, 1, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        tokens = self._gene_tokens(x)  # (B, G, D)
        return tokens if self.linear is None else torch.cat([self._linear_token(x), tokens], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self._gene_tokens(x).mean(1)  # (B, D)
        return pooled if self.linear is None else pooled + self._linear_token(x)[:, 0]


class PRSLinearEncoder(nn.Module):
    """Linear polygenic score path: ``Linear(V → hidden)`` over dosages, then an MLP to ``D``.

    Missing calls (NaN) count as dosage 0. Shapes: ``(B, V)`` → ``forward (B, D)``, ``forward_tokens (B, 1, D)``.
    """

    def __init__(self, n_variants: int, embed_dim: int, hidden: int, name: str = "genomics_prs_linear") -> None:
        super().__init__()
        self.name, self.n_variants, self.out_dim = name, n_variants, embed_dim
        self.score = nn.Linear(n_variants, hidden)
        self.mlp = MLP(hidden, [hidden], embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self.name, x, f"(B, V={self.n_variants})", 2, self.n_variants)
        return self.mlp(self.score(torch.nan_to_num(x, nan=0.0)))  # (B, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.forward(x).unsqueeze(1)  # (B, 1, D)


class StandardisedLinearEncoder(nn.Module):
    """A linear score over dosages standardised by the panel's declared allele frequencies.

    ``z_v = (d_v - 2 p_v) / sqrt(2 p_v (1 - p_v))`` (a missing call → 0, the expected dosage), then a zero-initialised
    ``Linear(V → D)``. Centring makes the first gradient steps follow the marginal variant–outcome covariances (what a
    strongly penalised logistic regression on dosages returns), instead of the allele frequencies times the
    outcome's offset; the frequencies are declared in the panel, so no patient data shapes the input (DP-safe).

    Args:
        n_variants: panel size ``V``.
        embed_dim: output width ``D``.
        allele_freq: declared alt-allele frequency per variant (``V`` values in (0, 1)).
        clip: standardised dosages are clipped to ``[-clip, clip]`` (a rare variant's carrier is ``≈ 1/sqrt(2p)``).
        name: encoder name for error messages.

    Shapes: ``(B, V)`` → ``forward (B, D)``, ``forward_tokens (B, 1, D)``.
    """

    def __init__(self, n_variants: int, embed_dim: int, allele_freq: Sequence[float], clip: float = 5.0,
                 name: str = "genomics_linear") -> None:
        super().__init__()
        self.name, self.n_variants, self.out_dim = name, n_variants, embed_dim
        p = torch.as_tensor(list(allele_freq), dtype=torch.float32)
        if p.numel() != n_variants:
            raise ValueError(f"{name}: allele_freq has {p.numel()} entries, expected n_variants={n_variants}")
        if not bool(((p > 0) & (p < 1)).all()):
            raise ValueError(f"{name}: allele_freq must lie in (0, 1), got min {float(p.min())}, max {float(p.max())}")
        if clip <= 0:
            raise ValueError(f"{name}: clip must be positive, got {clip}")
        self.clip = float(clip)
        self.register_buffer("centre", 2 * p, persistent=False)
        self.register_buffer("scale", torch.sqrt(2 * p * (1 - p)), persistent=False)
        self.score = nn.Linear(n_variants, embed_dim)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def standardise(self, x: Tensor) -> Tensor:
        """``(B, V)`` dosages → ``(B, V)`` standardised dosages (missing call → 0)."""
        z = (x - self.centre) / self.scale
        return torch.nan_to_num(z, nan=0.0).clamp(-self.clip, self.clip)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self.name, x, f"(B, V={self.n_variants})", 2, self.n_variants)
        return self.score(self.standardise(x))  # (B, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.forward(x).unsqueeze(1)  # (B, 1, D)


@register_encoder
def genomics_variant_embed(
    embed_dim: int = 64,
    n_variants: int = 64,
    gene_index: Sequence[int] | None = None,
    depth: int = 1,
    num_heads: int = 4,
    linear: bool = False,
) -> VariantEmbedEncoder:
    """Dosage-weighted variant embeddings grouped into gene tokens + transformer (+ a linear path).

    Args:
        embed_dim: output width ``D``.
        n_variants: panel size ``V``.
        gene_index: gene id per variant (``VariantPanel.gene_index()``); None = one token per variant.
        depth: transformer blocks over the tokens.
        num_heads: attention heads.
        linear: add a linear path over the dosages (see :class:`VariantEmbedEncoder`; the configs turn it on,
            the function default stays off so that bundles saved without it load unchanged).
    """
    return VariantEmbedEncoder(n_variants, embed_dim, gene_index, depth, num_heads, linear=linear)


@register_encoder
def genomics_prs_linear(embed_dim: int = 64, n_variants: int = 64, hidden: int = 16) -> PRSLinearEncoder:
    """Linear PRS-style path over dosages, then a small MLP.

    Args:
        embed_dim: output width ``D``.
        n_variants: panel size ``V``.
        hidden: number of learned linear scores.
    """
    return PRSLinearEncoder(n_variants, embed_dim, hidden)


@register_encoder
def genomics_linear(
    embed_dim: int = 64, n_variants: int = 64, allele_freq: Sequence[float] | None = None, clip: float = 5.0
) -> StandardisedLinearEncoder:
    """A zero-initialised linear score over dosages standardised by declared allele frequencies.

    Args:
        embed_dim: output width ``D``.
        n_variants: panel size ``V``.
        allele_freq: declared alt-allele frequency per variant (the store's panel; default 0.25 each).
        clip: bound of the standardised dosages.
    """
    freq = [0.25] * n_variants if allele_freq is None else allele_freq
    return StandardisedLinearEncoder(n_variants, embed_dim, freq, clip)
