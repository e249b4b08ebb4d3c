"""The ingest report: every source file and every patient ends up either ingested or quarantined, with a reason."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nextgen_ml.ingest.paths import display_uri, redact_paths

REPORT_FILE = "ingest_report.json"


class QuarantineAbort(ValueError):
    """``--strict``: the run stopped at its first quarantine entry (the message names the file or patient)."""


@dataclass
class FileOutcome:
    """What happened to one source file.

    Args:
        patient: the patient's pseudonym (hospital ids never enter the report); cohort files (CSV, VCF) get one
            entry per patient that uses them.
        path: source path as given in the manifest.
        format: reader name (``dicom_image``, ``dicom_ecg``, ``wfdb``, ``nifti``, ``vcf``, ``fhir``, ``csv``).
        status: ``"ingested"`` or ``"quarantined"``.
        field: tag/field/lead at fault when quarantined.
        reason: why it was quarantined.
    """

    patient: str
    path: str
    format: str
    status: str
    field: str | None = None
    reason: str | None = None


@dataclass
class PatientOutcome:
    """What happened to one patient: ``"written"`` (a record in the store) or ``"quarantined"``.

    Args:
        patient: the patient's pseudonym.
        index: position of the patient in the manifest (to find it there without a hospital id).
        status: ``"written"`` or ``"quarantined"``.
        modalities: record columns filled for the patient.
        field: record field at fault when quarantined.
        reason: why it was quarantined.
    """

    patient: str
    index: int
    status: str
    modalities: list[str] = field(default_factory=list)
    field: str | None = None
    reason: str | None = None


@dataclass
class IngestReport:
    """Outcomes of one ingest run; ``files_in == files_ingested + files_quarantined`` by construction.

    Args:
        manifest_sha256: hash of the manifest text.
        files: per-file outcomes.
        patients: per-patient outcomes.
        warnings: values made missing or corrected without quarantining their file (e.g. one impossible
            genotype call), as outcomes with status ``"warning"``; not counted in ``files``.
        fail_fast: raise :class:`QuarantineAbort` at the first quarantine entry (``--strict``).
        base: the manifest folder: paths in entries are made relative to it; no absolute path is kept.
        deidentification: de-identification method that ran (e.g. the DICOM PS3.15 profile, its table edition
            and the implementing package's version) → number of converted files it ran on.
    """

    manifest_sha256: str = ""
    files: list[FileOutcome] = field(default_factory=list)
    patients: list[PatientOutcome] = field(default_factory=list)
    warnings: list[FileOutcome] = field(default_factory=list)
    fail_fast: bool = False
    base: str | None = None
    deidentification: dict[str, int] = field(default_factory=dict)

    def add_deid_method(self, method: str) -> None:
        """Count one converted file de-identified by ``method`` (e.g. the DICOM PS3.15 profile and its version)."""
        self.deidentification[method] = self.deidentification.get(method, 0) + 1

    def add_file(self, outcome: FileOutcome) -> None:
        """Record a file outcome (paths redacted); with ``fail_fast`` a quarantine stops the run."""
        outcome.path = display_uri(self.base or ".", outcome.path)
        outcome.reason = None if outcome.reason is None else redact_paths(outcome.reason, self.base)
        self.files.append(outcome)
        if self.fail_fast and outcome.status == "quarantined":
            raise QuarantineAbort(f"--strict: file {outcome.path} quarantined, field {outcome.field}: {outcome.reason}")

    def add_patient(self, outcome: PatientOutcome) -> None:
        """Record a patient outcome; with ``fail_fast`` a quarantine stops the run."""
        outcome.reason = None if outcome.reason is None else redact_paths(outcome.reason, self.base)
        self.patients.append(outcome)
        if self.fail_fast and outcome.status == "quarantined":
            raise QuarantineAbort(
                f"--strict: patient #{outcome.index} quarantined, field {outcome.field}: {outcome.reason}"
            )

    def add_warning(self, outcome: FileOutcome) -> None:
        """Record a value made missing (or corrected) in a file that was still ingested."""
        outcome.path = display_uri(self.base or ".", outcome.path)
        self.warnings.append(outcome)

    def unwrite(self, patient: str, field: str, reason: str) -> None:
        """Turn a ``written`` patient into ``quarantined`` (the store refused its record)."""
        for outcome in self.patients:
            if outcome.patient == patient and outcome.status == "written":
                outcome.status, outcome.modalities, outcome.field, outcome.reason = "quarantined", [], field, reason
                if self.fail_fast:
                    raise QuarantineAbort(f"--strict: patient #{outcome.index} refused by the store: {reason}")
                return

    def counts(self) -> dict[str, int]:
        """Counts in and out, per file and per patient."""
        f = Counter(o.status for o in self.files)
        p = Counter(o.status for o in self.patients)
        return {
            "files_in": len(self.files),
            "files_ingested": f["ingested"],
            "files_quarantined": f["quarantined"],
            "patients_in": len(self.patients),
            "records_written": p["written"],
            "patients_quarantined": p["quarantined"],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_sha256": self.manifest_sha256,
            "counts": self.counts(),
            "by_format": self.by_format(),
            "deidentification": dict(sorted(self.deidentification.items())),
            "quarantined_files": [asdict(o) for o in self.files if o.status == "quarantined"],
            "quarantined_patients": [asdict(o) for o in self.patients if o.status == "quarantined"],
            "warnings": [asdict(o) for o in self.warnings],
            "files": [asdict(o) for o in self.files],
            "patients": [asdict(o) for o in self.patients],
        }

    def by_format(self) -> dict[str, dict[str, int]]:
        """``{format: {"ingested": n, "quarantined": m}}``."""
        table: dict[str, dict[str, int]] = {}
        for o in self.files:
            row = table.setdefault(o.format, {"ingested": 0, "quarantined": 0})
            row[o.status] += 1
        return dict(sorted(table.items()))

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as JSON (``ingest_report.json``); returns the path."""
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False))
        return out

    def summary(self) -> str:
        """A readable table: files per format, patients, and every quarantine reason."""
        lines = [f"{'format':<14}{'ingested':>10}{'quarantined':>13}"]
        for fmt, row in self.by_format().items():
            lines.append(f"{fmt:<14}{row['ingested']:>10}{row['quarantined']:>13}")
        c = self.counts()
        lines.append(f"{'files':<14}{c['files_ingested']:>10}{c['files_quarantined']:>13}  (in: {c['files_in']})")
        lines.append(
            f"{'patients':<14}{c['records_written']:>10}{c['patients_quarantined']:>13}  (in: {c['patients_in']})"
        )
        for method, n in sorted(self.deidentification.items()):
            lines.append(f"  de-identified {n} file(s): {method}")
        for o in self.files:
            if o.status == "quarantined":
                lines.append(f"  quarantined file {o.path} [{o.format}] field {o.field}: {o.reason}")
        for p in self.patients:
            if p.status == "quarantined":
                lines.append(f"  quarantined patient #{p.index} {p.patient} field {p.field}: {p.reason}")
        for w in self.warnings:
            lines.append(f"  warning {w.path} [{w.format}] patient {w.patient} field {w.field}: {w.reason}")
        return "\n".join(lines)
