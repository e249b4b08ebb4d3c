"""Decoding files in isolation: in the main process, or in a pool of worker processes (``--workers N``).

Every call returns either its result or a :class:`~nextgen_ml.ingest.failure.Failure`; nothing a decoder does
aborts the run. With workers (``pebble.ProcessPool``), a decoder that segfaults, is killed by a signal, runs out
of memory (``worker_memory_mb``) or exceeds ``file_timeout_s`` costs only its own file: pebble replaces the
dead worker and the other files go on. The same task function (:func:`decode_file`: a reader, a source file,
a picklable context, in → converted columns or a failure, out) is what a distributed engine would run; see
docs/ingest.md for Ray and Dask.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from nextgen_ml.ingest.failure import Failure, failure_from
from nextgen_ml.ingest.limits import check_file_size
from nextgen_ml.ingest.manifest import SourceFile
from nextgen_ml.ingest.paths import is_inside
from nextgen_ml.ingest.provenance import Converted
from nextgen_ml.ingest.readers import ReadContext, Reader

#: What decoding one file gives: its converted columns, or why it failed.
Outcome = list[Converted] | Failure


def decode_file(reader: Reader, src: SourceFile, ctx: ReadContext, base: str) -> Outcome:
    """Read one source file; any exception becomes a :class:`Failure` (runs in the main process or a worker)."""
    try:
        if not ctx.options.allow_outside_paths and not is_inside(src.path, base):  # swapped since the manifest check
            return Failure("<file>", "the file now resolves outside the manifest folder (a link?)", "PathError")
        check_file_size(src.path, ctx.options)
        return reader(src, ctx)
    except Exception as err:  # noqa: BLE001 - every failure of one file is that file's quarantine entry
        return failure_from(err, base)


def call_isolated(fn: Callable[..., Any], *args: Any, base: str, field: str = "<file>") -> Any:
    """``fn(*args)``, or a :class:`Failure` for any exception (cohort-level sources: CSV, VCF)."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - a cohort file's failure is reported for each patient using it
        return failure_from(err, base, field)


def _limit_memory(megabytes: int | None) -> None:
    """Worker initializer: cap the address space, so a memory blow-up is a ``MemoryError`` in that worker."""
    if megabytes:
        import resource

        limit = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class InlineDecoder:
    """Decodes in the main process (``workers: 0``): exceptions are isolated, crashes are not."""

    def __init__(self, ctx: ReadContext, base: str) -> None:
        self.ctx, self.base = ctx, base

    def map(self, tasks: Sequence[tuple[Reader, SourceFile]]) -> Iterator[Outcome]:
        """Decode every ``(reader, source)`` lazily; one outcome per task, in order."""
        return (decode_file(reader, src, self.ctx, self.base) for reader, src in tasks)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the main process, or a :class:`Failure` for any exception."""
        return call_isolated(fn, *args, base=self.base)

    def close(self) -> None:
        """Nothing to release."""


class PoolDecoder:
    """Decodes in ``workers`` processes (pebble); a crash, a kill or a timeout costs only its file.

    Args:
        ctx: reader context (options and pseudonymiser; pickled to the workers).
        base: the manifest folder (for path-free failure messages).
        workers: number of worker processes.
    """

    def __init__(self, ctx: ReadContext, base: str, workers: int) -> None:
        from pebble import ProcessPool

        self.ctx, self.base = ctx, base
        self.timeout = ctx.options.file_timeout_s
        self.pool = ProcessPool(
            max_workers=workers, initializer=_limit_memory, initargs=(ctx.options.worker_memory_mb,)
        )

    def map(self, tasks: Sequence[tuple[Reader, SourceFile]]) -> Iterator[Outcome]:
        """Schedule every ``(reader, source)`` in the pool now; yields one outcome per task, in order."""
        futures = [
            self.pool.schedule(decode_file, args=(reader, src, self.ctx, self.base), timeout=self.timeout)
            for reader, src in tasks
        ]
        return (self._outcome(future) for future in futures)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker (cohort files: no per-file timeout), or a :class:`Failure`."""
        future = self.pool.schedule(call_isolated, args=(fn, *args), kwargs={"base": self.base})
        return self._outcome(future)

    def _outcome(self, future: Any) -> Outcome:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return Failure("<file>", f"decoding took longer than file_timeout_s ({self.timeout} s)", "TimeoutError")
        except ProcessExpired as err:
            return Failure(
                "<file>", f"decoder process died ({_death(err.exitcode)}); only this file is lost", "ProcessExpired"
            )
        except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be pickled back
            return failure_from(err, self.base)

    def close(self) -> None:
        """Stop the workers, also those still decoding (after ``--strict`` stopped the run, or an interrupt)."""
        self.pool.stop()
        self.pool.join()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def make_decoder(ctx: ReadContext, base: str | os.PathLike) -> Any:
    """The decoder for ``ctx.options.workers`` (0 = in the main process) and ``ctx.options.engine``."""
    workers = ctx.options.workers
    if workers <= 0:
        return InlineDecoder(ctx, str(base))
    if ctx.options.engine == "ray":
        from nextgen_ml.ingest.ray_engine import RayDecoder

        return RayDecoder(ctx, str(base), workers)
    return PoolDecoder(ctx, str(base), workers)
