"""The ingest pipeline: manifest → records (validated) → store, with a quarantine report.

Every per-patient file and every cohort-level entry (a patient's CSV row, a patient's VCF sample) ends up
in the report as ``ingested`` or ``quarantined``; every patient as ``written`` or ``quarantined``. Records are
written in chunks of ``options.chunk_size`` patients into a temporary folder that replaces ``out`` only when
the run is complete, so a re-run gives the same store and a crashed run leaves the previous store intact.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from nextgen_ml.data.append import append_store
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.store import METADATA_FILE, RecordStore, StoreWriter
from nextgen_ml.data.validate import RecordValidationError, validate_record
from nextgen_ml.ingest.clinical import merge_tabular
from nextgen_ml.ingest.deid import Pseudonymiser, resolve_key, sha256_files
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.failure import Failure, failure_from
from nextgen_ml.ingest.manifest import IngestOptions, Manifest, PatientEntry, check_options
from nextgen_ml.ingest.paths import display_uri, load_yaml
from nextgen_ml.ingest.phi import scrub_text_columns
from nextgen_ml.ingest.provenance import Converted
from nextgen_ml.ingest.readers import READERS, ReadContext, Reader
from nextgen_ml.ingest.report import REPORT_FILE, FileOutcome, IngestReport, PatientOutcome, QuarantineAbort
from nextgen_ml.ingest.workers import Outcome, make_decoder
from nextgen_ml.modalities import modality_specs

_CONSENT_FIELDS = {"codes", "diseases"}


def load_panel(manifest: Manifest) -> VariantPanel | None:
    """The variant panel from ``panel`` (JSON or YAML file) or ``panel_from_store`` (an existing store)."""
    if manifest.panel is not None:
        name = display_uri(manifest.base, str(manifest.panel))
        try:
            obj = load_yaml(manifest.panel.read_text(), manifest.panel)  # YAML is a superset of JSON
            return VariantPanel.from_json(json.dumps(obj))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            raise ValueError(f"manifest panel: cannot read {name} ({type(err).__name__}: {err})") from None
    if manifest.panel_from_store is not None:
        panel = RecordStore(manifest.panel_from_store, columns=["patient_id"]).panel
        if panel is None:
            raise ValueError(f"manifest panel_from_store: {manifest.panel_from_store} holds no variant panel")
        return panel
    if manifest.vcfs:
        raise ValueError("manifest panel: genotypes are listed but no panel (panel or panel_from_store) is given")
    return None


class _Cohort:
    """Cohort-level sources read once: CSV rows and VCF dosages, looked up per patient."""

    def __init__(self, manifest: Manifest, panel: VariantPanel | None, decoder: Any = None) -> None:
        from nextgen_ml.ingest.csv_clinical import CsvResult, read_clinical_csv

        self.dictionary = manifest.dictionary
        self.csv: list[tuple[str, CsvResult | IngestError]] = []
        #: (csv uri, patient id) → values made null in that patient's row
        self.csv_issues: dict[tuple[str, str], list[Any]] = {}
        for source in manifest.csvs:
            try:
                result = read_clinical_csv(source, manifest.dictionary)
            except Exception as err:  # noqa: BLE001 - reported for every patient, never fatal
                self.csv.append((source.raw_path, _as_ingest_error(err, source.path, manifest.base)))
                continue
            self.csv.append((source.raw_path, result))
            for issue in result.issues:
                self.csv_issues.setdefault((source.raw_path, issue.patient), []).append(issue)
        self.panel_size = None if panel is None else len(panel)
        self.vcf: list[tuple[str, Any, str]] = []  # (uri, VcfDosages or IngestError, sha256)
        samples = [p.vcf_sample for p in manifest.patients if p.vcf_sample]
        if samples and panel is not None:
            from nextgen_ml.ingest.vcf import read_vcf_dosages

            for path, uri in zip(manifest.vcfs, manifest.vcf_uris):
                try:
                    if decoder is None:
                        dosages = read_vcf_dosages(path, panel, samples)
                    else:
                        dosages = decoder.call(read_vcf_dosages, path, panel, samples)
                    if isinstance(dosages, Failure):  # the worker reading it failed or died
                        raise IngestError(path, dosages.field, dosages.reason)
                    self.vcf.append((uri, dosages, sha256_files([path])))
                except Exception as err:  # noqa: BLE001 - reported for every patient, never fatal
                    self.vcf.append((uri, _as_ingest_error(err, path, manifest.base), ""))


def _as_ingest_error(err: Exception, path: Path, base: Path) -> IngestError:
    """Any exception of a cohort-level reader as an :class:`IngestError` (type and message, no absolute paths)."""
    failure = failure_from(err, base)
    return IngestError(path, failure.field, failure.reason)


def _chunks(items: Iterable[PatientEntry], size: int) -> Iterator[list[PatientEntry]]:
    chunk: list[PatientEntry] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _PatientBuilder:
    """Builds one record, recording each source's outcome in the report."""

    def __init__(self, pid: str, report: IngestReport) -> None:
        self.pid, self.report = pid, report
        self.columns: dict[str, Any] = {}
        self.provenance: list[dict[str, Any]] = []

    def quarantine(self, uri: str, fmt: str, err: IngestError | Failure | str, field: str = "<file>") -> None:
        reason = err.reason if isinstance(err, (IngestError, Failure)) else str(err)
        field = err.field if isinstance(err, (IngestError, Failure)) else field
        self.report.add_file(FileOutcome(self.pid, uri, fmt, "quarantined", field, reason))

    def add(self, converted: list[Converted], uri: str) -> None:
        clash = [c for c in converted if c.column in self.columns and c.column != "tabular"]
        if clash:
            other = next(p["uri"] for p in self.provenance if p["modality"] == clash[0].column)
            msg = f"patient already has a {clash[0].column} column (from {other}); one per record"
            self.quarantine(uri, converted[0].format, msg, clash[0].column)
            return
        for c in converted:
            value = merge_tabular(self.columns.get("tabular"), c.value) if c.column == "tabular" else c.value
            self.columns[c.column] = value
            self.provenance.append(c.provenance())
        self.report.add_file(FileOutcome(self.pid, uri, converted[0].format, "ingested"))


