"""Wearable exports (CSV or Parquet, with timestamps) → ``wearable`` via pandas.

Wide exports have a time column and one column per channel; long exports (``channel_column`` + ``value_column``)
have one row per sample. Reader options (the manifest entry's ``options:``):

* ``time_column``: default the first of ``timestamp, datetime, time, date, timer, t`` (case-insensitive).
  Date-times become seconds since the first sample; only the time of day of the start is kept (``start_hour``),
  never the date. Numeric times are in ``time_unit`` (``s`` default, ``ms``, ``min``, ``h``).
* ``channels``: ``{column: {name, units, fs_hz}}`` (or a list of columns); default every numeric column but the
  time (columns of mostly text, e.g. a device name, are skipped), named by the column, with the unit from a
  ``name[unit]`` header, else ``"1"``.
* ``gap_s``: a pause longer than this starts a new segment (default: 3 sampling intervals, per channel).
* ``duplicate_times``: ``mean`` (default: samples sharing a timestamp are averaged) or ``spread`` (they are
  spread evenly up to the next timestamp: for loggers whose clock ticks coarser than the sampling, e.g. the
  15.6 ms Windows timer).

Per channel, NaN/empty values are dropped (they are gaps), samples are sorted, duplicate timestamps handled, the
nominal rate is ``fs_hz`` or 1 / the median interval, and each run without gaps is linearly interpolated onto a
regular grid at that rate (a regular export is copied exactly).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.data.codec import encode_wearable, encode_wearable_channel
from nextgen_ml.ingest.deid import sha256_files
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.provenance import Converted

TIME_COLUMNS: tuple[str, ...] = ("timestamp", "datetime", "time", "date", "timer", "t")
_TIME_UNITS: dict[str, float] = {"s": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]+)\]\s*$")


def _load(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise IngestError(path, "<file>", "file not found") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, ImportError) as err:
        raise IngestError(path, "<file>", f"unreadable export ({type(err).__name__}: {err})") from None


def _times(path: Path, frame: pd.DataFrame, column: str, unit: str) -> tuple[np.ndarray, float | None]:
    """Seconds since the first sample ``(n,)`` and the start's time of day in hours (date-times only)."""
    col = frame[column]
    if pd.api.types.is_numeric_dtype(col):
        if unit not in _TIME_UNITS:
            raise IngestError(path, "options.time_unit", f"{unit!r} not in {sorted(_TIME_UNITS)}")
        t = col.to_numpy(dtype=np.float64) * _TIME_UNITS[unit]
        if not np.isfinite(t).all():
            raise IngestError(path, column, f"{int((~np.isfinite(t)).sum())} missing or non-finite times")
        return t - t.min(), None
    stamps = pd.to_datetime(col, format="ISO8601", errors="coerce")
    if stamps.isna().any():  # not all ISO 8601: let pandas infer each value's format
        stamps = pd.to_datetime(col, format="mixed", errors="coerce")
    if stamps.isna().any():
        bad = int(stamps.isna().to_numpy().argmax())
        raise IngestError(path, column, f"unparsable timestamp {col.iloc[bad]!r} (row {bad})")
    first = stamps.min()
    hour = first.hour + first.minute / 60 + (first.second + first.microsecond / 1e6) / 3600
    return (stamps - first).dt.total_seconds().to_numpy(), float(hour)


