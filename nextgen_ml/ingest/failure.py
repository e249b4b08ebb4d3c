"""Any exception while reading a file or building a patient, as a quarantine entry (never an aborted run).

Readers raise :class:`~nextgen_ml.ingest.errors.IngestError` for the problems they expect; everything else
(a library's ``KeyError``, ``RecursionError``, ``MemoryError``, a worker process that died) is turned into a
:class:`Failure` here, with the exception type, its message (absolute paths removed) and the field at fault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.paths import redact_paths

_MAX_REASON = 500


@dataclass(frozen=True)
class Failure:
    """Why a file (or a patient) could not be ingested; picklable, so it travels back from worker processes.

    Args:
        field: tag, field or lead at fault (``"<file>"`` when the file as a whole failed).
        reason: what went wrong, in words, without absolute paths.
        error_type: the exception class (``"IngestError"``, ``"KeyError"``, ``"ProcessExpired"``...).
    """

    field: str
    reason: str
    error_type: str = "IngestError"


def failure_from(err: BaseException, base: str | os.PathLike | None = None, field: str = "<file>") -> Failure:
    """The quarantine entry for ``err``.

    Args:
        err: the exception raised while reading a file or building a patient.
        base: the manifest folder; paths under it are made relative, other absolute paths are cut to a name.
        field: field to report when ``err`` does not name one.
    """
    if isinstance(err, IngestError):
        return Failure(err.field, _clean(err.reason, base), "IngestError")
    if isinstance(err, RecursionError):
        message = "input nested too deeply to process"
    elif isinstance(err, MemoryError):
        message = "out of memory while decoding (raise worker_memory_mb or lower the input's size)"
    else:
        message = str(err) or repr(err)
    return Failure(field, f"{type(err).__name__}: {_clean(message, base)}", type(err).__name__)


def _clean(text: str, base: str | os.PathLike | None) -> str:
    text = redact_paths(text, base)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
