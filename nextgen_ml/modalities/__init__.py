"""The registry of modalities: one :class:`ModalitySpec` per modality, one module per built-in modality.

``register_modality(spec)`` adds a modality (a plugin file outside the package may call it); ``load_plugins``
imports such files (``python train.py plugins=[path/to/my_modality.py]``). Everything that needs the list of
modalities (schema, validation, DataModule, encoder prefixes, bundle preprocessing, ingest, benchmark, bench
scripts) reads it from here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from nextgen_ml.modalities.spec import ModalitySpec, resolve

_REGISTRY: dict[str, ModalitySpec] = {}
#: the built-in modality modules, in the record schema's column order
_BUILTIN_MODULES = ("tabular", "ecg", "image", "genomics", "text", "heart_sound", "wearable")


def register_modality(spec: ModalitySpec, replace: bool = False) -> ModalitySpec:
    """Add ``spec`` to the registry (an existing name or column is an error unless ``replace``)."""
    if not replace:
        if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
            raise ValueError(f"modality {spec.name!r} is already registered (by {_REGISTRY[spec.name].module})")
        clash = next((s for s in _REGISTRY.values() if s.column == spec.column and s.name != spec.name), None)
        if clash is not None:
            raise ValueError(f"modality {spec.name!r}: record column {spec.column!r} already holds {clash.name!r}")
    _REGISTRY[spec.name] = spec
    return spec


def _load_builtins() -> None:
    if len(_REGISTRY) < len(_BUILTIN_MODULES):
        for name in _BUILTIN_MODULES:
            importlib.import_module(f"nextgen_ml.modalities.{name}")


def modality_spec(name: str) -> ModalitySpec:
    """The spec of ``name``; unknown names list the registered ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown modality {name!r}; registered: {modality_names()} (a plugin file registers more: "
                         "plugins=[path/to/modality.py])")
    return _REGISTRY[name]


def modality_names() -> list[str]:
    """Registered modality names, sorted (the order fusion iterates in)."""
    _load_builtins()
    return sorted(_REGISTRY)


def modality_specs() -> list[ModalitySpec]:
    """Registered specs, built-ins first in their schema order, then plugins in registration order."""
    _load_builtins()
    builtins = [_REGISTRY[name] for name in _BUILTIN_MODULES]
    return builtins + [spec for name, spec in _REGISTRY.items() if name not in _BUILTIN_MODULES]


def builtin_modalities() -> tuple[str, ...]:
    return tuple(sorted(_BUILTIN_MODULES))


def load_plugins(paths: Iterable[str]) -> list[str]:
    """Import modality plugins: module names (``my_pkg.spo2``) or ``.py`` files; returns the modalities added."""
    before = set(modality_names())
    for ref in paths or ():
        ref = str(ref)
        if ref.endswith(".py"):
            path = Path(ref).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"plugins: no file {ref}")
            name = f"nextgen_ml_plugin_{path.stem}"
            if name in sys.modules:
                continue
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(ref)
    return sorted(set(modality_names()) - before)


__all__ = [
    "ModalitySpec",
    "builtin_modalities",
    "load_plugins",
    "modality_names",
    "modality_spec",
    "modality_specs",
    "register_modality",
    "resolve",
    "unregister_modality",
]


def unregister_modality(name: str) -> None:
    """Remove a plugin modality (tests that load a plugin clean up with this; built-ins cannot be removed)."""
    if name in builtin_modalities():
        raise ValueError(f"modality {name!r} is built in")
    spec = _REGISTRY.pop(name, None)
    if spec is not None and spec.module in sys.modules and spec.module.startswith("nextgen_ml_plugin_"):
        del sys.modules[spec.module]
