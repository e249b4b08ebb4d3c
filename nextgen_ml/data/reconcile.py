"""Many stores, one dataset: reconcile their data dictionaries by code and align their records.

Rules (first store wins names and units):

* variables with the same code are one variable, whatever their names; values in another unit are converted
  (UCUM through :mod:`nextgen_ml.ingest.units`);
* variables with the same name but different codes (or kinds) conflict: :class:`DictionaryError` names both
  stores and the variable;
* categorical variables of the same name/code take the union of their categories; ordinal and binary ones
  must agree;
* labels meet by name; kinds (and multiclass classes) must agree, multilabel classes are united, survival
  times are converted to the first store's time unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextgen_ml.data.dictionary import DataDictionary, DictionaryError, Label, Variable


@dataclass
class StorePlan:
    """How one store's ``tabular`` and ``labels`` map into the merged dictionary.

    Attributes:
        variables: merged variable name → (this store's name, scale to the merged unit).
        labels: merged label name → (this store's name, time scale for survival).
    """

    variables: dict[str, tuple[str, float]] = field(default_factory=dict)
    labels: dict[str, tuple[str, float]] = field(default_factory=dict)


def _scale(unit: str | None, target: str | None, where: str) -> float:
    if unit == target or unit is None or target is None:
        return 1.0
    from nextgen_ml.ingest.units import convert

    try:
        return float(convert(1.0, unit, target))
    except ValueError as err:
        raise DictionaryError(f"{where}: {err}") from None


def _merge_variable(kept: Variable, new: Variable, stores: tuple[str, str]) -> Variable:
    where = f"variable {kept.name!r} (store {stores[0]}) and {new.name!r} (store {stores[1]})"
    if kept.kind != new.kind:
        raise DictionaryError(f"{where}: kinds differ ({kept.kind} vs {new.kind})")
    if kept.code and new.code and kept.code != new.code:
        raise DictionaryError(f"{where}: same name, different codes ({kept.code} vs {new.code})")
    if kept.is_numeric:
        _scale(new.unit, kept.unit, where)  # convertible, or an error naming both
        return kept
    if kept.categories == new.categories:
        return kept
    if kept.kind != "categorical":
        pair = f"{list(kept.categories)} vs {list(new.categories)}"
        raise DictionaryError(f"{where}: {kept.kind} categories differ ({pair})")
    extra = tuple(c for c in new.categories if c not in kept.categories)
    return kept.model_copy(update={"categories": kept.categories + extra})


def _merge_label(kept: Label, new: Label, stores: tuple[str, str]) -> Label:
    where = f"label {kept.name!r} (stores {stores[0]} and {stores[1]})"
    if kept.kind != new.kind:
        raise DictionaryError(f"{where}: kinds differ ({kept.kind} vs {new.kind})")
    if kept.kind == "multiclass" and kept.classes != new.classes:
        raise DictionaryError(f"{where}: classes differ ({list(kept.classes)} vs {list(new.classes)})")
    if kept.kind == "multilabel" and kept.classes != new.classes:
        extra = tuple(c for c in new.classes if c not in kept.classes)
        return kept.model_copy(update={"classes": kept.classes + extra})
    if kept.kind == "survival":
        _scale(new.time_unit, kept.time_unit, where)
    if kept.kind == "regression":
        _scale(new.unit, kept.unit, where)
    return kept


def reconcile(dictionaries: list[tuple[str, DataDictionary]]) -> tuple[DataDictionary, list[StorePlan]]:
    """One dictionary for several stores and, per store, how its columns map into it.

    Args:
        dictionaries: ``(store name, dictionary)`` per store, in order.

    Raises:
        DictionaryError: a conflict; the message names both stores and the variable or label.
    """
    first = dictionaries[0][1]
    variables: dict[str, Variable] = {}
    owner: dict[str, str] = {}
    labels: dict[str, Label] = {}
    label_owner: dict[str, str] = {}
    plans = []
    for store, dic in dictionaries:
        plan = StorePlan()
        by_code = {v.code: v.name for v in variables.values() if v.code}
        for var in dic.variables.values():
            target = by_code.get(var.code) if var.code else None
            target = target or var.name
            if target in variables:
                variables[target] = _merge_variable(variables[target], var, (owner[target], store))
            else:
                variables[target], owner[target] = var, store
            where = f"variable {var.name!r} (store {store})"
            plan.variables[target] = (var.name, _scale(var.unit, variables[target].unit, where))
        for lab in dic.labels.values():
            if lab.name in labels:
                labels[lab.name] = _merge_label(labels[lab.name], lab, (label_owner[lab.name], store))
            else:
                labels[lab.name], label_owner[lab.name] = lab, store
            unit_pair = (lab.time_unit, labels[lab.name].time_unit) if lab.kind == "survival" else (
                (lab.unit, labels[lab.name].unit) if lab.kind == "regression" else (None, None))
            plan.labels[lab.name] = (lab.name, _scale(*unit_pair, f"label {lab.name!r} (store {store})"))
        plans.append(plan)
    merged = DataDictionary(
        name=first.name if len({d.name for _, d in dictionaries}) == 1 else f"{first.name} + {len(dictionaries) - 1}",
        version=first.version,
        variables=variables,
        labels=labels,
    )
    return merged, plans


def _struct_field(column: pa.ChunkedArray | pa.Array, name: str, dtype: pa.DataType) -> pa.Array:
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if name not in [f.name for f in col.type]:
        return pa.nulls(len(col), dtype)
    child = pc.struct_field(col, [name])
    return child if child.type == dtype else child.cast(dtype)


def _scaled(values: pa.Array, scale: float) -> pa.Array:
    if scale == 1.0:
        return values
    return pa.array(values.to_numpy(zero_copy_only=False).astype(np.float64) * scale, pa.float32())


def _rebuild(column: pa.ChunkedArray, target: pa.StructType, mapping: dict[str, tuple[str, float]]) -> pa.Array:
    arrays, fields = [], []
    flat = column.combine_chunks()
    for f in target:
        src, scale = mapping.get(f.name, (None, 1.0))
        if src is None:
            arr = pa.nulls(len(flat), f.type)
        elif pa.types.is_struct(f.type):  # survival: scale the time
            inner = _struct_field(flat, src, f.type)
            time = _scaled(pc.struct_field(inner, ["time"]), scale)
            event = pc.struct_field(inner, ["event"])
            arr = pa.StructArray.from_arrays([time, event], fields=list(f.type), mask=pc.is_null(inner))
        else:
            arr = _struct_field(flat, src, f.type)
            if pa.types.is_floating(f.type):
                arr = _scaled(arr, scale)
        arrays.append(arr)
        fields.append(f)
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=pc.is_null(flat))


def apply_plan(table: pa.Table, plan: StorePlan, schema: pa.Schema) -> pa.Table:
    """One store's table with ``tabular`` and ``labels`` rebuilt for the merged dictionary's ``schema``."""
    for name, mapping in (("tabular", plan.variables), ("labels", plan.labels)):
        if name in table.column_names:
            i = table.column_names.index(name)
            rebuilt = _rebuild(table.column(name), schema.field(name).type, mapping)
            table = table.set_column(i, schema.field(name), rebuilt)
    return table


def merged_metadata(names: list[str], metas: list[dict[str, Any]], dictionary: DataDictionary) -> dict[str, Any]:
    """The metadata of several stores read as one dataset (sites summed; the panel must agree)."""
    sites: dict[str, int] = {}
    for meta in metas:
        for site, n in meta.get("sites", {}).items():
            sites[site] = sites.get(site, 0) + n
    panels = [(n, m.get("panel")) for n, m in zip(names, metas) if m.get("panel") is not None]
    panel = panels[0][1] if panels else None
    conflict = next((n for n, p in panels[1:] if p != panel), None)
    formats = {m.get("format", "ipc") for m in metas}
    consents = [m.get("consent") for m in metas]
    if any(c != consents[0] for c in consents[1:]):
        from nextgen_ml.data.store import StoreError

        raise StoreError(f"stores {names} declare different dataset-level consent; filter and train them one at a time")
    return {
        "consent": consents[0],
        "schema_version": metas[0].get("schema_version"),
        "format": metas[0].get("format", "ipc") if len(formats) == 1 else "mixed",
        "n_records": sum(m.get("n_records", 0) for m in metas),
        "sites": sites,
        "panel": panel,
        "panel_conflict": None if conflict is None else [panels[0][0], conflict],
        "dictionary": dictionary.as_dict(),
        "stores": [{"path": n, **{k: v for k, v in m.items() if k not in ("dictionary", "panel")}}
                   for n, m in zip(names, metas)],
    }
