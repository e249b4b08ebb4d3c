"""``nextgen-ml catalogue``: export a store's HealthDCAT-AP description, or validate one (docs/catalogue.md)."""

from __future__ import annotations

import argparse

HELP = "DCAT-AP 3 / HealthDCAT-AP catalogue metadata of a store: export (counts as discovery releases them), validate."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="describe a store (Turtle or JSON-LD)")
    export.add_argument("store", help="store directory (its discovery policy decides which counts are published)")
    export.add_argument("--format", choices=["turtle", "jsonld"], default="turtle")
    export.add_argument("--steward", default=None, help="steward YAML with what the store does not know")
    export.add_argument("--out", required=True, help="output file")
    check = sub.add_parser("validate", help="check a description against the shipped SHACL shapes")
    check.add_argument("file", help="Turtle (.ttl) or JSON-LD (.jsonld) file")
    check.add_argument("--quiet-warnings", action="store_true", help="print violations only")


def run(args: argparse.Namespace) -> int:
    if args.action == "export":
        from nextgen_ml.catalogue.export import PREFIXES, export_graph
        from nextgen_ml.catalogue.steward import load_steward

        graph = export_graph(args.store, load_steward(args.steward))
        if args.format == "jsonld":
            context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
            graph.serialize(args.out, format="json-ld", context=context, auto_compact=True)
        else:
            graph.serialize(args.out, format="turtle")
        print(f"wrote {args.out} ({len(graph)} triples)")
        return 0
    from nextgen_ml.catalogue.validate import validate_file

    findings = validate_file(args.file)
    violations = [f for f in findings if f.severity == "Violation"]
    for finding in findings:
        if finding.severity == "Violation" or not args.quiet_warnings:
            print(finding)
    print(f"{len(violations)} violation(s), {len(findings) - len(violations)} warning(s)")
    return 1 if violations else 0
