"""Typed schema of the ingest manifest (pydantic): structure, types and DUO consent codes.

:func:`validate_manifest_dict` checks the YAML document before :mod:`nextgen_ml.ingest.manifest` reads it, so a
careless manifest (a patient given as a string, ``files: 5``, consent codes as a string, ``chunk_size: ten``,
an unknown DUO code, a misspelt key) fails with one line naming the key path (``patients[3].files``) instead of
a traceback. ``dictionary`` and each ``clinical_csv`` entry pass through as free-form mappings: their own parser
validates them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError, field_validator

from nextgen_ml.governance.duo import TERMS, TERMS_BY_ABBR


class ManifestError(ValueError):
    """A manifest that does not fit the schema; the message starts with ``manifest <key path>:``."""


def _scalar_to_str(value: Any) -> Any:
    """YAML reads ``id: 12345`` as an int; ids and sample names are strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _path_to_mapping(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


Id = Annotated[str, BeforeValidator(_scalar_to_str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentSpec(_Strict):
    """``consent:`` of the manifest or of one patient: DUO CURIEs and, for DS, MONDO CURIEs."""

    codes: list[str]
    diseases: list[str] | None = None

    @field_validator("codes")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        if not codes:
            raise ValueError("at least one DUO code is required")
        for code in codes:
            if code in TERMS:
                continue
            if code.upper() in TERMS_BY_ABBR:
                raise ValueError(f"{code!r} is a shorthand; write its CURIE {TERMS_BY_ABBR[code.upper()].curie!r}")
            raise ValueError(f"{code!r} is not a DUO code known to nextgen_ml.governance.duo")
        return codes

    @field_validator("diseases")
    @classmethod
    def _mondo(cls, diseases: list[str] | None) -> list[str] | None:
        for disease in diseases or []:
            if not disease.startswith("MONDO:"):
                raise ValueError(f"{disease!r} is not a MONDO CURIE")
        return diseases


class FileSpec(_Strict):
    """One per-patient file: a path, or a mapping with a path and reader hints."""

    path: str
    format: str | None = None
    view: str | None = None
    modality: str | None = None
    options: dict[str, Any] | None = None


class PatientSpec(_Strict):
    """One entry of ``patients:``."""

    id: Id
    files: list[Annotated[FileSpec, BeforeValidator(_path_to_mapping)]] | None = None
    vcf_sample: Id | None = None
    split: str | None = None
    labels: dict[str, Any] | None = None
    consent: ConsentSpec | None = None


class GenotypeSpec(_Strict):
    """One cohort VCF/BCF of ``genotypes:``."""

    path: str


class DeidSpec(_Strict):
    """``deid:``: where the pseudonymisation key comes from."""

    key_env: str | None = None


class ManifestSpec(_Strict):
    """The whole manifest document."""

    site: Id
    consent: ConsentSpec | None = None
    deid: DeidSpec | None = None
    options: dict[str, Any] | None = None
    panel: str | None = None
    panel_from_store: str | None = None
    genotypes: list[GenotypeSpec] | None = None
    clinical_csv: list[dict[str, Any]] | None = None
    dictionary: Any = None
    patients: list[PatientSpec] = []  # a CSV-only cohort: its patients are the CSV rows


def key_path(loc: tuple[Any, ...]) -> str:
    """``("patients", 3, "files")`` → ``"patients[3].files"``; pydantic's validator tags are left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "json-or-python")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "<top level>"


def _describe(error: dict[str, Any], prefix: str) -> str:
    where = key_path(tuple(error.get("loc", ())))
    where = f"{prefix}.{where}" if prefix else where
    if error.get("type") == "extra_forbidden":
        return f"manifest {where}: unknown key"
    if error.get("type") == "missing":
        return f"manifest {where}: required key is missing"
    shown = repr(error.get("input"))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"manifest {where}: {message} (got {shown})"


def as_manifest_error(err: ValidationError, prefix: str = "") -> ManifestError:
    """The first error of a pydantic ``ValidationError`` as one line naming the key path."""
    errors = sorted(err.errors(), key=lambda e: e.get("type") != "extra_forbidden")  # a misspelt key first
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ManifestError(_describe(errors[0], prefix) + more)


def validate_manifest_dict(raw: Any) -> ManifestSpec:
    """Check a parsed manifest document against the schema.

    Raises:
        ManifestError: the first problem, naming its key path (``manifest patients[0].files: ...``).
    """
    if not isinstance(raw, dict):
        raise ManifestError(f"manifest: expected a YAML mapping at the top level, got {type(raw).__name__}")
    try:
        return ManifestSpec.model_validate(raw)
    except ValidationError as err:
        raise as_manifest_error(err) from None


def validate_options(raw: Any, options_type: type) -> Any:
    """The ``options:`` mapping as an ``options_type`` dataclass, values coerced (``"64"`` → 64) and checked.

    Raises:
        ManifestError: unknown option or a value of the wrong type (``manifest options.chunk_size: ...``).
    """
    if not isinstance(raw, dict):
        raise ManifestError(f"manifest options: expected a mapping, got {type(raw).__name__}")
    known = set(options_type.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ManifestError(f"manifest options.{unknown[0]}: unknown option (known: {sorted(known)})")
    try:
        return TypeAdapter(options_type).validate_python(raw)
    except ValidationError as err:
        raise as_manifest_error(err, "options") from None
