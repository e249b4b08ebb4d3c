"""DICOM images (CT, MR, US; single-frame, multi-frame cine, or a folder holding one series) → ``image``.

Decoding goes through pydicom (compressed transfer syntaxes via pylibjpeg / pylibjpeg-libjpeg /
pylibjpeg-openjpeg when installed). Colour photometric interpretations are converted to grayscale
(pydicom decodes YBR to RGB; PALETTE COLOR goes through the colour LUT; then ITU-R BT.601 luma), MONOCHROME1 is
inverted, and the modality LUT (rescale slope/intercept) is applied with ``pydicom.pixels.apply_modality_lut``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.codec import encode_image
from nextgen_ml.ingest.deid import Pseudonymiser, sha256_files
from nextgen_ml.ingest.dicom_common import dicom_metadata, read_checked, require
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.image_ops import crop_or_pad, resample, storage_dtype
from nextgen_ml.ingest.limits import check_image_claim
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.paths import is_inside
from nextgen_ml.ingest.provenance import Converted

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601
_CM_UNITS = 3  # DICOM PhysicalUnitsXDirection code for centimetres


def _decode(ds: Any, path: Path) -> np.ndarray:
    """Stored pixels as float32 ``(frames, H, W)`` grayscale with modality LUT applied."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    if "PixelData" not in ds:
        raise IngestError(path, "PixelData", "no pixel data (not an image object)")
    rows, cols = int(require(ds, path, "Rows")), int(require(ds, path, "Columns"))
    n_frames = int(ds.get("NumberOfFrames") or 1)
    photometric = str(require(ds, path, "PhotometricInterpretation")).upper()
    try:
        arr = ds.pixel_array  # pydicom ≥ 3 returns RGB for YBR_* colour spaces
    except (ValueError, RuntimeError, NotImplementedError, TypeError, AttributeError, EOFError) as err:
        raise IngestError(path, "PixelData", f"cannot decode ({type(err).__name__}: {err})") from None
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        photometric = "RGB"
    samples = int(ds.get("SamplesPerPixel") or 1)
    colour = samples == 3 or photometric.startswith(("RGB", "YBR"))
    expected = (rows, cols, 3) if colour else (rows, cols)
    if n_frames > 1:
        expected = (n_frames, *expected)
    if arr.shape != expected:
        raise IngestError(path, "PixelData", f"decoded shape {arr.shape} disagrees with the header {expected}")
    if photometric == "MONOCHROME1":  # inverted grayscale: invert the stored values before the modality LUT
        bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
        arr = (-1 - arr) if int(ds.get("PixelRepresentation") or 0) else ((1 << bits) - 1 - arr.astype(np.int64))
    if colour:
        gray = np.rint(arr.astype(np.float32) @ _LUMA)  # (..., H, W), integer luma of a display image
    else:
        gray = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    return gray.reshape(n_frames, rows, cols)  # (F, H, W)


def _pixel_spacing(ds: Any) -> tuple[tuple[float, float], str]:
    """In-plane ``(row, column)`` spacing in mm and the tag it came from."""
    for key in ("PixelSpacing", "ImagerPixelSpacing"):
        if ds.get(key):
            return (float(ds[key].value[0]), float(ds[key].value[1])), key
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and shared[0].get("PixelMeasuresSequence"):
        ps = shared[0].PixelMeasuresSequence[0].get("PixelSpacing")
        if ps:
            return (float(ps[0]), float(ps[1])), "SharedFunctionalGroupsSequence.PixelSpacing"
    regions = ds.get("SequenceOfUltrasoundRegions")
    if regions:
        reg = regions[0]
        if reg.get("PhysicalUnitsXDirection") == _CM_UNITS and reg.get("PhysicalUnitsYDirection") == _CM_UNITS:
            return (
                float(reg.PhysicalDeltaY) * 10.0,
                float(reg.PhysicalDeltaX) * 10.0,
            ), "SequenceOfUltrasoundRegions"
    return (1.0, 1.0), "assumed"


def _frame_time_ms(ds: Any, n_frames: int, path: Path) -> float | None:
    """Time between frames from FrameTime, FrameTimeVector (mean of its increments) or CineRate."""
    if n_frames < 2:
        return None
    if ds.get("FrameTime"):
        return float(ds.FrameTime)
    vector = ds.get("FrameTimeVector")
    if vector:
        increments = np.asarray([float(v) for v in vector], dtype=np.float64)[1:]
        if increments.size != n_frames - 1:
            raise IngestError(path, "FrameTimeVector", f"{increments.size + 1} entries for {n_frames} frames")
        return float(increments.mean())
    if ds.get("CineRate"):
        return 1000.0 / float(ds.CineRate)
    return None


def _slice_position(ds: Any) -> float:
    """Position of a slice along its normal (ImagePositionPatient · normal), else its InstanceNumber."""
    ipp, iop = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if ipp and iop:
        normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
        return float(np.dot(normal, np.asarray(ipp, float)))
    return float(ds.get("InstanceNumber") or 0)