def _build(
    entry: PatientEntry,
    manifest: Manifest,
    ctx: ReadContext,
    cohort: _Cohort,
    report: IngestReport,
    outcomes: Sequence[Outcome],
) -> dict[str, Any] | None:
    pid = ctx.pseudo.patient_id(manifest.site, entry.id)
    builder = _PatientBuilder(pid, report)
    for src, outcome in zip(entry.files, outcomes):
        if isinstance(outcome, Failure):
            builder.quarantine(src.raw_path, src.format, outcome)
        else:
            builder.add(outcome, src.raw_path)
    fhir_labels = builder.columns.pop("labels", None)
    csv_labels: dict[str, Any] = {}
    for uri, result in cohort.csv:
        if isinstance(result, IngestError):
            builder.quarantine(uri, "csv", result)
        elif entry.id in result.errors:
            builder.quarantine(uri, "csv", result.errors[entry.id])
        elif entry.id in result.tabular:
            builder.add([result.tabular[entry.id]], uri)
            csv_labels.update({k: v for k, v in result.labels[entry.id].items() if v is not None})
        for issue in cohort.csv_issues.get((uri, entry.id), []):
            report.add_warning(FileOutcome(pid, uri, "csv", "warning", issue.where, f"{issue.value!r}: {issue.reason}"))
    if entry.vcf_sample:
        _add_genotype(builder, entry, cohort)
    record = {
        "patient_id": pid,
        "site": manifest.site,
        "consent": {**manifest.consent, **(entry.consent or {})},
        "split": entry.split,
        **{spec.column: None for spec in modality_specs()},
        **builder.columns,
        # labels: FHIR's coded ones, then the CSVs', then the manifest's own (later sources win)
        "labels": {**(fhir_labels or {}), **csv_labels, **(entry.labels or {})} or None,
        "provenance": builder.provenance,
    }
    problem = _check_extras(record, cohort.dictionary)
    if problem is None and not builder.columns:
        problem = ("<record>", "no source of the patient could be ingested")
    if problem is None:
        try:
            validate_record(record, cohort.panel_size, cohort.dictionary)
        except RecordValidationError as err:
            problem = (err.field, str(err).split(": ", 1)[-1])
    if problem is not None:
        report.add_patient(PatientOutcome(pid, entry.index, "quarantined", [], *problem))
        return None
    report.add_patient(PatientOutcome(pid, entry.index, "written", sorted(builder.columns)))
    return record


