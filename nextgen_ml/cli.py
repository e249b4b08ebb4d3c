"""``nextgen-ml`` command line: one subcommand per module, imported only when it is run.

Each subcommand module defines ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``. A user mistake
raised by a subcommand (a missing file, a bad config key, ...) prints one line and exits with status 2; bugs keep
their traceback (:mod:`nextgen_ml.errors`; ``NEXTGEN_ML_DEBUG=1`` or a subcommand's ``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from nextgen_ml.errors import reporting

#: subcommand name → module implementing it.
COMMANDS: dict[str, str] = {
    "cohort": "nextgen_ml.data.cohort.cli",
    "ingest": "nextgen_ml.ingest.cli",
    "discover": "nextgen_ml.governance.cli",
    "audit": "nextgen_ml.governance.audit_cli",
    "federated": "nextgen_ml.federated.cli",
    "benchmark": "nextgen_ml.benchmark.cli",
    "export": "nextgen_ml.bundle.cli",
    "catalogue": "nextgen_ml.catalogue.cli",
}


def _parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nextgen-ml", description="Multimodal deep learning for cardiology.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
        else:  # listed in --help without importing its dependencies
            sub.add_parser(name, help=f"see `nextgen-ml {name} --help`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = _parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = True if getattr(args, "debug", False) or getattr(args, "traceback", False) else None  # None: env
    with reporting(f"nextgen-ml {args.command}", debug=debug):
        return int(importlib.import_module(COMMANDS[args.command]).run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
