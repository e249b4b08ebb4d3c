"""Clinical CSV tables (one row per patient) with a column map → ``tabular`` (pandas).

The manifest maps each CSV column to a record variable, the unit of its values, and (for categorical
variables) a value map. ``birth_year``/``birth_date`` columns give ``age`` with ``visit_date`` or the
manifest's ``reference_year``; the birth date itself never enters the record.
"""

from __future__ import annotations

import math
from typing import Any

from nextgen_ml.data.schema import TABULAR_BY_NAME
from nextgen_ml.ingest.clinical import TabularBuilder, normalise_sex
from nextgen_ml.ingest.deid import sha256_files, year_of
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import CsvSource
from nextgen_ml.ingest.provenance import Converted


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _row_to_tabular(row: dict[str, Any], source: CsvSource, where: str) -> dict[str, Any]:
    builder = TabularBuilder(absent_means_no=False)
    builder.visit_year = source.reference_year
    for column, spec in source.columns.items():
        value = row.get(column)
        if _missing(value):
            continue
        variable = spec["variable"]
        if variable in ("birth_year", "birth_date"):
            builder.birth_year = year_of(str(value))
        elif variable == "visit_date":
            builder.visit_year = year_of(str(value)) or builder.visit_year
        elif TABULAR_BY_NAME[variable].kind == "numeric":
            try:
                builder.set_numeric(variable, float(value), spec.get("unit"))
            except ValueError as err:
                raise IngestError(source.path, f"{where}.{column}", str(err)) from None
        else:
            mapped = (spec.get("values") or {}).get(str(value), str(value))
            builder.set_category(variable, normalise_sex(mapped) if variable == "sex" else mapped)
    return builder.to_tabular()


def read_clinical_csv(source: CsvSource) -> tuple[dict[str, Converted], dict[str, IngestError]]:
    """Convert every row of a clinical CSV.

    Args:
        source: the manifest's CSV description.

    Returns:
        ``(patient id → tabular, patient id → error)``: rows that failed (the error names the row and column)
        are quarantined per patient by the pipeline.

    Raises:
        IngestError: unreadable CSV, or a mapped/id column absent from the header.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(source.path, dtype=str, keep_default_na=True)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise IngestError(source.path, "<file>", f"unreadable CSV ({type(err).__name__}: {err})") from None
    for column in [source.id_column, *source.columns]:
        if column not in frame.columns:
            raise IngestError(source.path, column, "column named in the manifest is not in the CSV header")
    sha = sha256_files([source.path])
    out: dict[str, Converted] = {}
    errors: dict[str, IngestError] = {}
    for i, row in enumerate(frame.to_dict(orient="records")):
        pid = str(row[source.id_column])
        where = f"row {i + 2}"
        if pid in out or pid in errors:
            errors[pid] = IngestError(source.path, f"{where}.{source.id_column}", "patient appears in two rows")
            out.pop(pid, None)
            continue
        try:
            tab = _row_to_tabular(row, source, where)
        except IngestError as err:
            errors[pid] = err
            continue
        meta = {"row": i + 2, "columns": sorted(source.columns)}
        out[pid] = Converted("tabular", tab, "csv", source.raw_path or str(source.path), sha, meta)
    return out, errors