def _add_genotype(builder: _PatientBuilder, entry: PatientEntry, cohort: _Cohort) -> None:
    """The patient's dosages from the first VCF holding its sample; every VCF failure is reported."""
    found = False
    for uri, result, sha in cohort.vcf:
        if isinstance(result, IngestError):
            builder.quarantine(uri, "vcf", result)
        elif entry.vcf_sample in result.dosages and not found:
            dosages = [float(d) for d in result.dosages[entry.vcf_sample].tolist()]
            meta = {**result.summary(), "n_missing": sum(d != d for d in dosages)}
            invalid = result.invalid_calls.get(entry.vcf_sample, [])
            if invalid:
                meta["invalid_calls"] = invalid
                reason = f"{len(invalid)} impossible call(s) set missing: {'; '.join(invalid[:3])}"
                builder.report.add_warning(FileOutcome(builder.pid, uri, "vcf", "warning", "genotype", reason))
            builder.add([Converted("genotype", {"dosages": dosages, "prs": None}, "vcf", uri, sha, meta)], uri)
            found = True
    if not found and all(not isinstance(r, IngestError) for _, r, _ in cohort.vcf):
        builder.quarantine("<genotypes>", "vcf", f"sample of patient #{entry.index} is in no listed VCF", "vcf_sample")


def _report_unlisted(cohort: _Cohort, patients: Sequence[PatientEntry], report: IngestReport) -> None:
    """CSV rows of patients the manifest does not list are not ingested: one warning per CSV names their rows."""
    listed = {p.id for p in patients}
    for uri, result in cohort.csv:
        if isinstance(result, IngestError):
            continue
        rows = sorted(c.metadata["row"] for pid, c in result.tabular.items() if pid not in listed)
        if rows:
            shown = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
            reason = f"{len(rows)} row(s) of patients the manifest does not list were not ingested (rows {shown})"
            report.add_warning(FileOutcome("<unlisted>", uri, "csv", "warning", "<rows>", reason))


def all_patients(manifest: Manifest) -> list[PatientEntry]:
    """The manifest's patients; a manifest that lists none (a CSV-only cohort) takes its CSVs' rows as patients.

    When patients are listed, CSV rows of unlisted patients are not ingested (the pipeline reports them).
    """
    from nextgen_ml.ingest.csv_clinical import csv_patient_ids

    patients = list(manifest.patients)
    if patients:
        return patients
    known: set[str] = set()
    for source in manifest.csvs:
        for pid in csv_patient_ids(source):
            if pid not in known:
                known.add(pid)
                patients.append(PatientEntry(index=len(patients), id=pid, files=()))
    return patients


def _check_extras(record: dict[str, Any], dictionary: DataDictionary) -> tuple[str, str] | None:
    """Manifest-supplied labels/consent keys the schema does not know (Arrow would drop them silently)."""
    for column, known in (("labels", set(dictionary.labels)), ("consent", _CONSENT_FIELDS)):
        unknown = sorted(set(record.get(column) or {}) - known)
        if unknown:
            return f"{column}.{unknown[0]}", f"not a field of the record's {column} struct"
    return None


def _prepare_out(out: Path) -> Path:
    """Check ``out`` may be replaced; returns the temporary folder the run writes into."""
    is_store = (out / METADATA_FILE).exists() or (out / REPORT_FILE).exists()
    if out.exists() and any(out.iterdir()) and not is_store:
        raise ValueError(f"out: {out} exists, is not empty and is not a nextgen_ml store; refusing to replace it")
    tmp = out.parent / f".{out.name}.ingest-tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _replace(tmp: Path, out: Path) -> None:
    """Swap the finished ``tmp`` folder into place of ``out``."""
    old = out.parent / f".{out.name}.ingest-old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    if old.exists():
        shutil.rmtree(old)


