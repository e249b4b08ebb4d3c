"""Benchmark configuration: the grid (settings × repeats × folds) and everything a cell's fit depends on.

Loaded from YAML (``configs/benchmark/default.yaml``) with dotted ``key=value`` overrides (OmegaConf).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from pydantic import ConfigDict, TypeAdapter, ValidationError

from nextgen_ml.modalities import modality_names

CV_KINDS: tuple[str, ...] = ("kfold", "site")


@dataclass
class Setting:
    """One model variant of the grid.

    Args:
        name: unique label (table rows, figures).
        fusion: fusion registry name (``concat``, ``late``, ``gated``, ``bottleneck``, ``cross_attention``) or
            ``{"name": ..., **kwargs}``.
        modalities: modalities the model sees.
        modality_dropout: training-time modality dropout (``CardioDataModule(modality_dropout=...)``).
    """

    name: str
    fusion: Any
    modalities: list[str]
    modality_dropout: float = 0.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.modalities) - set(modality_names()))
        if unknown or not self.modalities:
            raise ValueError(f"settings[{self.name!r}].modalities: need a non-empty subset of {modality_names()}, "
                             f"got {self.modalities}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"settings[{self.name!r}].modality_dropout must be in [0, 1), got {self.modality_dropout}")
        self.modalities = sorted(self.modalities)


@dataclass
class DataConfig:
    """Cohort, target and preprocessing (see ``CardioDataModule``)."""

    data_dir: str = "data/benchmark_n700_k3_s0"
    cohort: dict[str, Any] | None = field(default_factory=lambda: {
        "n": 700, "sites": 3, "seed": 0, "config": {"ecg_fs_hz": 100.0, "image_size": 32, "image_frames": 2}})
    target: str = "mace"
    transforms: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "ecg": {"fs_hz": 100.0, "seconds": None}, "image": {"size": 32, "frames": 2, "augment": False},
        "text": {"max_len": 48, "vocab_size": 800}})
    batch_size: int = 32


@dataclass
class ModelConfig:
    """Encoders (registry name or ``{"name": ..., **kwargs}`` per modality), width and head."""

    encoders: dict[str, Any] = field(default_factory=lambda: {
        "ecg": {"name": "ecg_xresnet1d_small", "widths": [16, 32, 32, 32]},
        "image": {"name": "image_resnet18", "widths": [16, 32, 32, 32]},
        "genomics": {"name": "genomics_linear"},
        "tabular": {"name": "tabular_ft_transformer", "depth": 1, "num_heads": 2},
        "text": {"name": "text_transformer_small", "depth": 1, "num_heads": 2}})
    embed_dim: int = 32
    head_hidden: list[int] = field(default_factory=list)
    dropout: float = 0.1


@dataclass
class EarlyStoppingConfig:
    """``train.early_stopping``: stop after ``patience`` epochs without a lower validation loss.

    Args:
        patience: epochs without improvement before stopping (``>= 1``).
        val_fraction: share of the fold's training rows held out for validation, in ``(0, 0.5]``.
        min_delta: smallest decrease of the validation loss that counts as an improvement.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")  # a misspelt key is an error, not ignored

    patience: int = 3
    val_fraction: float = 0.2
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"train.early_stopping.patience must be >= 1, got {self.patience}")
        if not 0.0 < self.val_fraction <= 0.5:
            raise ValueError(f"train.early_stopping.val_fraction must be in (0, 0.5], got {self.val_fraction}")
        if self.min_delta < 0:
            raise ValueError(f"train.early_stopping.min_delta must be >= 0, got {self.min_delta}")


@dataclass
class TrainConfig:
    """Optimisation of every cell: ``max_epochs`` fixed epochs, or at most that many with ``early_stopping``
    (an inner validation split of the fold's training rows, :mod:`nextgen_ml.benchmark.early_stop`)."""

    max_epochs: int = 4
    lr: float = 2e-3
    weight_decay: float = 1e-4
    accelerator: str = "cpu"
    threads: int | None = None
    early_stopping: EarlyStoppingConfig | None = None
    prior_bias: bool = True  # the head's output bias starts at the training labels' log-odds (tasks/prior.py)


