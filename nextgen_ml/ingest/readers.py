"""Registry of per-patient file readers: manifest ``format`` → function returning converted columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.ingest.deid import Pseudonymiser
from nextgen_ml.ingest.manifest import IngestOptions, SourceFile
from nextgen_ml.ingest.provenance import Converted


@dataclass(frozen=True)
class ReadContext:
    """What every reader may use: options and the pseudonymiser."""

    options: IngestOptions
    pseudo: Pseudonymiser
    dictionary: DataDictionary | None = None  # the store's data dictionary (coded declarations read from FHIR)


Reader = Callable[[SourceFile, ReadContext], list[Converted]]


def _dicom_image(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.dicom_image import read_dicom_image

    return [read_dicom_image(src.path, ctx.options, ctx.pseudo, src.raw_path, view=src.view)]


def _dicom_ecg(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.dicom_ecg import read_dicom_ecg

    return [read_dicom_ecg(src.path, ctx.options, ctx.pseudo, src.raw_path)]


def _dicom(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    """A DICOM file or series folder: waveform objects are ECGs, anything else is an image."""
    from nextgen_ml.ingest.dicom_common import read_checked
    from nextgen_ml.ingest.dicom_ecg import read_dicom_ecg
    from nextgen_ml.ingest.dicom_image import read_dicom_image

    if src.path.is_dir():
        return _dicom_image(src, ctx)
    ds = read_checked(src.path, ctx.options)
    if "WaveformSequence" in ds:
        return [read_dicom_ecg(src.path, ctx.options, ctx.pseudo, src.raw_path, dataset=ds)]
    return [read_dicom_image(src.path, ctx.options, ctx.pseudo, src.raw_path, view=src.view, dataset=ds)]


def _wfdb(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.wfdb_ecg import read_wfdb_ecg

    return [read_wfdb_ecg(src.path, ctx.options, ctx.pseudo, src.raw_path)]


def _nifti(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.nifti import read_nifti

    return [read_nifti(src.path, ctx.options, ctx.pseudo, src.raw_path, view=src.view, modality=src.modality)]


def _fhir(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.fhir import read_fhir_bundle

    opts = ctx.options
    tabular, text, labels = read_fhir_bundle(
        src.path,
        ctx.pseudo,
        src.raw_path,
        absent_means_no=opts.fhir_absent_means_no,
        max_bytes=opts.json_max_bytes,
        max_depth=opts.json_max_depth,
        dictionary=ctx.dictionary or SYNTHETIC_DICTIONARY,
    )
    return [c for c in (tabular, text, labels) if c is not None]


def _wav(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.heart_sound_wav import read_heart_sound_wav

    return [read_heart_sound_wav(src.path, ctx.options, src.raw_path, view=src.view)]


def _wearable(src: SourceFile, ctx: ReadContext) -> list[Converted]:
    from nextgen_ml.ingest.wearable_csv import read_wearable_export

    return [read_wearable_export(src.path, src.options, src.raw_path)]


READERS: dict[str, Reader] = {
    "dicom": _dicom,
    "dicom_image": _dicom_image,
    "dicom_ecg": _dicom_ecg,
    "wfdb": _wfdb,
    "nifti": _nifti,
    "fhir": _fhir,
    "wav": _wav,
    "wearable": _wearable,
}