def _series_files(folder: Path, options: IngestOptions) -> list[Path]:
    """The files of a series folder; links leading outside the folder are refused unless the options allow."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        raise IngestError(folder, "<folder>", "no files in the DICOM series folder")
    if not options.allow_outside_paths:
        outside = [p for p in files if not is_inside(p, folder)]
        if outside:
            raise IngestError(folder, outside[0].name, "a link in the series folder leads outside it")
    return files


def _read_series(folder: Path, options: IngestOptions) -> tuple[np.ndarray, tuple[float, ...], Any, list[Path]]:
    """A folder of single-frame slices of one series → ``(1, D, H, W)``; the volume's size is checked first."""
    files = _series_files(folder, options)
    slices = [(read_checked(p, options), p) for p in files]
    first_ds = slices[0][0]
    claim = (1, len(slices), int(require(first_ds, folder, "Rows")), int(require(first_ds, folder, "Columns")))
    check_image_claim(folder, claim, options, "Rows/Columns/<number of files>", "NumberOfFrames")
    series = {str(ds.get("SeriesInstanceUID")) for ds, _ in slices}
    if len(series) != 1:
        raise IngestError(folder, "SeriesInstanceUID", f"folder mixes {len(series)} series")
    slices.sort(key=lambda item: _slice_position(item[0]))
    planes = [_decode(ds, p) for ds, p in slices]
    if len({pl.shape for pl in planes}) != 1 or planes[0].shape[0] != 1:
        raise IngestError(folder, "Rows/Columns", "slices of the series differ in size or are multi-frame")
    positions = np.asarray([_slice_position(ds) for ds, _ in slices])
    first = slices[0][0]
    step = float(np.median(np.diff(positions))) if len(positions) > 1 else float(first.get("SliceThickness") or 1)
    if not step > 0:
        raise IngestError(folder, "ImagePositionPatient", "slices share a position (duplicate or missing)")
    volume = np.stack([pl[0] for pl in planes])[None]  # (1, D, H, W)
    (dy, dx), _ = _pixel_spacing(first)
    return volume, (step, dy, dx), first, [p for _, p in slices]


def read_dicom_image(
    path: str | os.PathLike,
    options: IngestOptions,
    pseudo: Pseudonymiser,
    uri: str = "",
    view: str | None = None,
    dataset: Any = None,
) -> Converted:
    """Convert a DICOM image file (or a folder of one series) into the record's ``image`` column.

    Args:
        path: DICOM file or series folder.
        options: resampling / cropping / frame limits.
        pseudo: pseudonymiser for UIDs.
        uri: path to record in provenance (default ``path``).
        view: acquisition view to record (e.g. ``"A4C"``, ``"SAX"``).
        dataset: an already-read dataset of ``path`` (avoids reading it twice).

    Returns:
        :class:`Converted` with ``image`` pixels ``(frames, H, W)`` (file) or ``(1, D, H, W)`` (series).
    """
    path = Path(path)
    if path.is_dir():
        pixels, spacing, ds, files = _read_series(path, options)
        spacing_source = "series"
    else:
        ds = dataset if dataset is not None else read_checked(path, options)
        pixels = _decode(ds, path)  # (F, H, W)
        (dy, dx), spacing_source = _pixel_spacing(ds)
        spacing, files = (dy, dx), [path]
    if pixels.shape[0] > options.image_max_frames:
        raise IngestError(path, "NumberOfFrames", f"{pixels.shape[0]} frames > image_max_frames")
    if not np.isfinite(pixels).all():
        raise IngestError(path, "PixelData", "decoded pixels contain NaN or infinite values")
    modality = str(ds.get("Modality") or "")
    if modality not in options.image_modalities:
        raise IngestError(path, "Modality", f"{modality or '<missing>'} is not one of {list(options.image_modalities)}")
    frame_time = _frame_time_ms(ds, pixels.shape[0], path)
    if options.image_target_spacing_mm is not None:
        pixels, spacing = resample(pixels, spacing, options.image_target_spacing_mm)
    if options.image_size is not None:
        pixels = crop_or_pad(pixels, options.image_size)
    stored = storage_dtype(pixels)
    meta = dicom_metadata(ds, pseudo)
    meta.update(
        {
            "PhotometricInterpretation": str(ds.get("PhotometricInterpretation")),
            "NumberOfFrames": int(ds.get("NumberOfFrames") or 1),
            "spacing_source": spacing_source,
            "n_files": len(files),
        }
    )
    if ds.get("FrameTimeVector"):
        meta["frame_time_vector_ms"] = [float(v) for v in ds.FrameTimeVector]
    image = encode_image(stored, spacing, modality=modality, view=view, frame_time_ms=frame_time)
    return Converted("image", image, "dicom_image", uri or str(path), sha256_files(files), meta)
