"""The on-disk layout of a pretrained bundle (one directory, no pickles) and its errors.

Layout::

    DIR/bundle.json          format version, nextgen_ml version, record schema version, modalities, task, sha256
    DIR/model.safetensors    the MultimodalNet weights (safetensors, float32)
    DIR/config.json          the run's resolved config (model, task, data, ...) — no configs/ directory needed
    DIR/preprocessing.json   per-modality transform kwargs + fitted state (scalers, tokenizer, panel) and specs
    DIR/model_card.json      data, task, metrics with confidence intervals, DP ε, intended use, limitations
    DIR/MODEL_CARD.md        the same, for people
    DIR/test_predictions.csv the checkpoint's test-split predictions the card's confidence intervals come from
    DIR/reference_records.arrow   a few test records (Arrow IPC, record schema) ...
    DIR/reference_predictions.csv ... and the checkpoint's predictions for them (``PretrainedModel.verify()``)

The last three exist when the run's record store was at hand at export time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: bump the major version when a bundle written by this code can no longer be read by older code.
BUNDLE_FORMAT = "1.0"

MANIFEST = "bundle.json"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
PREPROCESSING = "preprocessing.json"
CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"
TEST_PREDICTIONS = "test_predictions.csv"
REFERENCE_RECORDS = "reference_records.arrow"
REFERENCE_PREDICTIONS = "reference_predictions.csv"

#: largest |bundle − checkpoint| prediction difference export and ``PretrainedModel.verify`` accept.
VERIFY_ATOL = 1e-5

REQUIRED: tuple[str, ...] = (MANIFEST, WEIGHTS, CONFIG, PREPROCESSING)


class BundleError(ValueError):
    """A bundle directory is missing, incomplete, or of an incompatible format."""


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"bundle {path.parent}: missing {path.name}") from None
    except json.JSONDecodeError as err:
        raise BundleError(f"bundle {path.parent}: {path.name} is not valid JSON ({err})") from None


def check_bundle_dir(path: str | Path) -> Path:
    """The bundle directory ``path`` if it holds every required file, else a :class:`BundleError` naming them."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"path: no bundle directory at {path}")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise BundleError(f"bundle {path}: missing {missing} (export one with `nextgen-ml export CKPT --out DIR`)")
    return path


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and tuples inside configs and states → JSON types."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
