"""Every registered modality's spec is complete: its example value validates, goes through its transform and
its default encoder (the same checks run for a plugin modality, see tests/data/test_modality_plugin.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch

from nextgen_ml.data.schema import RECORD_SCHEMA
from nextgen_ml.modalities import modality_names, modality_spec
from nextgen_ml.registry import create_encoder, encoder_accepts, encoder_modality


def check_spec(name: str) -> None:
    spec = modality_spec(name)
    value = spec.example_value()
    spec.check("example", value, panel_size=4)
    if name != "tabular":  # tabular's Arrow type comes from the data dictionary
        pa.array([value, None], type=spec.arrow_type)  # the example fits the declared column type
    x, kwargs = spec.example_inputs(n=3)
    assert x.shape[0] == 3 and torch.is_tensor(x)
    assert encoder_modality(spec.default_encoder) == name
    accepts = encoder_accepts(spec.default_encoder)
    encoder = create_encoder(spec.default_encoder, embed_dim=16,
                             **{k: v for k, v in kwargs.items() if accepts is None or k in accepts})
    out = encoder(x)
    assert out.shape == (3, encoder.out_dim) and torch.isfinite(out).all()
    tokens = encoder.forward_tokens(x)
    assert tokens.ndim == 3 and tokens.shape[0] == 3 and tokens.shape[2] == encoder.out_dim


@pytest.mark.parametrize("name", modality_names())
def test_every_builtin_modality_spec_runs_end_to_end(name):
    check_spec(name)


def test_schema_columns_come_from_the_specs():
    for name in modality_names():
        assert modality_spec(name).column in RECORD_SCHEMA.names
