"""Catalogue metadata for a store: DCAT-AP 3 / HealthDCAT-AP export and SHACL validation (docs/catalogue.md)."""

from __future__ import annotations

__all__ = ["export_graph", "load_steward", "validate_graph"]


def __getattr__(name: str):  # rdflib and pyshacl are imported only when used
    if name == "export_graph":
        from nextgen_ml.catalogue.export import export_graph

        return export_graph
    if name == "load_steward":
        from nextgen_ml.catalogue.steward import load_steward

        return load_steward
    if name == "validate_graph":
        from nextgen_ml.catalogue.validate import validate_graph

        return validate_graph
    raise AttributeError(name)
