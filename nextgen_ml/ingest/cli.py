"""``nextgen-ml ingest MANIFEST --out DIR``: convert hospital files listed in a manifest into a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Ingest DICOM / DICOM-ECG / WFDB / NIfTI / VCF / FHIR / CSV files listed in a YAML manifest into a store."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``nextgen-ml ingest``."""
    parser.add_argument("manifest", help="YAML manifest (see docs/ingest.md)")
    parser.add_argument("--out", required=True, help="store folder (an existing store there is replaced)")
    parser.add_argument("--ecg-fs-hz", type=float, default=None, help="ECG sampling rate of the record (500)")
    parser.add_argument(
        "--image-spacing",
        type=float,
        nargs="+",
        default=None,
        metavar="MM",
        help="resample images to this spacing (trailing axes)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="center-crop/pad images to this size (trailing axes)",
    )
    parser.add_argument("--format", choices=("ipc", "parquet"), default=None, help="store format (ipc)")
    parser.add_argument("--chunk-size", type=int, default=None, help="patients per store write (64)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=None, help="decode files in N worker processes (0: in-process)")
    parser.add_argument(
        "--engine", choices=("pool", "ray"), default=None, help="what runs the workers: local processes or Ray tasks"
    )
    parser.add_argument(
        "--strict", action="store_true", help="stop at the first quarantined file or patient (exit status 1)"
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the records to the existing store at --out (same data dictionary) instead of replacing it",
    )
    parser.add_argument(
        "--audit-log", default=None,
        help="hash-chained audit log for the start and end entries (default: audit.jsonl next to --out)",
    )
    parser.add_argument(
        "--traceback", "--debug", action="store_true", dest="traceback", help="show the traceback of an error"
    )


def run(args: argparse.Namespace) -> int:
    """Run the ingest; prints the summary table; returns the exit status."""
    from nextgen_ml.ingest.audit import default_log, ingest_end, ingest_start
    from nextgen_ml.ingest.manifest import load_manifest
    from nextgen_ml.ingest.pipeline import ingest, with_options
    from nextgen_ml.ingest.report import REPORT_FILE, QuarantineAbort

    try:
        manifest = load_manifest(args.manifest)
        options = with_options(
            manifest,
            ecg_fs_hz=args.ecg_fs_hz,
            image_target_spacing_mm=None if args.image_spacing is None else tuple(args.image_spacing),
            image_size=None if args.image_size is None else tuple(args.image_size),
            store_format=args.format,
            chunk_size=args.chunk_size,
            workers=args.workers,
            engine=args.engine,
        )
        audit_log = Path(args.audit_log) if args.audit_log else default_log(args.out)
        start = ingest_start(audit_log, manifest, args.out, args.append)  # a broken log stops before any read
        report = ingest(
            manifest,
            args.out,
            options=options,
            progress=not args.no_progress,
            strict=args.strict,
            append=args.append,
        )
    except QuarantineAbort as err:
        if args.traceback:
            raise
        print(f"nextgen-ml ingest: {err}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as err:
        if args.traceback:
            raise
        print(f"nextgen-ml ingest: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line for the user; --traceback for the developer
        if args.traceback:
            raise
        print(f"nextgen-ml ingest: {type(err).__name__}: {err} (run with --traceback for details)", file=sys.stderr)
        return 3
    ingest_end(audit_log, start, report)
    print(report.summary())
    print(f"report: {args.out}/{REPORT_FILE}")
    print(f"audit: {audit_log} (start and end entries)")
    counts = report.counts()
    return 1 if args.strict and (counts["files_quarantined"] or counts["patients_quarantined"]) else 0
