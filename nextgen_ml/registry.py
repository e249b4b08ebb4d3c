"""One small registry for encoders and fusions, in the style of ``timm.create_model``.

Builders are plain functions registered under ``<modality>_<arch>[_<size>]`` (encoders) or a strategy
name (fusions)::

    @register_encoder
    def ecg_xresnet1d_small(**kwargs) -> nn.Module: ...

    enc = create_encoder("ecg_xresnet1d_small", embed_dim=128)
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn


def encoder_prefixes() -> tuple[str, ...]:
    """``<modality>_`` for every registered modality (plugins included), longest first."""
    from nextgen_ml.modalities import modality_names

    return tuple(sorted((f"{m}_" for m in modality_names()), key=len, reverse=True))


#: the built-in modalities' encoder name prefixes (``encoder_prefixes()`` includes plugins)
ENCODER_PREFIXES: tuple[str, ...] = ("ecg_", "image_", "genomics_", "tabular_", "text_", "heart_sound_", "wearable_")

F = TypeVar("F", bound=Callable[..., nn.Module])


class Registry:
    """Name → builder mapping with helpful errors."""

    def __init__(self, kind: str, prefixes: Callable[[], tuple[str, ...]] | None = None) -> None:
        self.kind, self._prefixes = kind, prefixes
        self._builders: dict[str, Callable[..., nn.Module]] = {}

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Name prefixes a builder must start with (encoders: one per registered modality)."""
        return () if self._prefixes is None else self._prefixes()

    def register(self, fn: F) -> F:
        name = fn.__name__
        if self.prefixes and not name.startswith(self.prefixes):
            raise ValueError(f"{self.kind} builder {name!r} must start with one of {self.prefixes}")
        if name in self._builders:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._builders[name] = fn
        return fn

    def unregister(self, name: str) -> None:
        """Remove a builder (plugins loaded by tests clean up with this)."""
        self._builders.pop(name, None)

    def create(self, name: str, **kwargs: Any) -> nn.Module:
        if name not in self._builders:
            close = difflib.get_close_matches(name, self._builders, n=3)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} Available: {self.list()}")
        return self._builders[name](**kwargs)

    def accepted_kwargs(self, name: str) -> set[str] | None:
        """Keyword arguments the builder ``name`` accepts (None = any, it takes ``**kwargs``)."""
        params = inspect.signature(self._builders[name]).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

    def list(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._builders if n.startswith(prefix))

    def __contains__(self, name: str) -> bool:
        return name in self._builders


ENCODERS = Registry("encoder", encoder_prefixes)
FUSIONS = Registry("fusion")


def register_encoder(fn: F) -> F:
    return ENCODERS.register(fn)


def register_fusion(fn: F) -> F:
    return FUSIONS.register(fn)


def _load_builtins() -> None:
    # Importing the packages runs their @register_* decorators.
    import nextgen_ml.encoders  # noqa: F401
    import nextgen_ml.fusion  # noqa: F401


def create_encoder(name: str, **kwargs: Any) -> nn.Module:
    """Build the encoder registered as ``name``; kwargs override its defaults."""
    _load_builtins()
    return ENCODERS.create(name, **kwargs)


def encoder_accepts(name: str) -> set[str] | None:
    """Keyword arguments encoder ``name``'s builder accepts (None = any); unknown names raise KeyError."""
    _load_builtins()
    if name not in ENCODERS:
        ENCODERS.create(name)  # raises the helpful KeyError
    return ENCODERS.accepted_kwargs(name)


def encoder_modality(name: str) -> str:
    """The modality an encoder name is registered under, from its prefix (``"heart_sound_cnn1d"`` → heart_sound)."""
    prefixes = encoder_prefixes()
    prefix = next((p for p in prefixes if name.startswith(p)), None)
    if prefix is None:
        raise ValueError(f"encoder {name!r}: its name starts with no modality prefix of {list(prefixes)}")
    return prefix[:-1]


def list_encoders(prefix: str = "") -> list[str]:
    """Registered encoder names, optionally only those starting with ``prefix`` (e.g. ``"ecg_"``)."""
    _load_builtins()
    return ENCODERS.list(prefix)


def create_fusion(name: str, **kwargs: Any) -> nn.Module:
    """Build the fusion registered as ``name``; kwargs override its defaults."""
    _load_builtins()
    return FUSIONS.create(name, **kwargs)


def fusion_accepts(name: str) -> set[str] | None:
    """Keyword arguments fusion ``name``'s builder accepts (None = any); unknown names raise KeyError."""
    _load_builtins()
    if name not in FUSIONS:
        FUSIONS.create(name)  # raises the helpful KeyError
    return FUSIONS.accepted_kwargs(name)


def list_fusions() -> list[str]:
    _load_builtins()
    return FUSIONS.list()
