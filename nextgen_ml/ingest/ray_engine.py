"""The worker-per-file design on Ray (``--workers N --engine ray``): each file is one Ray task.

The task is the pool's: :func:`~nextgen_ml.ingest.workers.decode_file` (a reader, a source file, the picklable
context → converted columns or a :class:`~nextgen_ml.ingest.failure.Failure`). Ray runs it in its worker
processes: a local instance of ``workers`` CPUs, or the cluster that ``RAY_ADDRESS`` names (the files must then
be readable at the same paths on every node: a shared file system). Tasks are never retried (a file that killed
one worker would kill the next); a worker that dies costs only its file (``WorkerCrashedError``), a file that
takes longer than ``file_timeout_s`` is cancelled and quarantined. Outcomes come back in manifest order, and
records are built and written in the driver, so the store and the report are the same as with the pool.
``worker_memory_mb`` is not applied to Ray workers (Ray's own memory monitor kills a worker that exhausts the
node's memory, which then costs only its file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from nextgen_ml.ingest.failure import Failure, failure_from
from nextgen_ml.ingest.manifest import SourceFile
from nextgen_ml.ingest.readers import ReadContext, Reader
from nextgen_ml.ingest.workers import Outcome, call_isolated, decode_file


class RayDecoder:
    """Decodes every file as a Ray task; a crash, a kill or a timeout costs only its file.

    Args:
        ctx: reader context (put in Ray's object store once).
        base: the manifest folder (for path-free failure messages).
        workers: CPUs of the local Ray instance started here (ignored when ``RAY_ADDRESS`` names a cluster).
    """

    def __init__(self, ctx: ReadContext, base: str, workers: int) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError(
                "options.engine: 'ray' needs the ray package (pip install 'nextgen_ml[federated]' or ray)"
            ) from None

        self.ctx, self.base, self.timeout = ctx, base, ctx.options.file_timeout_s
        self._started = not ray.is_initialized()
        if self._started:
            package_root = str(Path(__file__).resolve().parents[2])  # workers import nextgen_ml from here too
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
            local = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers, "include_dashboard": False}
            ray.init(
                **local,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
            )
        self._ctx_ref = ray.put(ctx)
        self._decode = ray.remote(max_retries=0)(decode_file)
        self._call = ray.remote(max_retries=0)(call_isolated)

    def map(self, tasks: Sequence[tuple[Reader, SourceFile]]) -> Iterator[Outcome]:
        """Submit every ``(reader, source)`` now; yields one outcome per task, in order."""
        refs = [self._decode.remote(reader, src, self._ctx_ref, self.base) for reader, src in tasks]
        return (self._outcome(ref, self.timeout) for ref in refs)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` as a Ray task (cohort files: no per-file timeout), or a :class:`Failure`."""
        return self._outcome(self._call.remote(fn, *args, base=self.base), None)

    def _outcome(self, ref: Any, timeout: float | None) -> Outcome:
        import ray
        from ray.exceptions import GetTimeoutError, RayTaskError, WorkerCrashedError

        try:
            return ray.get(ref, timeout=timeout)
        except GetTimeoutError:
            ray.cancel(ref, force=True)
            return Failure("<file>", f"decoding took longer than file_timeout_s ({timeout} s)", "TimeoutError")
        except WorkerCrashedError:
            reason = "decoder process died (Ray worker crashed); only this file is lost"
            return Failure("<file>", reason, "WorkerCrashedError")
        except RayTaskError as err:  # e.g. a result that cannot be serialised back
            return failure_from(err.as_instanceof_cause(), self.base)
        except Exception as err:  # noqa: BLE001 - any other Ray failure (a lost node) costs only this file
            return failure_from(err, self.base)

    def close(self) -> None:
        """Shut down the local Ray instance this decoder started (a cluster it joined is left running)."""
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()