@dataclass
class CVConfig:
    """Cross-validation: ``kfold`` (patient-grouped, stratified, ``k`` folds per repeat; the repeat seed also
    shuffles the folds) or ``site`` (one fold per held-out site)."""

    kind: str = "kfold"
    k: int = 5
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])

    def __post_init__(self) -> None:
        if self.kind not in CV_KINDS:
            raise ValueError(f"cv.kind must be one of {CV_KINDS}, got {self.kind!r}")
        if self.kind == "kfold" and self.k < 2:
            raise ValueError(f"cv.k must be >= 2, got {self.k}")


@dataclass
class RobustnessConfig:
    """Test-time missing modalities: every modality subset, random missingness per rate, a per-site scenario."""

    subsets: bool = True
    missing_rates: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8])
    site_missing: dict[str, float] = field(default_factory=lambda: {"site_a": 0.0, "site_b": 0.3, "site_c": 0.6})


@dataclass
class ReportConfig:
    """Statistics and output."""

    baseline: str = "cross_attention"
    n_boot: int = 1000
    alpha: float = 0.05
    figures_prefix: str = "benchmark_"
    #: ``[setting, reference]`` pairs where ``setting`` adds modalities to ``reference``: the report tests the
    #: gain on every test row and on the rows where each added modality is present
    gains: list[list[str]] = field(default_factory=list)


@dataclass
class BenchmarkConfig:
    """The whole benchmark. ``settings`` × ``cv.seeds`` × folds = cells (one fit each)."""

    out_dir: str = "outputs/benchmark"
    settings: list[Setting] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)
    attribution: bool = True
    report: ReportConfig = field(default_factory=ReportConfig)
    #: another record store (e.g. a held-out site's) on which every fold model is also scored
    external: str | None = None
    #: add a linear baseline ``linear_<m>`` for every single-modality setting (:mod:`nextgen_ml.benchmark.baselines`)
    baselines: bool = False

    def __post_init__(self) -> None:
        if self.baselines:
            from nextgen_ml.benchmark.baselines import baseline_settings

            self.settings = [*self.settings, *baseline_settings(self.settings)]
        names = [s.name for s in self.settings]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"settings: duplicate names {dupes}")
        missing = sorted({m for s in self.settings for m in s.modalities} - set(self.model.encoders))
        if missing:
            raise ValueError(f"model.encoders: no encoder for modalities {missing}")
        if self.report.gains:
            from nextgen_ml.benchmark.analysis import modality_gain_pairs

            modality_gain_pairs({s.name: s.modalities for s in self.settings}, self.report.gains)  # raises if bad

    @property
    def modalities(self) -> list[str]:
        """Union of the settings' modalities."""
        return sorted({m for s in self.settings for m in s.modalities})

    def cell_spec(self, setting: Setting, seed: int, fold: int) -> dict[str, Any]:
        """Everything one cell's result depends on (hashed into its key)."""
        data = asdict(self.data)  # only the transforms of the setting's modalities affect its result
        data["transforms"] = {m: kw for m, kw in data["transforms"].items() if m in setting.modalities}
        if setting.fusion == "linear_baseline":  # a linear baseline depends on no model or training option
            return {"setting": asdict(setting), "seed": seed, "fold": fold, "data": data, "sampling": SAMPLING,
                    "cv": {"kind": self.cv.kind, "k": self.cv.k}, **({"external": self.external} if self.external
                                                                     else {})}
        revisions = component_revisions(setting.fusion)
        return {"setting": asdict(setting), "seed": seed, "fold": fold, "data": data, "sampling": SAMPLING,
                **({"revisions": revisions} if revisions else {}),
                "model": {**asdict(self.model), "encoders": {m: self.model.encoders[m] for m in setting.modalities}},
                "train": {k: v for k, v in asdict(self.train).items()  # options left off: the keys of before them
                          if k not in ("accelerator", "threads") and not (k in _OFF_BEFORE and v == _OFF_BEFORE[k])},
                "cv": {"kind": self.cv.kind, "k": self.cv.k}, "robustness": asdict(self.robustness),
                "attribution": self.attribution, **({"external": self.external} if self.external else {})}


