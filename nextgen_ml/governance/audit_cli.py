"""``nextgen-ml audit``: verify an audit log against anchors, or move a torn last line aside."""

from __future__ import annotations

import argparse
from pathlib import Path

from nextgen_ml.governance.anchor import KEY_ENV, Anchor, audit_key
from nextgen_ml.governance.audit import AuditChainError, AuditLog

HELP = "Verify a hash-chained audit log (with run anchors and the HMAC key) or repair a torn last line."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="check the chain, macs and anchors; exit 1 when anything is wrong")
    verify.add_argument("log", help="the audit .jsonl file")
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="HASH_OR_FILE",
        help="a run's audit_anchor.json, SEQ:HASH or a hash the chain must pass through (repeatable)",
    )
    verify.add_argument("--head", action="store_true", help="the last --anchor must be the log's last entry")
    verify.add_argument(
        "--key-env", default=KEY_ENV, help=f"environment variable holding the HMAC key (default {KEY_ENV})"
    )
    repair = sub.add_parser("repair", help="move an incomplete (torn) last line aside and record that")
    repair.add_argument("log", help="the audit .jsonl file")


def unfinished_runs(log: AuditLog) -> list[str]:
    """``run_id`` of every run with a start entry and no end entry (killed or still running)."""
    started: dict[str, None] = {}
    for entry in log.entries():
        run = (entry.get("details") or {}).get("run_id")
        if run is None:
            continue
        if entry.get("phase") == "start":
            started[run] = None
        elif entry.get("phase") == "end":
            started.pop(run, None)
    return list(started)


def run(args: argparse.Namespace) -> int:
    if args.action == "repair":
        saved = AuditLog(args.log, key=b"").repair_torn()
        print(f"moved the torn last line to {saved}" if saved else "the last line is complete; nothing to repair")
        return 0
    if not Path(args.log).is_file():  # verifying nothing is not "ok"
        raise FileNotFoundError(f"LOG: no audit log at {args.log} (give the steward's audit.jsonl)")
    key = audit_key(args.key_env)
    log = AuditLog(args.log, key=key or b"")
    try:
        anchors = [Anchor.parse(a) for a in args.anchor]
        n = log.verify(anchors=anchors, head=args.head)
    except (AuditChainError, ValueError) as err:
        print(f"FAILED: {err}")
        return 1
    macs = "macs verified" if key else f"no key in ${args.key_env}: macs not checked"
    print(f"ok: {n} entries; {len(anchors)} anchor(s) on the chain; {macs}")
    for run_id in unfinished_runs(log):
        print(f"note: run {run_id} has a start entry and no end entry (killed or still running)")
    return 0
