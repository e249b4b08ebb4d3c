"""Rebuild a bundle's fitted transforms and turn records into model batches, checking each record against them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from nextgen_ml.data.dataset import Collate
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.targets import TargetEncoder
from nextgen_ml.data.transforms import (
    EcgTransform,
    GenomicsTransform,
    ImageTransform,
    ModalityTransform,
    TabularTransform,
)
from nextgen_ml.data.validate import RecordValidationError
from nextgen_ml.modalities import modality_names, modality_spec

#: transform constructor argument → how its saved (JSON) value becomes the object the constructor takes.
_DECODE_ARG: dict[str, Callable[[Any], Any]] = {
    "panel": lambda v: v if isinstance(v, VariantPanel) else VariantPanel.from_json(v),
}


class InputMismatchError(RecordValidationError):
    """An input record does not fit the bundle's preprocessing; ``record`` and ``field`` say where."""


def build_transform(modality: str, kwargs: Mapping[str, Any], state: Mapping[str, Any]) -> ModalityTransform:
    """The fitted transform of ``modality`` from its constructor kwargs (run config) and saved ``state_dict()``.

    Saved state wins over kwargs for every constructor argument it holds (lead order, sizes, the panel); the rest
    of the fitted state (scalers, tokenizer) is restored with ``load_state_dict``.
    """
    if modality not in modality_names():
        raise ValueError(f"preprocessing: unknown modality {modality!r}; known {modality_names()}")
    cls = modality_spec(modality).transform_class
    params = inspect.signature(cls.__init__).parameters
    merged = {**dict(kwargs), **{k: v for k, v in state.items() if k in params}}
    merged = {k: _DECODE_ARG.get(k, lambda v: v)(v) for k, v in merged.items()}
    transform = cls(**merged)
    transform.load_state_dict(dict(state))
    return transform


def _check_ecg(t: EcgTransform, pid: str, ecg: Mapping[str, Any]) -> None:
    missing = [lead for lead in t.leads if lead not in list(ecg.get("leads") or [])]
    if missing:
        raise InputMismatchError(pid, "ecg.leads", f"missing leads {missing}; the bundle's model reads {t.leads}")
    if not ecg.get("fs_hz") or float(ecg["fs_hz"]) <= 0:
        raise InputMismatchError(pid, "ecg.fs_hz", f"sampling rate must be positive, got {ecg.get('fs_hz')}")


def _check_image(t: ImageTransform, pid: str, image: Mapping[str, Any]) -> None:
    shape = list(image.get("shape") or [])
    dims = len(shape) - 1
    if t.spatial_dims is not None and dims != t.spatial_dims:
        raise InputMismatchError(
            pid, "image.shape", f"{dims}D image of shape {shape}; the bundle's model expects {t.spatial_dims}D "
            f"(frames, {'D, ' if t.spatial_dims == 3 else ''}H, W)"
        )
    if t.frames is not None and shape and shape[0] < t.frames:
        raise InputMismatchError(pid, "image.shape", f"{shape[0]} frames; the bundle's model needs {t.frames}")


def _check_genotype(t: GenomicsTransform, pid: str, genotype: Mapping[str, Any]) -> None:
    n = len(genotype.get("dosages") or [])
    if n != len(t.panel):
        raise InputMismatchError(
            pid, "genotype.dosages", f"{n} dosages; the bundle's panel {t.panel.name!r} has {len(t.panel)} variants"
        )


def _check_tabular(t: TabularTransform, pid: str, tabular: Mapping[str, Any]) -> None:
    for var in t.variables:
        value = tabular.get(var.name)
        if value is None:
            continue
        if not var.is_numeric and value not in var.categories:
            raise InputMismatchError(pid, f"tabular.{var.name}", f"{value!r} not in {list(var.categories)}")
        if var.is_numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputMismatchError(pid, f"tabular.{var.name}", f"not a number: {value!r}")
    known = {v.name for v in t.variables}
    unknown = sorted(set(tabular) - known)
    if unknown and not known & set(tabular):
        raise InputMismatchError(
            pid, f"tabular.{unknown[0]}", f"none of the bundle's clinical variables are present ({sorted(known)})"
        )


#: transform class → check of one record's field against it (before the transform runs).
_CHECKS: dict[type, Callable[[Any, str, Mapping[str, Any]], None]] = {
    EcgTransform: _check_ecg,
    ImageTransform: _check_image,
    GenomicsTransform: _check_genotype,
    TabularTransform: _check_tabular,
}


class Preprocessor:
    """Records → batches ``{"inputs", "mask", "targets", "index"}`` exactly as the training pipeline made them.

    Args:
        transforms: modality → fitted transform (e.g. from :func:`build_transform`).
        dictionary: the training store's data dictionary (labels → targets); None gives no targets.
    """

    def __init__(self, transforms: Mapping[str, ModalityTransform], dictionary: DataDictionary | None = None) -> None:
        self.transforms = dict(sorted(transforms.items()))
        self.targets = None if dictionary is None else TargetEncoder(dictionary)
        self.modalities = list(self.transforms)
        self._collate = Collate(self.modalities)

    @property
    def columns(self) -> list[str]:
        """Record columns the model reads."""
        return [t.column for t in self.transforms.values()]

    def sample(self, record: Mapping[str, Any], index: int) -> dict[str, Any]:
        """One record → ``{"inputs": {m: array | None}, "targets", "index"}``; raises :class:`InputMismatchError`."""
        pid = str(record.get("patient_id") or f"<record {index}>")
        inputs: dict[str, np.ndarray | None] = {}
        for m, t in self.transforms.items():
            value = record.get(t.column)
            if value is None:
                inputs[m] = None
                continue
            check = _CHECKS.get(type(t))
            if check is not None:
                check(t, pid, value)
            try:
                inputs[m] = t(value, record_id=pid, train=False)
            except InputMismatchError:
                raise
            except (ValueError, KeyError, TypeError) as err:
                raise InputMismatchError(pid, t.column, f"cannot be preprocessed: {err}") from err
        targets = {} if self.targets is None else self.targets(record.get("labels"))
        return {"inputs": inputs, "targets": targets, "index": index}

    def batches(
        self, records: Iterable[Mapping[str, Any]], batch_size: int = 64
    ) -> Iterator[tuple[list[str], dict[str, Any]]]:
        """``(patient_ids, batch)`` per ``batch_size`` records."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        ids: list[str] = []
        samples: list[dict[str, Any]] = []
        for i, record in enumerate(records):
            ids.append(str(record.get("patient_id") or f"<record {i}>"))
            samples.append(self.sample(record, i))
            if len(samples) == batch_size:
                yield ids, self._collate(samples)
                ids, samples = [], []
        if samples:
            yield ids, self._collate(samples)

    def collate(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return self._collate(samples)


def to_device(batch: Mapping[str, Any], device: torch.device | str) -> dict[str, Any]:
    """``inputs`` and ``mask`` of a batch moved to ``device``."""
    return {
        "inputs": {m: x.to(device) for m, x in batch["inputs"].items()},
        "mask": {m: x.to(device) for m, x in batch["mask"].items()},
    }