#: version of how a fold's samples are drawn (part of every cell key; bump when it changes): 2 = each modality's
#: random training transforms from its own seeded generator (:class:`~nextgen_ml.benchmark.data.FoldData`)
SAMPLING = 2


#: fusions whose training changed after results existed: a cell that uses one (by name, or as a kwarg such as
#: ``film_encoders``' ``combine``) carries its revision in its key, so its stale results are recomputed and every other
#: cell keeps its key. subspace 2: the ELBO no longer reaches the encoders and ``beta`` defaults to 0.1.
REVISIONS: dict[str, int] = {"subspace": 2}


def component_revisions(fusion: Any) -> dict[str, int]:
    """The :data:`REVISIONS` of the components a setting's fusion spec names (``{}`` for most)."""
    names = {fusion} if isinstance(fusion, str) else {v for v in dict(fusion).values() if isinstance(v, str)}
    return {n: REVISIONS[n] for n in sorted(names & set(REVISIONS))}


#: training options added after results existed, and the value that means "as before": left out of the cell spec
#: at that value, so earlier cells keep their keys
_OFF_BEFORE: dict[str, Any] = {"early_stopping": None, "prior_bias": False}


def cell_key(spec: dict[str, Any]) -> str:
    """Stable 16-hex-digit hash of a cell spec."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _typed(cls: type, value: Any, where: str) -> Any:
    """``cls(**value)`` with every field's type checked (pydantic over the dataclass): a wrong key or type is a
    ``ValueError`` naming ``where.key``, the expected type and the value given (``train.max_epochs=two``)."""
    if not isinstance(value, dict):
        raise ValueError(f"benchmark config: {where} must be a mapping, got {value!r}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"benchmark config: {where} has unknown keys {unknown}; known: {known}")
    try:
        return TypeAdapter(cls).validate_python(value)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "value_error":  # the dataclass's own check (__post_init__): its message names the key
            raise ValueError(f"benchmark config: {first['ctx']['error']}") from None
        key = ".".join(str(p) for p in (where, *first["loc"]))
        raise ValueError(f"benchmark config: {key}: {first['msg']} (got {first['input']!r})") from None


def _build(raw: dict[str, Any]) -> BenchmarkConfig:
    sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "cv": CVConfig,
                "robustness": RobustnessConfig, "report": ReportConfig}
    unknown = sorted(set(raw) - set(sections) - {"out_dir", "settings", "attribution", "external", "baselines"})
    if unknown:
        raise ValueError(f"benchmark config: unknown keys {unknown}")
    kwargs: dict[str, Any] = {k: _typed(cls, raw.get(k) or {}, k) for k, cls in sections.items()}
    kwargs["settings"] = [_typed(Setting, s, f"settings[{i}]") for i, s in enumerate(raw.get("settings") or [])]
    for key in ("out_dir", "attribution", "external", "baselines"):
        if key in raw:
            kwargs[key] = raw[key]
    return BenchmarkConfig(**kwargs)


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> BenchmarkConfig:
    """Read a YAML benchmark config and apply dotted overrides (``train.max_epochs=2``, ``cv.seeds=[0]``).

    Args:
        path: YAML file; None = the built-in defaults (with no settings).
        overrides: OmegaConf dotlist overrides.
    """
    cfg = OmegaConf.load(path) if path else OmegaConf.create({})
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"overrides: expected key=value, got {item!r}")
        OmegaConf.update(cfg, key, yaml.safe_load(value), merge=True)  # list items by index: settings.0.fusion=late
    return _build(OmegaConf.to_container(cfg, resolve=True))


def config_dict(cfg: BenchmarkConfig) -> dict[str, Any]:
    """The config as plain data (written next to the results)."""
    return asdict(cfg)
