"""NIfTI files shipped with nibabel."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from nextgen_ml.data.codec import decode_image
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.nifti import read_nifti

from .conftest import garbage, truncate


def test_4d_nifti_becomes_frames_of_volumes(pseudo, options):
    path = Path(data_path) / "example4d.nii.gz"
    img = nib.as_closest_canonical(nib.load(path))
    converted = read_nifti(path, options, pseudo, view="SAX")
    image = converted.value
    x, y, z, t = img.shape
    assert image["shape"] == [t, z, y, x]
    sx, sy, sz = img.header.get_zooms()[:3]
    assert image["spacing_mm"] == pytest.approx([sz, sy, sx])
    assert image["modality"] == "MR" and image["frame_time_ms"] is not None
    np.testing.assert_array_equal(decode_image(image), np.transpose(np.asarray(img.dataobj), (3, 2, 1, 0)))
    assert converted.metadata["orientation"] == "RAS"


def test_3d_nifti_is_one_frame_and_resamples(pseudo):
    path = Path(data_path) / "anatomical.nii"
    image = read_nifti(
        path, IngestOptions(image_target_spacing_mm=(4.0, 4.0), default_image_modality="CT"), pseudo
    ).value
    img = nib.load(path)
    x, y, z = img.shape
    assert image["shape"][:2] == [1, z] and image["shape"][2] == pytest.approx(y / 2, abs=1)
    assert image["spacing_mm"][1:] == [4.0, 4.0] and image["modality"] == "CT"


def test_corrupt_nifti_raises(tmp_path, pseudo, options):
    with pytest.raises(IngestError, match="unreadable NIfTI"):
        read_nifti(garbage(tmp_path / "junk.nii"), options, pseudo)
    with pytest.raises(IngestError):
        read_nifti(truncate(Path(data_path) / "example4d.nii.gz", tmp_path / "trunc.nii.gz"), options, pseudo)