def _mostly_numeric(col: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(col):
        return True
    present = col.dropna()
    return present.size > 0 and pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5


def _channel_specs(path: Path, frame: pd.DataFrame, time_col: str, raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:  # columns that are mostly numbers (a stray text value then fails loudly, naming the column)
        raw = [c for c in frame.columns if c != time_col and _mostly_numeric(frame[c])]
    if isinstance(raw, list):
        raw = {c: {} for c in raw}
    specs = {}
    for col, spec in raw.items():
        spec = dict(spec or {})
        match = _HEADER_UNIT.match(str(col))
        spec.setdefault("name", match.group("name") if match else str(col))
        spec.setdefault("units", match.group("unit") if match else "1")
        specs[str(col)] = spec
    if not specs:
        raise IngestError(path, "<columns>", "no numeric channel column besides the time column")
    return specs


def _segments(t: np.ndarray, v: np.ndarray, fs: float, gap_s: float) -> list[tuple[float, np.ndarray]]:
    """Runs of ``(t, v)`` without a pause longer than ``gap_s``, each interpolated onto a grid at ``fs``."""
    breaks = np.flatnonzero(np.diff(t) > gap_s) + 1
    segments = []
    for ts, vs in zip(np.split(t, breaks), np.split(v, breaks)):
        n = int(np.floor((ts[-1] - ts[0]) * fs + 1e-6)) + 1
        grid = ts[0] + np.arange(n) / fs
        segments.append((float(ts[0]), np.interp(grid, ts, vs)))
    return segments


def _spread(t: np.ndarray) -> np.ndarray:
    """Sorted times ``(n,)`` with each run of equal timestamps spread evenly up to the next timestamp."""
    uniq, first, counts = np.unique(t, return_index=True, return_counts=True)
    step = np.diff(uniq, append=uniq[-1] + (uniq[-1] - uniq[-2] if uniq.size > 1 else 1.0))  # (U,)
    rank = np.arange(t.size) - np.repeat(first, counts)  # position inside its run
    return np.repeat(uniq, counts) + rank * np.repeat(step / counts, counts)


def _channel(
    path: Path, col: str, spec: dict[str, Any], t: np.ndarray, raw: pd.Series, gap_s: float | None, duplicates: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    values = pd.to_numeric(raw, errors="coerce")
    text_bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if text_bad.any():
        bad = int(text_bad.to_numpy().argmax())
        raise IngestError(path, col, f"not a number: {raw.iloc[bad]!r} (row {bad})")
    v = values.to_numpy(dtype=np.float64)
    keep = np.isfinite(v)
    if not keep.any():
        return None
    order = np.argsort(t[keep], kind="stable")
    ts, vs = t[keep][order], v[keep][order]
    n_dup = int(ts.size - np.unique(ts).size)
    if duplicates == "spread":
        ts = _spread(ts)
    else:
        series = pd.Series(vs).groupby(ts).mean()  # duplicate timestamps averaged
        ts, vs = series.index.to_numpy(dtype=np.float64), series.to_numpy()
    fs = spec.get("fs_hz")
    if fs is None and ts.size > 1:  # spread runs: the mean rate (the median interval is a clock artefact)
        fs = (ts.size - 1) / float(ts[-1] - ts[0]) if duplicates == "spread" else 1.0 / float(np.median(np.diff(ts)))
    fs = 1.0 if fs is None else fs
    if not fs > 0:
        raise IngestError(path, f"options.channels.{col}.fs_hz", f"must be positive, got {fs}")
    segments = _segments(ts, vs, float(fs), float(gap_s) if gap_s is not None else 3.0 / fs)
    meta = {
        "column": col,
        "n_source": int(v.size),
        "n_missing": int((~keep).sum()),
        "n_duplicate_times": n_dup,
        "fs_hz": float(fs),
        "n_segments": len(segments),
    }
    return encode_wearable_channel(spec["name"], str(spec["units"]), float(fs), segments), meta


def read_wearable_export(path: str | os.PathLike, options: dict[str, Any] | None = None, uri: str = "") -> Converted:
    """Convert one wearable export (CSV or Parquet) into the record's ``wearable`` column.

    Args:
        path: ``.csv`` or ``.parquet`` file.
        options: reader options (module docstring): ``time_column``, ``time_unit``, ``channels``, ``gap_s``,
            ``channel_column`` + ``value_column`` (long format), ``duplicate_times``, ``device``.
        uri: path recorded in provenance.
    """
    path, opts = Path(path), dict(options or {})
    known = {
        "time_column",
        "time_unit",
        "channels",
        "gap_s",
        "channel_column",
        "value_column",
        "device",
        "duplicate_times",
    }
    unknown = sorted(set(opts) - known)
    if unknown:
        raise IngestError(path, f"options.{unknown[0]}", f"unknown wearable reader option (known: {sorted(known)})")
    frame = _load(path)
    lower = {str(c).lower(): c for c in frame.columns}
    time_col = opts.get("time_column") or next((lower[c] for c in TIME_COLUMNS if c in lower), None)
    if time_col is None or time_col not in frame.columns:
        raise IngestError(path, "options.time_column", f"no time column (looked for {time_col or list(TIME_COLUMNS)})")
    if frame.empty:
        raise IngestError(path, "<file>", "the export has no rows")
    duplicates = str(opts.get("duplicate_times", "mean"))
    if duplicates not in ("mean", "spread"):
        raise IngestError(path, "options.duplicate_times", f"must be 'mean' or 'spread', got {duplicates!r}")
    t, start_hour = _times(path, frame, time_col, str(opts.get("time_unit", "s")))
    if opts.get("channel_column"):  # long format: one row per (time, channel, value)
        ch_col, val_col = opts["channel_column"], opts.get("value_column", "value")
        for col in (ch_col, val_col):
            if col not in frame.columns:
                raise IngestError(path, col, "column named in the options is not in the export")
        specs = _channel_specs(path, frame, time_col, opts.get("channels") or sorted(frame[ch_col].dropna().unique()))
        columns = {c: (t[(frame[ch_col] == c).to_numpy()], frame.loc[frame[ch_col] == c, val_col]) for c in specs}
    else:
        specs = _channel_specs(path, frame, time_col, opts.get("channels"))
        missing = [c for c in specs if c not in frame.columns]
        if missing:
            raise IngestError(path, missing[0], "channel column named in the options is not in the export")
        columns = {c: (t, frame[c]) for c in specs}
    channels, meta_channels, empty = [], [], []
    for col, spec in specs.items():
        out = _channel(path, col, spec, *columns[col], opts.get("gap_s"), duplicates)
        if out is None:
            empty.append(col)
            continue
        channels.append(out[0])
        meta_channels.append(out[1])
    if not channels:
        raise IngestError(path, "<columns>", f"every channel is empty ({empty})")
    names = [c["name"] for c in channels]
    if len(set(names)) != len(names):
        raise IngestError(path, "options.channels", f"duplicate channel names {names}")
    value = encode_wearable(channels, start_hour=start_hour, device=opts.get("device"))
    meta = {
        "rows": int(len(frame)),
        "time_column": str(time_col),
        "channels": meta_channels,
        "empty_channels": empty,
        "time_kind": "datetime" if start_hour is not None else f"numeric ({opts.get('time_unit', 's')})",
    }
    return Converted("wearable", value, "wearable", uri or str(path), sha256_files([path]), meta)
