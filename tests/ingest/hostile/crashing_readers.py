"""Readers that misbehave on purpose, for the worker-pool tests (module level: worker processes import them).

A file whose name contains ``kill`` makes the decoder kill its own process with SIGKILL mid-file, ``segv``
dereferences a null pointer, ``hog`` allocates far more memory than the worker may use, ``sleep`` hangs,
``recurse`` recurses without end and ``keyerror`` raises a library-style ``KeyError``; every other file is read
by the real reader.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

import numpy as np

from nextgen_ml.ingest.manifest import SourceFile
from nextgen_ml.ingest.provenance import Converted
from nextgen_ml.ingest.readers import READERS, ReadContext


def misbehaving_wfdb(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    """The WFDB reader, except for files named to crash, hog memory or hang."""
    name = src.path.name
    if "kill" in name:
        os.kill(os.getpid(), signal.SIGKILL)
    if "segv" in name:
        ctypes.string_at(0)
    if "hog" in name:
        hog = np.ones(1 << 33, dtype=np.uint8)  # 8 GiB: beyond worker_memory_mb
        return [Converted("ecg", {"n": int(hog[0])}, "wfdb", src.raw_path, "", {})]
    if "sleep" in name:
        time.sleep(60)
    if "recurse" in name:
        return misbehaving_wfdb(src, ctx)
    if "keyerror" in name:
        raise KeyError("R4.SpaceshipType")
    return READERS["wfdb"](src, ctx)


def segfaulting_vcf(*args: object) -> None:
    """Stands in for ``read_vcf_dosages``: htslib crashing on a corrupt cohort VCF."""
    ctypes.string_at(0)
