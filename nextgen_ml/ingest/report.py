"""The ingest report: every source file and every patient ends up either ingested or quarantined, with a reason."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_FILE = "ingest_report.json"


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
    """Outcomes of one ingest run; ``files_in == files_ingested + files_quarantined`` by construction."""

    manifest_sha256: str = ""
    files: list[FileOutcome] = field(default_factory=list)
    patients: list[PatientOutcome] = field(default_factory=list)

    def add_file(self, outcome: FileOutcome) -> None:
        self.files.append(outcome)

    def add_patient(self, outcome: PatientOutcome) -> None:
        self.patients.append(outcome)

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
            "quarantined_files": [asdict(o) for o in self.files if o.status == "quarantined"],
            "quarantined_patients": [asdict(o) for o in self.patients if o.status == "quarantined"],
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
        for o in self.files:
            if o.status == "quarantined":
                lines.append(f"  quarantined file {o.path} [{o.format}] field {o.field}: {o.reason}")
        for p in self.patients:
            if p.status == "quarantined":
                lines.append(f"  quarantined patient #{p.index} {p.patient} field {p.field}: {p.reason}")
        return "\n".join(lines)
