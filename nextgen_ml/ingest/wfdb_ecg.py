"""WFDB records (PhysioNet ``.hea`` + signal files, e.g. PTB-XL) → ``ecg`` via the ``wfdb`` package."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nextgen_ml.data.codec import encode_ecg
from nextgen_ml.ingest.deid import Pseudonymiser, sha256_files
from nextgen_ml.ingest.ecg_leads import standard_lead_name, standardise_ecg, to_microvolts
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.limits import check_ecg_claim
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.plausibility import check_ecg_amplitude, check_wfdb_length
from nextgen_ml.ingest.provenance import Converted


def record_base(path: str | os.PathLike) -> Path:
    """The WFDB record path without extension (``rec.hea`` → ``rec``)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".hea", ".dat", ".mat") else path


def read_wfdb_ecg(
    path: str | os.PathLike,
    options: IngestOptions,
    pseudo: Pseudonymiser,
    uri: str = "",
) -> Converted:
    """Convert a WFDB record into the record's ``ecg`` column (12 standard leads, µV, ``options.ecg_fs_hz``).

    Args:
        path: the ``.hea`` header (or the record path without extension).
        options: target sampling rate.
        pseudo: unused for WFDB (no UIDs); kept for a uniform reader signature.
        uri: path to record in provenance.
    """
    import wfdb

    del pseudo
    base = record_base(path)
    header = base.with_suffix(".hea")
    if not header.is_file():
        raise IngestError(header, "<file>", "WFDB header not found")
    try:
        head = wfdb.rdheader(str(base))
        check_ecg_claim(header, float(head.fs or 0), int(head.sig_len or 0), options)
        check_wfdb_length(head, base)
        record = wfdb.rdrecord(str(base), physical=True)
    except (ValueError, OSError, EOFError, IndexError, TypeError, AttributeError, KeyError) as err:
        if isinstance(err, IngestError):
            raise
        raise IngestError(header, "<file>", f"unreadable WFDB record ({type(err).__name__}: {err})") from None
    signal = record.p_signal
    if signal is None or signal.ndim != 2 or signal.shape[1] != len(record.sig_name or []):
        raise IngestError(header, "p_signal", "signal shape disagrees with the header's signal list")
    try:
        channels = [to_microvolts(signal[:, k], unit or "mV") for k, unit in enumerate(record.units)]
    except ValueError as err:
        raise IngestError(header, "units", str(err)) from None
    check_ecg_amplitude(np.stack(channels), ",".join(sorted({u or "mV" for u in record.units})), header, options)
    names = [standard_lead_name(n) for n in record.sig_name]
    twelve, derived = standardise_ecg(np.stack(channels), names, float(record.fs), options.ecg_fs_hz, str(header))
    files = [header] + sorted({base.parent / f for f in (record.file_name or [])})
    meta = {
        "record_name": record.record_name,
        "source_fs_hz": float(record.fs),
        "source_channels": list(record.sig_name),
        "units": list(record.units),
        "derived_leads": derived,
        "ignored_channels": [n for n, s in zip(record.sig_name, names) if s is None],
    }
    ecg = encode_ecg(twelve, options.ecg_fs_hz)
    return Converted("ecg", ecg, "wfdb", uri or str(header), sha256_files(files), meta)
