"""Cross-modal retrieval: does a patient's embedding from one modality find the same patient's other modality?

Row ``i`` of the query (e.g. ECG embeddings) is matched against every gallery row (e.g. image embeddings of the
same held-out patients) by cosine similarity; its true match is gallery row ``i``. ``recall@k`` is the fraction of
queries whose true match ranks among the top ``k``; ties with the true match count against it (pessimistic), so a
constant embedding scores 0, never chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def match_ranks(query: Tensor, gallery: Tensor) -> Tensor:
    """0-based rank of each query's true match among the gallery (ties counted against it).

    Args:
        query: ``(N, D)`` embeddings; row ``i`` is paired with ``gallery[i]``.
        gallery: ``(N, D)`` embeddings of the other modality (any ``D`` equal to the query's).

    Returns:
        ``(N,)`` int64: the number of *other* gallery rows at least as similar to query ``i`` as its match.
    """
    query, gallery = torch.as_tensor(query), torch.as_tensor(gallery)
    if query.ndim != 2 or gallery.ndim != 2 or query.shape != gallery.shape:
        raise ValueError(f"query and gallery must both be (N, D) with the same shape, got {tuple(query.shape)} "
                         f"and {tuple(gallery.shape)}")
    if query.shape[0] == 0:
        raise ValueError("query: no rows to retrieve")
    q = F.normalize(query.double(), dim=1)
    g = F.normalize(gallery.double(), dim=1)
    sim = q @ g.T  # (N, N) cosine similarity
    true = sim.diagonal()[:, None]  # (N, 1)
    at_least = sim >= true  # (N, N), includes the match itself
    return at_least.sum(dim=1) - 1  # (N,)


def recall_at_k(query: Tensor, gallery: Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """Recall@k of query → gallery retrieval, row ``i``'s true match being gallery row ``i``.

    Args:
        query: ``(N, D)`` embeddings.
        gallery: ``(N, D)`` embeddings.
        ks: cut-offs, each >= 1.

    Returns:
        ``{k: fraction of queries whose match ranks in the top k}``.
    """
    bad = [k for k in ks if int(k) < 1]
    if bad:
        raise ValueError(f"ks: every cut-off must be >= 1, got {list(ks)}")
    ranks = match_ranks(query, gallery)
    return {int(k): float((ranks < int(k)).double().mean()) for k in ks}


def chance_recall(n: int, k: int) -> float:
    """Expected recall@k of a random ranking of ``n`` gallery rows: ``min(k, n) / n``."""
    if n < 1 or k < 1:
        raise ValueError(f"chance_recall needs n >= 1 and k >= 1, got n={n}, k={k}")
    return min(k, n) / n
