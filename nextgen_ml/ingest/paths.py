"""Where manifest files may live, how they are named in reports, and reading the manifest text safely.

Every path a manifest lists must resolve (symlinks followed) inside the manifest's folder unless
``options.allow_outside_paths`` is true, so a manifest cannot make ingest read ``/etc/shadow`` or another
patient's export through ``../``, an absolute path or a link. Reports and provenance name files relative to the
manifest folder; a file outside it is named ``<outside>/<file name>``: absolute paths never leave the machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nextgen_ml.ingest.manifest import Manifest

#: Largest manifest text read (a YAML bomb or a wrong file is refused before parsing).
MANIFEST_MAX_BYTES = 64 << 20
OUTSIDE = "<outside>"
_ABSOLUTE = re.compile(r"(?<![\w.~])/(?:[\w.@+\-]+/)+([\w.@+\-]*)")


def is_inside(path: str | os.PathLike, base: str | os.PathLike) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``base``."""
    try:
        Path(path).resolve().relative_to(Path(base).resolve())
    except ValueError:
        return False
    return True


def display_uri(base: str | os.PathLike, value: str) -> str:
    """How a manifest path is named in reports and provenance: relative to ``base``, never absolute."""
    path = Path(value)
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.relative_to(Path(base)).as_posix()
    except ValueError:
        return f"{OUTSIDE}/{path.name}"


def redact_paths(text: str, base: str | os.PathLike | None = None) -> str:
    """``text`` with absolute paths made relative to ``base`` (or cut to ``<path>/<name>`` outside it)."""
    if base is not None:
        for root in {str(Path(base)), str(Path(base).resolve())}:
            text = text.replace(root.rstrip("/") + "/", "")
    return _ABSOLUTE.sub(lambda m: f"<path>/{m.group(1)}", text)


def _listed(manifest: Manifest) -> list[tuple[str, Path]]:
    """``(key path, resolved path)`` of every file the manifest lists (``panel_from_store`` is a store we wrote)."""
    items: list[tuple[str, Path]] = [(f"genotypes[{i}].path", p) for i, p in enumerate(manifest.vcfs)]
    items += [(f"clinical_csv[{i}].path", c.path) for i, c in enumerate(manifest.csvs)]
    if manifest.panel is not None:
        items.append(("panel", manifest.panel))
    for patient in manifest.patients:
        items += [(f"patients[{patient.index}].files[{j}].path", f.path) for j, f in enumerate(patient.files)]
    return items


def check_paths(manifest: Manifest, base: str | os.PathLike) -> None:
    """Refuse manifest paths outside ``base`` (``../``, absolute, symlinks) unless the options allow them.

    Raises:
        ValueError: naming the key path of the first offending entry.
    """
    if manifest.options.allow_outside_paths:
        return
    for where, path in _listed(manifest):
        if not is_inside(path, base):
            link = " (a symbolic link)" if path.is_symlink() else ""
            raise ValueError(
                f"manifest {where}: {display_uri(base, str(path))}{link} is outside the manifest folder; "
                "set options.allow_outside_paths: true to allow it"
            )


def load_yaml(text: str, where: str | os.PathLike = "<string>") -> Any:
    """``yaml.safe_load`` with every parser failure (syntax, nesting depth, size) as one ``ValueError`` line."""
    import yaml

    name = Path(where).name
    if len(text) > MANIFEST_MAX_BYTES:
        raise ValueError(f"manifest {name}: {len(text)} characters, more than {MANIFEST_MAX_BYTES} (not a manifest?)")
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ValueError(f"manifest {name}: not valid YAML ({line}{err.problem or err})") from None
    except (yaml.YAMLError, RecursionError, ValueError) as err:
        raise ValueError(f"manifest {name}: not valid YAML ({type(err).__name__})") from None


def read_manifest_text(path: Path) -> str:
    """The manifest file's text; a missing, oversized, binary or non-UTF-8 file raises one ``ValueError`` line."""
    if not path.is_file():
        raise ValueError(f"manifest {path}: file not found")
    if path.stat().st_size > MANIFEST_MAX_BYTES:
        raise ValueError(f"manifest {path.name}: larger than {MANIFEST_MAX_BYTES} bytes (not a manifest?)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"manifest {path.name}: not UTF-8 text (byte {err.start})") from None