def ingest(
    manifest: Manifest,
    out: str | os.PathLike,
    key: bytes | None = None,
    options: IngestOptions | None = None,
    progress: bool = True,
    strict: bool = False,
    readers: Mapping[str, Reader] | None = None,
    append: bool = False,
) -> IngestReport:
    """Ingest every patient of ``manifest`` into a store at ``out`` (replaced atomically when complete).

    No exception of a reader, a worker or a patient's record aborts the run: each becomes a quarantine entry
    (exception type, message, file relative to the manifest, field), and every valid patient is written.

    Args:
        manifest: parsed manifest (:func:`nextgen_ml.ingest.manifest.load_manifest`).
        out: store folder; an existing store there is replaced, any other non-empty folder is refused.
        key: pseudonymisation key (default: from the manifest's ``deid.key_env`` / ``NEXTGEN_ML_INGEST_KEY``).
        options: override the manifest's options (``workers`` > 0 decodes files in worker processes).
        progress: show a tqdm progress bar on stderr.
        strict: stop at the first quarantine entry (:class:`~nextgen_ml.ingest.report.QuarantineAbort`); the
            previous store at ``out`` is left untouched.
        readers: format → reader (default :data:`~nextgen_ml.ingest.readers.READERS`); readers must be
            importable module-level functions when ``workers`` > 0.
        append: add the records to the existing store at ``out`` (same data dictionary, format and panel; its
            parts are never rewritten) instead of replacing it.

    Returns:
        The report (also written to ``out/ingest_report.json``).
    """
    from tqdm.auto import tqdm

    out = Path(out)
    opts = options or manifest.options
    readers = READERS if readers is None else readers
    ctx = ReadContext(
        opts, Pseudonymiser(key if key is not None else resolve_key(manifest.key_env)), manifest.dictionary
    )
    panel = load_panel(manifest)
    report = IngestReport(manifest_sha256=manifest.sha256, fail_fast=strict, base=str(manifest.base))
    tmp = _prepare_out(out)
    decoder = make_decoder(ctx, manifest.base)
    try:
        cohort = _Cohort(manifest, panel, decoder if opts.workers > 0 else None)  # with workers: VCFs there too
        meta = {"ingest": {"manifest_sha256": manifest.sha256, "options": asdict(opts)}}
        writer = StoreWriter(
            tmp, panel=panel, format=opts.store_format, extra_metadata=meta, dictionary=manifest.dictionary
        )
        patients = all_patients(manifest)
        _report_unlisted(cohort, patients, report)
        bar = tqdm(total=len(patients), desc="ingest", unit="patient", disable=not progress)
        for chunk in _chunks(patients, opts.chunk_size):
            decoded = decoder.map([(readers[src.format], src) for p in chunk for src in p.files])  # lazy, in order
            built = []
            for p in chunk:  # each patient is built as soon as its files are decoded (--strict stops at once)
                outcomes = [scrub_text_columns(next(decoded), [p.id]) for _ in p.files]
                _note_deid_methods(outcomes, report)
                built.append(_build_isolated(p, outcomes, manifest, ctx, cohort, report))
            _write(writer, [r for r in built if r is not None], report)
            bar.update(len(chunk))
        bar.close()
        writer.close()
        report.write(tmp / REPORT_FILE)
        if append and (out / METADATA_FILE).exists():
            append_store(tmp, out)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        decoder.close()
    return report


def _note_deid_methods(outcomes: list[Any], report: IngestReport) -> None:
    """Count the de-identification method each converted file names (``DeidentificationMethod``)."""
    for columns in outcomes:
        if isinstance(columns, list):
            for method in {c.metadata.get("DeidentificationMethod") for c in columns} - {None}:
                report.add_deid_method(method)


def _build_isolated(
    entry: PatientEntry,
    outcomes: Sequence[Outcome],
    manifest: Manifest,
    ctx: ReadContext,
    cohort: _Cohort,
    report: IngestReport,
) -> dict[str, Any] | None:
    """:func:`_build`, with any exception while building the record quarantining the patient (not the run)."""
    try:
        return _build(entry, manifest, ctx, cohort, report, outcomes)
    except QuarantineAbort:
        raise
    except Exception as err:  # noqa: BLE001 - one patient's failure must not lose the others
        failure = failure_from(err, manifest.base, "<record>")
        pid = ctx.pseudo.patient_id(manifest.site, entry.id)
        report.add_patient(PatientOutcome(pid, entry.index, "quarantined", [], failure.field, failure.reason))
        return None


def _write(writer: StoreWriter, records: list[dict[str, Any]], report: IngestReport) -> None:
    """Write a chunk; if the chunk fails, write record by record and quarantine the ones the store refuses."""
    if not records:
        return
    try:
        writer.write(records)
        return
    except Exception:  # noqa: BLE001 - find the record at fault below
        pass
    for record in records:
        try:
            writer.write([record])
        except Exception as err:  # noqa: BLE001 - the store refused this record only
            failure = failure_from(err, report.base, "<store>")
            report.unwrite(record["patient_id"], failure.field, failure.reason)


def with_options(manifest: Manifest, **overrides: Any) -> IngestOptions:
    """The manifest's options with the non-None ``overrides`` applied (used by the CLI)."""
    return check_options(replace(manifest.options, **{k: v for k, v in overrides.items() if v is not None}))
