"""NIfTI-1/2 images (``.nii``, ``.nii.gz``) → ``image`` via nibabel.

The image is reoriented to the closest canonical (RAS+) orientation, then axes ``(x, y, z[, t])`` become
``(t, z, y, x)``: a 4-D file is a cine of 3-D volumes ``(frames, D, H, W)``; a single-slice series
(``z == 1``) becomes ``(frames, H, W)``. Spatial units are converted to mm and the time step to ms.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.codec import encode_image
from nextgen_ml.ingest.deid import Pseudonymiser, sha256_files
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.image_ops import crop_or_pad, resample, storage_dtype
from nextgen_ml.ingest.limits import check_image_claim
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.provenance import Converted

_SPACE_TO_MM = {"mm": 1.0, "meter": 1000.0, "micron": 0.001, "unknown": 1.0}
_TIME_TO_MS = {"sec": 1000.0, "msec": 1.0, "usec": 0.001}


def _check_header(img: Any, path: Path, options: IngestOptions) -> None:
    """Refuse a header whose dimensions claim more frames or decoded bytes than the limits allow."""
    shape = tuple(int(d) for d in img.shape)
    if not 3 <= len(shape) <= 5:
        raise IngestError(path, "dim", f"expected a 3-D or 4-D image, header says {shape}")
    frames = shape[3] if len(shape) > 3 else 1
    check_image_claim(path, (frames, *shape[:3], *shape[4:]), options, "dim", "dim[4]")


def read_nifti(
    path: str | os.PathLike,
    options: IngestOptions,
    pseudo: Pseudonymiser,
    uri: str = "",
    view: str | None = None,
    modality: str | None = None,
) -> Converted:
    """Convert a NIfTI file into the record's ``image`` column.

    Args:
        path: ``.nii`` / ``.nii.gz`` file.
        options: resampling / cropping / frame limits, default modality.
        pseudo: unused (NIfTI carries no UIDs); kept for a uniform reader signature.
        uri: path to record in provenance.
        view: acquisition view to record.
        modality: DICOM modality code (default ``options.default_image_modality``).
    """
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    del pseudo
    path = Path(path)
    try:
        img = nib.load(str(path))  # header only; the data stays on disk
        _check_header(img, path, options)
        img = nib.as_closest_canonical(img)
        data = np.asarray(img.dataobj, dtype=np.float32)
    except (ImageFileError, OSError, EOFError, ValueError, TypeError, zlib.error) as err:
        if isinstance(err, IngestError):
            raise
        raise IngestError(path, "<file>", f"unreadable NIfTI ({type(err).__name__}: {err})") from None
    if data.ndim == 5 and data.shape[3] == 1:
        data = data[:, :, :, 0]  # (x, y, z, 1, c)
    if data.ndim not in (3, 4):
        raise IngestError(path, "dim", f"expected a 3-D or 4-D image, got shape {data.shape}")
    if data.ndim == 3:
        data = data[..., None]  # (x, y, z, 1)
    if data.shape[3] > options.image_max_frames:
        raise IngestError(path, "dim[4]", f"{data.shape[3]} frames > image_max_frames")
    if not np.isfinite(data).all():
        raise IngestError(path, "data", "image contains NaN or infinite values")
    space_unit, time_unit = img.header.get_xyzt_units()
    zooms = [float(z) for z in img.header.get_zooms()]
    sx, sy, sz = (z * _SPACE_TO_MM.get(space_unit, 1.0) for z in (zooms + [1.0, 1.0, 1.0])[:3])
    pixels = np.transpose(data, (3, 2, 1, 0))  # (T, z, y, x) = (frames, D, H, W)
    spacing: tuple[float, ...] = (sz, sy, sx)
    if pixels.shape[1] == 1:
        pixels, spacing = pixels[:, 0], (sy, sx)  # (frames, H, W)
    frame_time = None
    if pixels.shape[0] > 1 and len(zooms) > 3 and zooms[3] > 0:
        frame_time = zooms[3] * _TIME_TO_MS.get(time_unit, 1000.0)
    if options.image_target_spacing_mm is not None:
        pixels, spacing = resample(pixels, spacing, options.image_target_spacing_mm)
    if options.image_size is not None:
        pixels = crop_or_pad(pixels, options.image_size)
    meta = {
        "format_version": type(img).__name__,
        "source_shape": list(img.shape),
        "source_zooms": zooms,
        "xyzt_units": [space_unit, time_unit],
        "orientation": "".join(nib.aff2axcodes(img.affine)),
    }
    image = encode_image(
        storage_dtype(pixels),
        spacing,
        modality=modality or options.default_image_modality,
        view=view,
        frame_time_ms=frame_time,
    )
    return Converted("image", image, "nifti", uri or str(path), sha256_files([path]), meta)
