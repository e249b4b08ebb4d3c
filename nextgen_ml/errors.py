"""User mistakes end in one clear message and a non-zero exit; real bugs keep their traceback.

``python train.py``, ``python eval.py`` and every ``nextgen-ml`` subcommand run inside :func:`reporting`. An
exception that is a user mistake (:func:`is_user_error`) prints ``<prog>: error: <message>`` on stderr, where the
message names the config key, file or field, and exits with status 2. Anything else (a bug) propagates with its
full traceback. ``NEXTGEN_ML_DEBUG=1`` or ``HYDRA_FULL_ERROR=1`` (or a subcommand's ``--debug``) shows the
traceback of user mistakes too.

User mistakes are:

* :class:`UserError` and the validation errors of the libraries that read what users write: Hydra's config
  composition and override parsing, OmegaConf's key and type errors, pydantic's ``ValidationError``, YAML syntax,
  a missing file or folder (``FileNotFoundError``, ``NotADirectoryError``, ``FileExistsError``), a store that is not
  one, a catalogue file that is not Turtle;
* ``ValueError`` raised by this package's own code (its convention: a ``ValueError`` names the argument, file or
  field), and ``KeyError`` raised there with a sentence (``unknown fusion 'x'; available: ...``; a bare key is a
  failed lookup, a bug) — the same types raised inside a third-party library are treated as bugs;
* any of the above wrapped by Hydra's ``instantiate`` (the message then also names the config node).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

#: Environment variables that ask for the traceback of a user mistake.
DEBUG_ENVS: tuple[str, ...] = ("NEXTGEN_ML_DEBUG", "HYDRA_FULL_ERROR")
#: Exit status of a user mistake (as argparse uses for a bad command line).
EXIT_USER_ERROR = 2

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class UserError(Exception):
    """A mistake in what the user wrote (config, manifest, command line); the message names the key and the fix."""


def debug_requested() -> bool:
    """Whether the environment asks for tracebacks (:data:`DEBUG_ENVS` set to anything but ``0``/empty)."""
    return any(os.environ.get(name, "") not in ("", "0") for name in DEBUG_ENVS)


def _raised_in_package(err: BaseException) -> bool:
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(_PACKAGE_DIR)


def _library_user_errors() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UserError, FileNotFoundError, NotADirectoryError, FileExistsError]
    for module, names in (
        ("hydra.errors", ("MissingConfigException", "ConfigCompositionException", "OverrideParseException")),
        ("omegaconf.errors", ("OmegaConfBaseException",)),
        ("pydantic", ("ValidationError",)),
        ("yaml", ("YAMLError",)),
        ("nextgen_ml.data.store", ("StoreError",)),  # "DIR is not a nextgen_ml store"
        ("rdflib.plugins.parsers.notation3", ("BadSyntax",)),  # a catalogue file that is not Turtle
    ):
        try:
            imported = __import__(module, fromlist=list(names))
        except ImportError:  # pragma: no cover - every one of them is a dependency
            continue
        types += [getattr(imported, name) for name in names if hasattr(imported, name)]
    return tuple(types)


def _unwrap(err: BaseException) -> tuple[BaseException, str | None]:
    """The error Hydra's ``instantiate`` wrapped (and the config node it was building), else ``err``."""
    if type(err).__name__ == "InstantiationException" and err.__cause__ is not None:
        match = re.search(r"full_key: (\S+)", str(err))
        return err.__cause__, match.group(1) if match else None
    return err, None


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is a user mistake (see the module docs) rather than a bug."""
    inner, _ = _unwrap(err)
    if isinstance(inner, _library_user_errors()):
        return True
    if isinstance(inner, KeyError):  # a sentence ("unknown fusion 'x'; available: ..."), not a bare key (a bug)
        return _raised_in_package(inner) and " " in str(inner.args[0] if inner.args else "")
    return isinstance(inner, ValueError) and _raised_in_package(inner)


def user_message(err: BaseException) -> str:
    """One message for the user: the error's own text (a ``KeyError``'s without quotes), with the config node
    Hydra was building when it was raised there."""
    inner, node = _unwrap(err)
    text = str(inner.args[0]) if isinstance(inner, KeyError) and inner.args else str(inner)
    text = text.split("\nConfig search path:")[0].strip() or type(inner).__name__  # Hydra's lists end there
    override = getattr(inner, "override", None)  # Hydra's OverrideParseException: name the override
    if isinstance(override, str) and override not in text:
        text = f"override {override!r}: {text}"
    if type(inner).__module__.startswith("yaml"):  # a YAML syntax error: its lines read as one sentence
        text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return f"{node}: {text}" if node and not text.startswith(node) else text


def fail(prog: str, err: BaseException) -> NoReturn:
    """Print ``<prog>: error: <message>`` (and how to see the traceback) and exit with :data:`EXIT_USER_ERROR`."""
    print(f"{prog}: error: {user_message(err)}", file=sys.stderr)
    print(f"({DEBUG_ENVS[0]}=1 shows the traceback)", file=sys.stderr)
    raise SystemExit(EXIT_USER_ERROR)


@contextmanager
def reporting(prog: str, debug: bool | None = None) -> Iterator[None]:
    """Turn a user mistake raised inside the block into :func:`fail`; bugs, and everything when ``debug`` (default:
    :func:`debug_requested`), propagate with their traceback."""
    try:
        yield
    except Exception as err:
        if (debug_requested() if debug is None else debug) or not is_user_error(err):
            raise
        fail(prog, err)


def run_hydra(main: Callable[[], Any], prog: str) -> Any:
    """Run a ``@hydra.main`` function inside :func:`reporting`.

    Hydra prints its own shortened traceback for any exception of the task; with ``HYDRA_FULL_ERROR=1`` set
    for the call it re-raises instead, so the exception reaches :func:`reporting` (the variable is restored
    afterwards; if the user set it, tracebacks are shown).
    """
    debug = debug_requested()
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        with reporting(prog, debug=debug):
            return main()
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
