"""Shared fusion-test inputs: every registered fusion's test configs and a batch covering every presence pattern."""

from __future__ import annotations

import itertools

import torch

from nextgen_ml.registry import create_fusion

IN_DIMS = {"ecg": 8, "image": 6, "tabular": 5}
TOKENS = {"ecg": 3, "image": 4, "tabular": 2}
EMBED = 16
#: every registered fusion, plus the non-default options of some.
CONFIGS: dict[str, tuple[str, dict]] = {
    "concat": ("concat", {}),
    "late": ("late", {}),
    "late_learned": ("late", {"combine": "learned"}),
    "gated": ("gated", {}),
    "gated_sigmoid": ("gated", {"gate": "sigmoid"}),
    "bottleneck": ("bottleneck", {"num_heads": 2}),
    "cross_attention": ("cross_attention", {"num_heads": 2}),
    "directional_attention": ("directional_attention", {"num_heads": 2}),
    "directional_attention_pairwise": ("directional_attention", {"num_heads": 2, "pairwise": True}),
    "latent_attention": ("latent_attention", {"num_heads": 2, "num_latents": 3, "num_layers": 2}),
    "latent_attention_one": ("latent_attention", {"num_heads": 2, "num_latents": 1, "self_per_cross": 0}),
    "tensor": ("tensor", {"proj_dim": 3}),
    "low_rank": ("low_rank", {"rank": 3}),
    "weighted_decision": ("weighted_decision", {}),
    "weighted_decision_static": ("weighted_decision", {"confidence": False, "hidden_dims": (8,)}),
    "subspace": ("subspace", {"latent_dim": 4, "hidden_dims": (8,)}),
    "graph": ("graph", {"num_heads": 2, "bank_size": 16}),
    "graph_tabular": ("graph", {"num_heads": 2, "bank_size": 16, "similarity": "tabular"}),
    "film": ("film", {}),
    "film_tabular": ("film", {"conditioner": "tabular"}),
    # without stage_channels (create_fusion alone) film_encoders is its combine fusion; its conditioning inside real
    # encoders is tested in tests/fusion/test_film_encoders.py
    "film_encoders": ("film_encoders", {"combine": "gated"}),
}
#: configs whose training-mode forward is random (reparameterised sampling): compared in eval mode where a test
#: needs two forwards to agree.
STOCHASTIC = {"subspace"}
#: the 7 non-empty subsets of 3 modalities, then the empty one (one row each).
PATTERNS = list(itertools.product([True, False], repeat=3))


def build(config: str, seed: int = 0) -> torch.nn.Module:
    name, kwargs = CONFIGS[config]
    torch.manual_seed(seed)
    return create_fusion(name, in_dims=IN_DIMS, embed_dim=EMBED, **kwargs)


def make_inputs(fusion: torch.nn.Module, seed: int = 1) -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(seed)
    batch = len(PATTERNS)
    feats = {}
    for m, d in IN_DIMS.items():
        shape = (batch, TOKENS[m], d) if fusion.uses_tokens else (batch, d)
        feats[m] = torch.randn(shape, generator=gen)
    mask = {m: torch.tensor([p[i] for p in PATTERNS]) for i, m in enumerate(IN_DIMS)}
    return feats, mask
