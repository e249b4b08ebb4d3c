"""``nextgen-ml discover``: differentially private cohort counts across site stores, or a site's steward tasks.

The protection (noise ε, budget, k, rounding, age bins) is each site's policy file
(``<store>/_governance/policy.yaml``), never a flag of this command. Querying needs direct access to the
stores, so it is the steward's (or a trusted local user's) tool; remote queriers use the HTTP server
(``--serve``) with an API key (``--issue-key``).
"""

from __future__ import annotations

import argparse

from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, FederatedAnswer, discover
from nextgen_ml.governance.keys import KeyStore, check_identity
from nextgen_ml.governance.policy import DEFAULT_POLICY, policy_path, write_policy
from nextgen_ml.governance.query import CohortQuery

HELP = "Cohort counts across site stores with differential privacy under each site's policy (or serve one)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", nargs="+", required=True, help="one store directory per site")
    parser.add_argument("--requester", help="identity charged and audited at every site (plain lowercase id)")
    parser.add_argument("--modalities", nargs="*", default=[], help="modalities that must all be present")
    parser.add_argument("--age-min", type=float, default=None)
    parser.add_argument("--age-max", type=float, default=None)
    parser.add_argument("--sex", choices=["female", "male"], default=None)
    parser.add_argument("--diagnoses", nargs="*", default=[], help="label names or MONDO CURIEs (any of)")
    parser.add_argument("--variant", default=None, help="panel variant id carried (dosage >= 1)")
    parser.add_argument("--granularity", choices=["count", "boolean"], default="count")
    steward = parser.add_argument_group("steward tasks (one store)")
    steward.add_argument("--serve", type=int, default=None, metavar="PORT", help="serve the store's catalog")
    steward.add_argument("--host", default="127.0.0.1", help="interface to serve on (default 127.0.0.1)")
    steward.add_argument("--issue-key", metavar="IDENTITY", help="issue an API key (printed once) for IDENTITY")
    steward.add_argument("--revoke-key", metavar="IDENTITY", help="revoke every API key of IDENTITY")
    steward.add_argument("--init-policy", action="store_true", help="write the default policy file if absent")


def format_table(answer: FederatedAnswer) -> str:
    """Per-site table plus the aggregate line."""
    rows = [("site", "answer", "suppressed", "epsilon")] + [
        (s.site, s.display(), "yes" if s.suppressed else "no", f"{s.epsilon:g}" + (" (repeat)" if s.cached else ""))
        for s in answer.sites
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    total = "yes" if answer.exists else "not released"
    if answer.total is not None:
        total = str(answer.total)
    lines.append(f"total (released sites): {total}; sites suppressed: {answer.n_suppressed} of {len(answer.sites)}")
    return "\n".join(lines)


def _steward(args: argparse.Namespace) -> int | None:
    """Run a steward task when one was asked for; None otherwise."""
    tasks = [args.serve is not None, bool(args.issue_key), bool(args.revoke_key), args.init_policy]
    if not any(tasks):
        return None
    if len(args.stores) != 1 or sum(tasks) != 1:
        raise SystemExit("steward tasks take exactly one store in --stores and one task at a time")
    store = args.stores[0]
    if args.issue_key:
        token = KeyStore.for_store(store).issue(check_identity(args.issue_key))
        print(f"API key for {args.issue_key} (shown once; only its hash is stored):\n{token}")
    elif args.revoke_key:
        print(f"revoked {KeyStore.for_store(store).revoke(args.revoke_key)} key(s) of {args.revoke_key}")
    elif args.init_policy:
        path = policy_path(store)
        print(f"policy exists, left as is: {path}" if path.exists() else f"wrote {write_policy(store, DEFAULT_POLICY)}")
    else:
        import uvicorn

        from nextgen_ml.governance.server import create_app

        uvicorn.run(create_app(Catalog(store)), host=args.host, port=args.serve)
    return 0


def run(args: argparse.Namespace) -> int:
    done = _steward(args)
    if done is not None:
        return done
    if not args.requester:
        raise SystemExit("--requester is required to query")
    query = CohortQuery(
        modalities=tuple(args.modalities),
        age_min=args.age_min,
        age_max=args.age_max,
        sex=args.sex,
        diagnoses=tuple(args.diagnoses),
        variant=args.variant,
        granularity=args.granularity,
    )
    try:
        answer = discover(query, [Catalog(p) for p in args.stores], args.requester)
    except QueryBudgetExceeded as err:
        print(f"error: {err}")
        return 3
    except ValueError as err:
        print(f"error: {err}")
        return 2
    print(format_table(answer))
    return 0
