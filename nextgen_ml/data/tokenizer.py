"""A WordPiece tokenizer for clinical notes, trained on the training split (no downloads).

Built on Hugging Face ``tokenizers``: lower-casing, accent stripping, whitespace/punctuation splitting and a
WordPiece model, so typos and abbreviations fall back to sub-word pieces instead of ``[UNK]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD, UNK = "[PAD]", "[UNK]"


class NoteTokenizer:
    """Wraps a trained :class:`tokenizers.Tokenizer`; id 0 is always ``[PAD]``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        if tokenizer.token_to_id(PAD) != 0:
            raise ValueError("tokenizer: [PAD] must have id 0")
        self._tok = tokenizer

    @classmethod
    def train(cls, notes: Iterable[str], vocab_size: int = 2000, min_frequency: int = 2) -> NoteTokenizer:
        """Train on ``notes`` (the training split only)."""
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[PAD, UNK], show_progress=False
        )
        tok.train_from_iterator(list(notes), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str, max_len: int) -> np.ndarray:
        """Token ids ``(max_len,)`` int64, truncated and padded with 0."""
        ids = self._tok.encode(text or "").ids[:max_len]
        out = np.zeros(max_len, dtype=np.int64)
        out[: len(ids)] = ids
        return out

    def tokens(self, text: str) -> list[str]:
        return self._tok.encode(text).tokens

    def to_str(self) -> str:
        return self._tok.to_str()

    @classmethod
    def from_str(cls, text: str) -> NoteTokenizer:
        return cls(Tokenizer.from_str(text))
