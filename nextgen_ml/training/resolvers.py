"""OmegaConf resolvers used by the configs (registered once, on import)."""

from __future__ import annotations

from omegaconf import OmegaConf


def _join(items, sep: str = "-") -> str:
    return sep.join(str(i) for i in items)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("join"):
        OmegaConf.register_new_resolver("join", _join)


register_resolvers()
