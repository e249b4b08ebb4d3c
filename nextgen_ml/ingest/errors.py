"""The one error type readers raise for a file that cannot be ingested (it is quarantined, not fatal)."""

from __future__ import annotations

import os


class IngestError(ValueError):
    """A source file is corrupt, truncated, unsupported or inconsistent.

    Args:
        path: the source file.
        field: the tag, field or lead at fault (``"<file>"`` when the file as a whole is unreadable).
        reason: what is wrong, in words.
    """

    def __init__(self, path: str | os.PathLike, field: str, reason: str) -> None:
        self.path, self.field, self.reason = str(path), field, reason
        super().__init__(f"{self.path}: {field}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        """Pickle with the three arguments (errors travel back from worker processes)."""
        return (type(self), (self.path, self.field, self.reason))
