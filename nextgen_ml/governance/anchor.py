"""Anchors and keys for the audit log: what a verifier keeps outside the log to trust it.

An :class:`Anchor` is the ``seq`` and ``hash`` of one entry, kept outside the log (a run writes
``audit_anchor.json`` into its output folder). Because every hash covers the previous one, the chain can only
pass through an anchor if nothing up to it was truncated, edited, inserted or re-hashed.

The audit key (env :data:`KEY_ENV`) is a secret held by the data steward. With it, every entry carries
``mac`` = HMAC-SHA256(key, hash) and every anchor ``mac`` = HMAC-SHA256(key, "seq:hash"), so someone who can
write the log and the run folders but does not hold the key can neither forge an entry nor an anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nextgen_ml.governance.files import atomic_write_json

#: Environment variable holding the audit HMAC key (any string; e.g. ``secrets.token_hex(32)``).
KEY_ENV = "NEXTGEN_ML_AUDIT_KEY"
#: File name of a run's anchor in its output folder.
ANCHOR_FILE = "audit_anchor.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def audit_key(env: str = KEY_ENV) -> bytes | None:
    """The audit HMAC key from the environment, or None when unset or empty."""
    value = os.environ.get(env, "")
    return value.encode() if value else None


def entry_mac(key: bytes, entry_hash: str) -> str:
    """HMAC-SHA256 of an entry's hash under ``key`` (hex)."""
    return hmac.new(key, entry_hash.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """One entry of an audit log, remembered outside it.

    Args:
        seq: the entry's 0-based ``seq``, or None when only the hash is known.
        hash: the entry's ``hash``.
        log: the log's path when the anchor was written (informative only).
        mac: HMAC-SHA256(key, ``"seq:hash"``) when a key was configured.
    """

    seq: int | None
    hash: str
    log: str | None = None
    mac: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.hash, str) or not _HEX64.match(self.hash):
            raise ValueError(f"anchor hash must be 64 lowercase hex digits, got {self.hash!r}")
        if self.seq is not None and (not isinstance(self.seq, int) or self.seq < 0):
            raise ValueError(f"anchor seq must be a non-negative int or None, got {self.seq!r}")

    def expected_mac(self, key: bytes) -> str:
        """The mac this anchor should carry under ``key``."""
        return hmac.new(key, f"{self.seq}:{self.hash}".encode(), hashlib.sha256).hexdigest()

    def signed(self, key: bytes | None) -> Anchor:
        """This anchor with its mac under ``key`` (unchanged when ``key`` is None)."""
        return self if key is None else Anchor(self.seq, self.hash, self.log, self.expected_mac(key))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, value: str | os.PathLike) -> Anchor:
        """An anchor from a file written by :func:`write_anchor`, a ``SEQ:HASH`` string or a bare hash.

        Raises:
            ValueError: naming what was given when it is none of these.
        """
        text = str(value).strip()
        if Path(text).is_file():
            obj = json.loads(Path(text).read_text())
            if not isinstance(obj, dict) or "hash" not in obj:
                raise ValueError(f"anchor file {text}: expected a JSON object with 'hash' (and 'seq')")
            return cls(obj.get("seq"), obj["hash"], obj.get("log"), obj.get("mac"))
        seq, _, digest = text.rpartition(":")
        if seq and seq.isdigit():
            return cls(int(seq), digest.lower())
        if _HEX64.match(text.lower()):
            return cls(None, text.lower())
        raise ValueError(f"anchor: {text!r} is neither an anchor file, SEQ:HASH nor a 64-digit hex hash")


def write_anchor(path: str | os.PathLike, anchor: Anchor) -> Path:
    """Write ``anchor`` as JSON to ``path`` atomically (temporary file + ``os.replace``)."""
    return atomic_write_json(path, anchor.to_dict(), mode=0o644)
