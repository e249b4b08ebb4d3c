"""Reading untrusted JSON with bounded size and nesting depth (no ``RecursionError``, no unbounded memory)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.ingest.errors import IngestError

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_DELTA = np.zeros(256, dtype=np.int8)
_DELTA[[ord("{"), ord("[")]] = 1
_DELTA[[ord("}"), ord("]")]] = -1


def nesting_depth(data: bytes) -> int:
    """Deepest ``{``/``[`` nesting of JSON ``data`` (string contents ignored), without recursion."""
    skeleton = _STRING.sub(b'""', data)
    if not skeleton:
        return 0
    steps = _DELTA[np.frombuffer(skeleton, dtype=np.uint8)]  # int8, one byte per character
    brackets = steps[steps != 0].astype(np.int32)
    return int(np.cumsum(brackets).max(initial=0))


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (non-finite numbers are refused)")


def _finite(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"number {text[:20]} overflows to a non-finite value")
    return value


def load_json(path: str | os.PathLike, max_bytes: int, max_depth: int) -> Any:
    """Parse the JSON file at ``path`` after checking its size and nesting depth.

    Raises:
        IngestError: file larger than ``max_bytes``, nested deeper than ``max_depth``, not UTF-8 or not JSON.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise IngestError(path, "<file>", f"{size} bytes > json_max_bytes ({max_bytes}); refused before parsing")
    data = path.read_bytes()
    depth = nesting_depth(data)
    if depth > max_depth:
        raise IngestError(path, "<file>", f"JSON nested {depth} levels deep > json_max_depth ({max_depth})")
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite)  # UTF-8/16/32, BOM or not
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
        raise IngestError(path, "<file>", f"unreadable JSON ({type(err).__name__}: {err})") from None
