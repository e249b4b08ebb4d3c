"""What a reader hands back: a record column value plus its provenance entry (format, uri, sha256, metadata)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Converted:
    """One source file converted into a record column.

    Args:
        column: record column filled (``ecg``, ``image``, ``text``, ``tabular``, ``genotype``).
        value: the column value (a struct dict from :mod:`nextgen_ml.data.codec`, a string or a dict).
        format: source format name.
        uri: source path as given in the manifest.
        sha256: hash of the source bytes.
        metadata: key original metadata, already de-identified (JSON-serialisable).
    """

    column: str
    value: Any
    format: str
    uri: str
    sha256: str
    metadata: dict[str, Any]

    def provenance(self) -> dict[str, Any]:
        """The ``provenance`` list entry of the record for this source."""
        return {
            "modality": self.column,
            "format": self.format,
            "uri": self.uri,
            "sha256": self.sha256,
            "metadata": json.dumps(self.metadata, sort_keys=True, default=str),
        }
