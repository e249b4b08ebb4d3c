"""A typed check of the run config's user-facing keys, before anything is built (pydantic).

Hydra composes whatever the overrides say: ``trainer.max_epochs=ten``, ``data.batch_size=-3``,
``data.purpose=health`` or ``data.purpose.for_profit=maybe`` would otherwise fail deep inside Lightning or
PyTorch with an unrelated message, or (worse) run: ``"maybe"`` is truthy. :func:`check_run_config` validates
the keys users set most and raises :class:`~nextgen_ml.errors.UserError` naming the key path, the value and what
is allowed. Keys that are not listed here are left to the code that reads them.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from nextgen_ml.errors import UserError

_OPEN = ConfigDict(extra="allow")


@cache
def _purpose_model() -> type[BaseModel]:
    """``data.purpose``: the fields of :class:`~nextgen_ml.governance.duo.ResearchPurpose`, nothing else."""
    from nextgen_ml.governance.duo import ResearchPurpose

    hints = typing.get_type_hints(ResearchPurpose)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(ResearchPurpose):
        default = ... if f.default is dataclasses.MISSING else f.default
        fields[f.name] = (hints[f.name], default)
    return create_model("ResearchPurpose", __config__=ConfigDict(extra="forbid"), **fields)


class _Trainer(BaseModel):
    model_config = _OPEN
    max_epochs: int | None = Field(None, ge=-1)


class _Model(BaseModel):
    model_config = _OPEN
    embed_dim: int | None = Field(None, gt=0)
    dropout: float | None = Field(None, ge=0, lt=1)
    finetune: Literal["full", "frozen", "linear_probe"] | None = None
    prior_bias: bool | None = None


class _Data(BaseModel):
    model_config = _OPEN
    batch_size: int | None = Field(None, gt=0)
    num_workers: int | None = Field(None, ge=0)
    val_frac: float | None = Field(None, gt=0, lt=1)
    test_frac: float | None = Field(None, ge=0, lt=1)
    modality_dropout: float | None = Field(None, ge=0, lt=1)
    label_fraction: float | None = Field(None, gt=0, le=1)
    modalities: list[str] | None = None


class _Federated(BaseModel):
    model_config = _OPEN
    rounds: int | None = Field(None, gt=0)
    local_epochs: int | None = Field(None, gt=0)
    strategy: Literal["fedavg", "fedprox"] | None = None
    proximal_mu: float | None = Field(None, ge=0)
    fraction_fit: float | None = Field(None, gt=0, le=1)
    fraction_evaluate: float | None = Field(None, ge=0, le=1)
    min_fit_clients: int | None = Field(None, ge=1)
    min_available_clients: int | None = Field(None, ge=1)
    preprocessing: Literal["public", "reference_site"] | None = None
    secure_aggregation: bool | None = None


class _Run(BaseModel):
    model_config = _OPEN
    seed: int | None = None
    trainer: _Trainer | None = None
    model: _Model | None = None
    data: _Data | None = None
    federated: _Federated | None = None


#: Config paths read (resolved) for the check.
_PATHS: tuple[str, ...] = (
    "seed",
    "trainer.max_epochs",
    "model.embed_dim",
    "model.dropout",
    "model.finetune",
    "model.prior_bias",
    *(f"data.{k}" for k in _Data.model_fields),
    *(f"federated.{k}" for k in _Federated.model_fields),
)


def _value(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node


def _selected(cfg: DictConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in _PATHS:
        value = OmegaConf.select(cfg, path, default=None, throw_on_missing=False)
        if value is None:
            continue
        head, *rest = path.split(".")
        if rest:
            out.setdefault(head, {})[rest[0]] = _value(value)
        else:
            out[head] = _value(value)
    return out


def _message(err: ValidationError) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{path}: {first['msg']} (got {first.get('input')!r}){more}"


def check_run_config(cfg: DictConfig) -> None:
    """Validate the user-facing keys of a composed train config.

    Raises:
        UserError: naming the first bad key path, its value and the rule (e.g. ``data.batch_size: Input should
            be greater than 0 (got -3)``).
    """
    selected = _selected(cfg)
    try:
        _Run.model_validate(selected)
        purpose = OmegaConf.select(cfg, "data.purpose", default=None)
        if purpose is not None:
            value = _value(purpose)
            if not isinstance(value, dict):
                raise UserError(
                    f"data.purpose: a mapping of research-purpose fields (e.g. {{requester: me, health_research: "
                    f"true}}) or null to switch consent filtering off, got {value!r}"
                )
            try:
                _purpose_model().model_validate(value)
            except ValidationError as err:
                raise UserError(f"data.purpose.{_message(err)}") from None
    except ValidationError as err:
        raise UserError(_message(err)) from None
