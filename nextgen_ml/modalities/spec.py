"""``ModalitySpec``: everything the framework needs to know about one modality, declared in one place.

A spec names the record column and its Arrow type, the transform that turns a record value into a model input,
the record validation, an example value (tests, benchmarks) and the default encoder. The record schema, record
validation, the DataModule, the encoder registry's name prefixes, bundle preprocessing, ingest routing, the
benchmark's configuration checks and the bench scripts all read the registry of specs
(:mod:`nextgen_ml.modalities`): adding a modality is one new file.

Implementations are referenced as ``"module:attribute"`` strings and imported on first use, so a spec module
imports nothing heavy and the schema can be built without importing transforms or encoders.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa


def resolve(ref: str | Callable[..., Any] | type | None) -> Any:
    """``"package.module:attr"`` → the attribute (objects pass through)."""
    if ref is None or not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"reference {ref!r} must be 'module:attribute'")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ModalitySpec:
    """One modality of the record.

    Args:
        name: modality name (``"ecg"``); encoders of this modality are registered as ``<name>_<arch>``.
        column: record column holding the payload (``"genotype"`` for genomics).
        arrow_type: the column's Arrow type (a struct for payloads; null = absent).
        transform: transform class (or ``"module:Class"``) with ``fit``/``__call__``/``spec``/``state_dict``.
        default_encoder: encoder registry name used when the model config names none for this modality.
        validate: ``(record_id, value) -> None`` raising ``RecordValidationError`` (or ``"module:function"``).
        example: ``(rng) -> value``: one plausible record value (tests, benchmarks, bundle self-checks).
        transform_context: ``(store) -> kwargs`` the transform needs from the store (panel, data dictionary).
        ingest_formats: per-patient file formats whose readers fill this modality's column.
        description: one line for docs and ``nextgen-ml`` listings.
        input_shape: the model input's shape per record after the transform (docs), e.g. ``"(L, T) float32"``.
    """

    name: str
    column: str
    arrow_type: pa.DataType
    transform: Any
    default_encoder: str
    validate: Any = None
    example: Any = None
    transform_context: Callable[[Any], dict[str, Any]] | None = None
    ingest_formats: tuple[str, ...] = ()
    description: str = ""
    input_shape: str = ""
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"modality name {self.name!r} must be a lower-case identifier")
        if not isinstance(self.arrow_type, pa.DataType):
            raise ValueError(f"modality {self.name!r}: arrow_type must be a pyarrow DataType")

    @property
    def transform_class(self) -> type:
        return resolve(self.transform)

    def check(self, record_id: str, value: Any, **context: Any) -> None:
        """Validate one record's value (None = absent, always valid); ``context``: ``panel_size``, ``dictionary``."""
        fn = resolve(self.validate)
        if value is not None and fn is not None:
            fn(record_id, value, **context)

    def example_value(self, rng: np.random.Generator | None = None) -> Any:
        fn = resolve(self.example)
        if fn is None:
            raise ValueError(f"modality {self.name!r} declares no example")
        return fn(rng or np.random.default_rng(0))

    def make_transform(self, store: Any = None, **kwargs: Any) -> Any:
        """The modality's transform with the store-derived arguments (``transform_context``) offered first
        (``store=None``: the context of the spec's example values)."""
        context = self.transform_context(store) if self.transform_context else {}
        return self.transform_class(**{**context, **kwargs})

    def example_inputs(self, n: int = 4, seed: int = 0, **transform_kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """``(inputs, encoder_kwargs)``: ``n`` example values through a transform fitted on them.

        ``inputs`` is the stacked model input ``(n, ...)`` (a torch tensor) and ``encoder_kwargs`` what the
        transform tells the encoder (``transform.spec()``): enough to build and run the default encoder.
        """
        import torch

        rng = np.random.default_rng(seed)
        values = [self.example_value(rng) for _ in range(n)]
        transform = self.make_transform(None, **transform_kwargs)
        transform.fit(values)
        x = np.stack([transform(v, record_id=f"example-{i}") for i, v in enumerate(values)])  # (n, ...)
        return torch.from_numpy(x), transform.spec()
