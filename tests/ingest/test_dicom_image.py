"""DICOM images: real echo cine, CT, MR (compressed and not) shipped with pydicom."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from nextgen_ml.data.codec import decode_image
from nextgen_ml.ingest.dicom_image import read_dicom_image
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.manifest import IngestOptions

from .conftest import garbage, pydicom_file


def test_real_echo_cine_keeps_every_frame_and_frame_time(pseudo, options):
    path = pydicom_file("examples_ybr_color.dcm")  # ultrasound, 30 frames, YBR_FULL_422 JPEG baseline
    ds = pydicom.dcmread(path)
    converted = read_dicom_image(path, options, pseudo, view="A4C")
    image = converted.value
    pixels = decode_image(image)
    assert pixels.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns) == (30, 240, 320)
    assert image["frame_time_ms"] == pytest.approx(float(ds.FrameTime))
    assert image["modality"] == "US" and image["view"] == "A4C"
    region = ds.SequenceOfUltrasoundRegions[0]
    assert image["spacing_mm"] == pytest.approx([region.PhysicalDeltaY * 10, region.PhysicalDeltaX * 10])
    rgb = ds.pixel_array.astype(np.float32)  # pydicom decodes YBR to RGB
    luma = np.rint(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    np.testing.assert_array_equal(pixels, luma)
    assert not np.array_equal(pixels[0], pixels[15])  # frames differ: it is a cine, not one frame repeated


def test_ct_applies_rescale_to_hounsfield_units(pseudo, options):
    path = pydicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    pixels = decode_image(read_dicom_image(path, options, pseudo).value)
    np.testing.assert_array_equal(pixels[0], apply_modality_lut(ds.pixel_array, ds))
    assert pixels.dtype == np.int16


@pytest.mark.parametrize(
    "compressed", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_compressed_transfer_syntaxes_decode_like_uncompressed(pseudo, options, compressed):
    reference = decode_image(read_dicom_image(pydicom_file("MR_small.dcm"), options, pseudo).value)
    decoded = read_dicom_image(pydicom_file(compressed), options, pseudo)
    np.testing.assert_array_equal(decode_image(decoded.value), reference)
    assert decoded.value["spacing_mm"] == [0.3125, 0.3125]


def test_monochrome1_is_inverted(tmp_path, pseudo, options):
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "mono1.dcm")
    inverted = decode_image(read_dicom_image(tmp_path / "mono1.dcm", options, pseudo).value)
    np.testing.assert_array_equal(inverted[0].astype(np.int64), -1 - ds.pixel_array.astype(np.int64))


def test_series_folder_stacks_slices_in_position_order(tmp_path, pseudo, options):
    src = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    folder = tmp_path / "series"
    folder.mkdir()
    for k, z in enumerate([4.0, 0.0, 2.0]):  # written out of order
        ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.PixelData = (ds.pixel_array + int(z)).astype(ds.pixel_array.dtype).tobytes()
        ds.save_as(folder / f"slice{k}.dcm")
    image = read_dicom_image(folder, options, pseudo).value
    pixels = decode_image(image)
    assert pixels.shape == (1, 3, 64, 64)
    assert image["spacing_mm"] == pytest.approx([2.0, 0.3125, 0.3125])
    np.testing.assert_array_equal(pixels[0, :, 0, 0], src.pixel_array[0, 0] + np.array([0, 2, 4]))


def test_resample_and_crop_options(pseudo):
    opts = IngestOptions(image_target_spacing_mm=(1.0, 1.0), image_size=(96, 96))
    image = read_dicom_image(pydicom_file("examples_ybr_color.dcm"), opts, pseudo).value
    assert image["shape"] == [30, 96, 96] and image["spacing_mm"] == [1.0, 1.0]
    assert image["dtype"] == "float32"


def test_bad_images_raise_ingest_error(tmp_path, pseudo, options):
    with pytest.raises(IngestError, match="PixelData"):
        read_dicom_image(pydicom_file("MR_truncated.dcm"), options, pseudo)
    with pytest.raises(IngestError, match="not a DICOM file|unreadable"):
        read_dicom_image(garbage(tmp_path / "junk.dcm"), options, pseudo)
    with pytest.raises(IngestError, match="Modality"):
        read_dicom_image(pydicom_file("rtdose.dcm"), options, pseudo)
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    del ds.Rows
    ds.save_as(tmp_path / "norows.dcm")
    with pytest.raises(IngestError, match="Rows"):
        read_dicom_image(tmp_path / "norows.dcm", options, pseudo)


def test_frame_time_vector_gives_mean_increment(tmp_path, pseudo, options):
    ds = pydicom.dcmread(pydicom_file("examples_ybr_color.dcm"))
    del ds.FrameTime
    vector = [0.0] + [30.0 + (k % 2) * 4.0 for k in range(29)]  # irregular timing, mean 31.93 ms
    ds.FrameTimeVector = vector
    ds.save_as(tmp_path / "ftv.dcm")
    converted = read_dicom_image(tmp_path / "ftv.dcm", options, pseudo)
    assert converted.value["frame_time_ms"] == pytest.approx(np.mean(vector[1:]))
    assert converted.metadata["frame_time_vector_ms"] == vector
    ds.FrameTimeVector = vector[:10]
    ds.save_as(tmp_path / "ftv_bad.dcm")
    with pytest.raises(IngestError, match="FrameTimeVector"):
        read_dicom_image(tmp_path / "ftv_bad.dcm", options, pseudo)
