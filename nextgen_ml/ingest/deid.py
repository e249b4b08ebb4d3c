"""De-identification: keyed pseudonyms for patient ids and DICOM UIDs, file hashes, note scrubbing.

Direct identifiers never enter the record: patient ids and DICOM UIDs are replaced by HMAC-SHA256 pseudonyms
under a secret key, dates are reduced to the year, and only an allow-list of metadata is kept (see
:mod:`nextgen_ml.ingest.provenance`). The same key and source id always give the same pseudonym, so re-runs and
linkage across modalities are stable; without the key the mapping cannot be reversed or recomputed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from pathlib import Path

#: Environment variable holding the pseudonymisation key when the manifest does not name another one.
KEY_ENV = "NEXTGEN_ML_INGEST_KEY"
_MIN_KEY_CHARS = 16


def resolve_key(key_env: str | None = None) -> bytes:
    """The pseudonymisation key from the environment variable ``key_env`` (default :data:`KEY_ENV`).

    Raises:
        ValueError: the variable is unset or shorter than 16 characters (ingest refuses to run).
    """
    name = key_env or KEY_ENV
    key = os.environ.get(name, "")
    if len(key) < _MIN_KEY_CHARS:
        raise ValueError(
            f"deid.key_env: environment variable {name} must hold a secret of at least {_MIN_KEY_CHARS} "
            "characters; ingest refuses to pseudonymise patient ids without a key"
        )
    return key.encode()


class Pseudonymiser:
    """Keyed, deterministic pseudonyms (HMAC-SHA256).

    Args:
        key: secret key bytes (see :func:`resolve_key`).
        n_hex: hex characters kept from the digest (32 = 128 bits).
    """

    def __init__(self, key: bytes, n_hex: int = 32) -> None:
        if not key:
            raise ValueError("key: an empty pseudonymisation key is not allowed")
        self._key, self.n_hex = key, n_hex

    def _digest(self, domain: str, value: str) -> str:
        return hmac.new(self._key, f"{domain}\x1f{value}".encode(), hashlib.sha256).hexdigest()[: self.n_hex]

    def patient_id(self, site: str, source_id: str) -> str:
        """Pseudonym of a hospital patient id, scoped to its site."""
        return "p" + self._digest(f"patient:{site}", str(source_id))

    def uid(self, uid: str | None) -> str | None:
        """Pseudonym of a DICOM UID (study/series/SOP instance), ``None`` stays ``None``."""
        return None if uid in (None, "") else "u" + self._digest("uid", str(uid))


def sha256_files(paths: Iterable[str | os.PathLike], chunk: int = 1 << 20) -> str:
    """SHA-256 of the concatenated bytes of ``paths`` (one file, or e.g. a WFDB header and its data)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def year_of(date: str | None) -> int | None:
    """Year of a DICOM (``YYYYMMDD``) or ISO (``YYYY-MM-DD...``) date; ``None`` if absent or unparsable."""
    match = re.match(r"\s*(\d{4})", str(date or ""))
    return int(match.group(1)) if match else None


_DATE_PATTERNS = (
    re.compile(r"\b(\d{4})-\d{2}-\d{2}(?:[T ][0-9:.+\-Z]*)?\b"),  # ISO date / datetime → year
    re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.](\d{4})\b"),  # DD/MM/YYYY, MM.DD.YYYY → year
)


def scrub_text(text: str, names: Iterable[str] = ()) -> str:
    """Remove the patient's known name parts and reduce full dates to the year in a clinical note.

    This is a safety net for the identifiers ingest knows about, not a general free-text de-identifier.

    Args:
        text: the note.
        names: name parts (given, family) of the patient from the source record.
    """
    for pattern in _DATE_PATTERNS:
        text = pattern.sub(lambda m: m.group(1), text)
    for name in sorted({n for n in names if n and len(n) > 1}, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", "[NAME]", text, flags=re.IGNORECASE)
    return text


def path_uri(path: str | os.PathLike) -> str:
    """The source path as recorded in provenance (relative paths are kept relative to the manifest)."""
    return Path(path).as_posix()
