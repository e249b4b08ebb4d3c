"""Append one store's records to another store of the same dataset (``nextgen-ml ingest --append``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nextgen_ml.data.store import METADATA_FILE, check_appendable, read_dictionary


def append_store(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Move the records of the store at ``src`` into the existing store at ``dst`` (which keeps every part it has).

    The two stores must share data dictionary, format and variant panel. Part files are moved in with the next
    free part numbers, then ``dst``'s metadata is replaced atomically (counts added, ``src``'s provenance kept in
    ``appends``); other files of ``src`` (an ingest report) are kept beside with an ``.append-N`` suffix.

    Raises:
        StoreError: the stores differ in dictionary, format or panel (nothing is moved).
    """
    src, dst = Path(src), Path(dst)
    new = json.loads((src / METADATA_FILE).read_text())
    old = json.loads((dst / METADATA_FILE).read_text())
    check_appendable(dst, old, read_dictionary(new), new.get("format", "ipc"), new.get("panel"))
    n = len(old.get("appends", [])) + 1
    counts = dict(old.get("sites", {}))
    for site, count in new.get("sites", {}).items():
        folder = dst / f"site={site}"
        folder.mkdir(exist_ok=True)
        start = len(list(folder.glob("part-*")))
        for k, part in enumerate(sorted((src / f"site={site}").glob("part-*"))):
            os.replace(part, folder / f"part-{start + k:05d}{part.suffix}")
        counts[site] = counts.get(site, 0) + count
    for extra in src.iterdir():
        if extra.is_file() and extra.name != METADATA_FILE:
            os.replace(extra, dst / f"{extra.stem}.append-{n}{extra.suffix}")
    meta = {
        **old,
        "n_records": sum(counts.values()),
        "sites": dict(sorted(counts.items())),
        "panel": old.get("panel") if old.get("panel") is not None else new.get("panel"),
        "appends": [*old.get("appends", []), {k: v for k, v in new.items() if k not in ("dictionary", "panel")}],
    }
    tmp = dst / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, dst / METADATA_FILE)
    return dst
