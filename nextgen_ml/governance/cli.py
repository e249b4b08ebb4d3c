"""``nextgen-ml discover``: aggregate cohort discovery across site stores (or serve one over HTTP)."""

from __future__ import annotations

import argparse

from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, CohortQuery, FederatedAnswer, discover

HELP = "Count matching patients across site stores with small-count suppression, rounding, budgets and audit."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", nargs="+", required=True, help="one store directory per site")
    parser.add_argument("--requester", required=True, help="who asks (charged and audited at every site)")
    parser.add_argument("--modalities", nargs="*", default=[], help="modalities that must all be present")
    parser.add_argument("--age-min", type=float, default=None)
    parser.add_argument("--age-max", type=float, default=None)
    parser.add_argument("--sex", choices=["female", "male"], default=None)
    parser.add_argument("--diagnoses", nargs="*", default=[], help="label names or MONDO CURIEs (any of)")
    parser.add_argument("--variant", default=None, help="panel variant id carried (dosage >= 1)")
    parser.add_argument("--granularity", choices=["count", "boolean"], default="count")
    parser.add_argument("--k", type=int, default=5, help="suppress counts below k")
    parser.add_argument("--round-to", type=int, default=5, help="round released counts to this unit")
    parser.add_argument("--max-queries", type=int, default=100, help="per-requester budget per catalog")
    parser.add_argument("--serve", type=int, default=None, metavar="PORT",
                        help="serve the (single) store's catalog on 127.0.0.1:PORT instead of querying")


def format_table(answer: FederatedAnswer) -> str:
    """Per-site table plus the aggregate line."""
    rows = [("site", "answer", "suppressed")] + [
        (s.site, s.display(), "yes" if s.suppressed else "no") for s in answer.sites
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    total = "yes" if answer.exists else "not released"
    if answer.total is not None:
        total = str(answer.total)
    lines.append(f"total (released sites): {total}; sites suppressed: {answer.n_suppressed} of {len(answer.sites)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    catalogs = [Catalog(p, k=args.k, round_to=args.round_to, max_queries=args.max_queries) for p in args.stores]
    if args.serve is not None:
        if len(catalogs) != 1:
            raise SystemExit("--serve takes exactly one store in --stores")
        import uvicorn

        from nextgen_ml.governance.server import create_app

        uvicorn.run(create_app(catalogs[0]), host="127.0.0.1", port=args.serve)
        return 0
    query = CohortQuery(
        modalities=tuple(args.modalities), age_min=args.age_min, age_max=args.age_max, sex=args.sex,
        diagnoses=tuple(args.diagnoses), variant=args.variant, granularity=args.granularity,
    )
    try:
        answer = discover(query, catalogs, args.requester)
    except QueryBudgetExceeded as err:
        print(f"error: {err}")
        return 3
    print(format_table(answer))
    return 0
