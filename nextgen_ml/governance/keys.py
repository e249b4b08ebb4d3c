"""API keys for discovery: issued by the steward, stored only as salted scrypt hashes, bound to one identity.

A token looks like ``ngd_<key id>_<secret>``. The key file (``<store>/_governance/keys.json``) holds, per key
id, the identity, a random salt and ``scrypt(secret, salt)``; the secret itself is printed once at issue and
never stored. Identities are plain lowercase ids (:data:`IDENTITY_PATTERN`), so ``EVE``, ``eve `` or a name
with a zero-width space are refused rather than becoming new budgets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from nextgen_ml.governance.files import atomic_write_json, locked, read_json
from nextgen_ml.governance.policy import GOVERNANCE_DIR

KEYS_FILE = "keys.json"
#: What an identity may look like: lowercase letters, digits and ``._@-``, 1–64 characters.
IDENTITY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_TOKEN = re.compile(r"^ngd_([0-9a-f]{12})_([A-Za-z0-9_-]{20,128})$")
#: scrypt cost parameters (about 16 MiB and tens of milliseconds per check).
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AuthenticationError(PermissionError):
    """A token is missing, malformed, unknown or revoked."""


def check_identity(identity: str) -> str:
    """Return ``identity`` if it is a valid id, else raise ValueError naming it."""
    if not isinstance(identity, str) or not IDENTITY_PATTERN.match(identity):
        raise ValueError(
            f"identity {identity!r} is not a plain id: use 1-64 lowercase letters, digits or '._@-' "
            "(no spaces, upper case or invisible characters)"
        )
    return identity


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32).hex()


class KeyStore:
    """The site's API keys.

    Args:
        path: the ``keys.json`` file (created on first issue, owner-only permissions).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._verified: dict[str, str] = {}  # sha256(token) -> identity, for this process only

    @classmethod
    def for_store(cls, store_path: str | os.PathLike) -> KeyStore:
        """``<store>/_governance/keys.json``."""
        return cls(Path(store_path) / GOVERNANCE_DIR / KEYS_FILE)

    def issue(self, identity: str) -> str:
        """Create a key for ``identity`` and return its token (shown once; only its hash is stored)."""
        check_identity(identity)
        key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
        with locked(self.path):
            state = read_json(self.path, {"keys": {}})
            state["keys"][key_id] = {
                "identity": identity,
                "salt": salt.hex(),
                "scrypt": _scrypt(secret, salt, **SCRYPT),
                **SCRYPT,
                "issued": dt.datetime.now(dt.timezone.utc).isoformat(),
            }
            atomic_write_json(self.path, state)
        return f"ngd_{key_id}_{secret}"

    def revoke(self, identity: str) -> int:
        """Remove every key of ``identity``; returns how many were removed (its budget is kept)."""
        with locked(self.path):
            state = read_json(self.path, {"keys": {}})
            keep = {k: v for k, v in state["keys"].items() if v["identity"] != identity}
            removed = len(state["keys"]) - len(keep)
            atomic_write_json(self.path, {"keys": keep})
        self._verified.clear()
        return removed

    def authenticate(self, token: str | None) -> str:
        """The identity a token belongs to.

        Raises:
            AuthenticationError: missing, malformed, unknown or revoked token (the message never echoes it).
        """
        match = _TOKEN.match(token or "")
        if match is None:
            raise AuthenticationError("missing or malformed API key")
        key_id, secret = match.groups()
        record = read_json(self.path, {"keys": {}})["keys"].get(key_id)
        digest = hashlib.sha256(token.encode()).hexdigest()
        if record is None:
            self._verified.pop(digest, None)
            raise AuthenticationError("unknown or revoked API key")
        if self._verified.get(digest) == record["identity"]:
            return record["identity"]
        salt = bytes.fromhex(record["salt"])
        computed = _scrypt(secret, salt, record["n"], record["r"], record["p"])
        if not hmac.compare_digest(computed, record["scrypt"]):
            raise AuthenticationError("unknown or revoked API key")
        self._verified[digest] = record["identity"]
        return record["identity"]
