"""A corpus of hostile and odd input files of every per-patient format, written by the tests themselves.

Each :class:`Case` writes one input (a file or a series folder) into a case folder and says what ingest must
do with it: ``quarantined`` with a reason matching ``match`` (a regular expression over ``field: reason``), or
``ingested``. The files are small: a header that claims hundreds of GiB is a few kB on disk.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..conftest import LIMB_AND_CHEST, einthoven_ecg, fhir_fixture, pydicom_file, write_wfdb


@dataclass(frozen=True)
class Case:
    """One hostile input.

    Args:
        name: unique name (also the patient id suffix).
        make: writes the input under the given folder; returns the manifest file entry (path or mapping).
        expect: ``"quarantined"`` or ``"ingested"``.
        match: regular expression the quarantine entry's ``field: reason`` must match.
    """

    name: str
    make: Callable[[Path], str | dict]
    expect: str = "quarantined"
    match: str = ""


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# --- DICOM ------------------------------------------------------------------------------------------------


def _dicom(name: str, edit: Callable | None = None, src: str = "CT_small.dcm") -> Callable[[Path], str]:
    def make(root: Path) -> str:
        import pydicom

        ds = pydicom.dcmread(pydicom_file(src))
        if edit is not None:
            edit(ds)
        out = root / "dicom" / f"{name}.dcm"
        out.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(out, enforce_file_format=False)
        return _rel(out, root)

    return make


def _raw(name: str, data: bytes | Callable[[], bytes], folder: str = "dicom", ext: str = ".dcm") -> Callable:
    def make(root: Path) -> str:
        out = root / folder / f"{name}{ext}"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data() if callable(data) else data)
        return _rel(out, root)

    return make


def _truncated(src: str, keep: float, name: str) -> Callable[[Path], str]:
    return _raw(name, lambda: (lambda b: b[: int(len(b) * keep)])(pydicom_file(src).read_bytes()))


def _set(**tags: object) -> Callable:
    def edit(ds: object) -> None:
        for key, value in tags.items():
            setattr(ds, key, value)

    return edit


def _delete(*keywords: str) -> Callable:
    def edit(ds: object) -> None:
        for key in keywords:
            delattr(ds, key)

    return edit


def _half_pixels(ds: object) -> None:
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]


def _ecg_group(**tags: object) -> Callable:
    def edit(ds: object) -> None:
        for key, value in tags.items():
            setattr(ds.WaveformSequence[0], key, value)

    return edit


def _ecg_unit(code: str) -> Callable:
    def edit(ds: object) -> None:
        for channel in ds.WaveformSequence[0].ChannelDefinitionSequence:
            channel.ChannelSensitivityUnitsSequence[0].CodeValue = code

    return edit


def _ecg_no_sensitivity(ds: object) -> None:
    del ds.WaveformSequence[0].ChannelDefinitionSequence[3].ChannelSensitivity


def _ecg_half_data(ds: object) -> None:
    group = ds.WaveformSequence[0]
    group.WaveformData = group.WaveformData[: len(group.WaveformData) // 2]


def _series(name: str, kind: str) -> Callable[[Path], dict]:
    def make(root: Path) -> dict:
        import pydicom

        folder = root / "dicom" / name
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "link_outside":
            outside = root.parent / "outside_secret.dcm"
            outside.write_bytes(pydicom_file("CT_small.dcm").read_bytes())
            os.symlink(outside, folder / "slice0.dcm")
        elif kind == "mixed":
            for k in range(2):
                ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
                ds.SeriesInstanceUID = f"1.2.3.{k}"
                ds.save_as(folder / f"slice{k}.dcm", enforce_file_format=False)
        return {"path": _rel(folder, root), "format": "dicom_image"}

    return make


DICOM_CASES: tuple[Case, ...] = (
    Case("dcm_zero_bytes", _raw("dcm_zero_bytes", b""), match=r"<file>"),
    Case("dcm_garbage", _raw("dcm_garbage", lambda: np.random.default_rng(1).bytes(4096)), match=r"<file>"),
    Case("dcm_text", _raw("dcm_text", b"Patient: John Smith, MRN 12345\n" * 10), match=r"<file>"),
    Case("dcm_png", _raw("dcm_png", b"\x89PNG\r\n\x1a\n" + bytes(200)), match=r"<file>"),
    Case("dcm_preamble_only", _raw("dcm_preamble_only", bytes(128) + b"DICM"), match=r""),
    Case("dcm_truncated_half", _truncated("CT_small.dcm", 0.5, "dcm_truncated_half")),
    Case("dcm_truncated_header", _truncated("CT_small.dcm", 0.05, "dcm_truncated_header")),
    Case(
        "dcm_huge_claim",
        _dicom("dcm_huge_claim", _set(Rows=4096, Columns=4096, NumberOfFrames=20000)),
        match=r"NumberOfFrames|image_max",
    ),
    Case("dcm_huge_rows", _dicom("dcm_huge_rows", _set(Rows=65535, Columns=65535)), match=r"image_max_bytes"),
    Case("dcm_too_many_frames", _dicom("dcm_too_many_frames", _set(NumberOfFrames=100000)), match=r"image_max_frames"),
    Case("dcm_zero_rows", _dicom("dcm_zero_rows", _set(Rows=0)), match=r"empty or negative"),
    Case("dcm_no_rows", _dicom("dcm_no_rows", _delete("Rows")), match=r"^Rows"),
    Case("dcm_no_pixels", _dicom("dcm_no_pixels", _delete("PixelData")), match=r"PixelData"),
    Case("dcm_half_pixels", _dicom("dcm_half_pixels", _half_pixels), match=r"PixelData"),
    Case("dcm_wrong_modality", _dicom("dcm_wrong_modality", _set(Modality="XA")), match=r"Modality"),
    Case("dcm_bits_64", _dicom("dcm_bits_64", _set(BitsAllocated=64, BitsStored=64, HighBit=63)), match=r"PixelData"),
    Case("dcm_nan_slope", _dicom("dcm_nan_slope", _set(RescaleSlope="1e400")), match=r"NaN|infinite|Rescale"),
    Case("dcm_mr_ok", _dicom("dcm_mr_ok", None, "MR_small.dcm"), expect="ingested"),
    Case(
        "ecg_fs_0_01",
        _dicom("ecg_fs_0_01", _ecg_group(SamplingFrequency=0.01), "waveform_ecg.dcm"),
        match=r"SamplingFrequency: sampling rate 0.01",
    ),
    Case(
        "ecg_fs_1e9",
        _dicom("ecg_fs_1e9", _ecg_group(SamplingFrequency=1e9), "waveform_ecg.dcm"),
        match=r"SamplingFrequency",
    ),
    Case(
        "ecg_huge_samples",
        _dicom("ecg_huge_samples", _ecg_group(NumberOfWaveformSamples=10**9), "waveform_ecg.dcm"),
        match=r"n_samples|ecg_max_seconds",
    ),
    Case(
        "ecg_unit_V_for_uV",
        _dicom("ecg_unit_V_for_uV", _ecg_unit("V"), "waveform_ecg.dcm"),
        match=r"units: .*exceed .*declared unit 'V'",
    ),
    Case(
        "ecg_unit_malformed",
        _dicom("ecg_unit_malformed", _ecg_unit("mV(("), "waveform_ecg.dcm"),
        match=r"malformed unit",
    ),
    Case(
        "ecg_no_sensitivity",
        _dicom("ecg_no_sensitivity", _ecg_no_sensitivity, "waveform_ecg.dcm"),
        match=r"ChannelSensitivity",
    ),
    Case("ecg_half_data", _dicom("ecg_half_data", _ecg_half_data, "waveform_ecg.dcm"), match=r"WaveformData"),
    Case("ecg_truncated", _truncated("waveform_ecg.dcm", 0.3, "ecg_truncated")),
    Case("series_empty", _series("series_empty", "empty"), match=r"no files"),
    Case("series_link_outside", _series("series_link_outside", "link_outside"), match=r"outside"),
    Case("series_mixed", _series("series_mixed", "mixed"), match=r"SeriesInstanceUID"),
)


# --- WFDB -------------------------------------------------------------------------------------------------


def _wfdb(name: str, signal: np.ndarray | None = None, fs: float = 250.0, edit: Callable | None = None) -> Callable:
    def make(root: Path) -> str:
        sig = einthoven_ecg(500) if signal is None else signal
        header = write_wfdb(root / "wfdb", name, sig, LIMB_AND_CHEST[: sig.shape[1]], fs=fs)
        if edit is not None:
            edit(header)
        return _rel(header, root)

    return make


def _edit_header(old: str, new: str, first_line_only: bool = False) -> Callable[[Path], None]:
    def edit(header: Path) -> None:
        lines = header.read_text().splitlines()
        if first_line_only:
            lines[0] = lines[0].replace(old, new)
        else:
            lines = [line.replace(old, new) for line in lines]
        header.write_text("\n".join(lines) + "\n")

    return edit


def _sig_len(factor: float) -> Callable[[Path], None]:
    def edit(header: Path) -> None:
        lines = header.read_text().splitlines()
        parts = lines[0].split()
        parts[3] = str(int(int(parts[3]) * factor))
        lines[0] = " ".join(parts)
        header.write_text("\n".join(lines) + "\n")

    return edit


def _drop_dat(header: Path) -> None:
    header.with_suffix(".dat").unlink()


def _nan_ecg() -> np.ndarray:
    sig = einthoven_ecg(500)
    sig[50:60, 7] = np.nan
    return sig


WFDB_CASES: tuple[Case, ...] = (
    Case("wfdb_ok", _wfdb("wfdb_ok"), expect="ingested"),
    Case("wfdb_no_dat", _wfdb("wfdb_no_dat", edit=_drop_dat), match=r"missing|<file>"),
    Case("wfdb_short_header", _wfdb("wfdb_short_header", edit=_sig_len(0.5)), match=r"sig_len: header declares 250"),
    Case("wfdb_long_header", _wfdb("wfdb_long_header", edit=_sig_len(2.0)), match=r"sig_len: header declares 1000"),
    Case("wfdb_fs_0_01", _wfdb("wfdb_fs_0_01", edit=_edit_header(" 250 ", " 0.01 ", True)), match=r"fs_hz: sampling"),
    Case("wfdb_fs_huge", _wfdb("wfdb_fs_huge", edit=_edit_header(" 250 ", " 90000000 ", True)), match=r"fs_hz"),
    Case("wfdb_unit_V_for_uV", _wfdb("wfdb_unit_V_for_uV", edit=_edit_header("/mV", "/V")), match=r"units: .*'V'"),
    Case("wfdb_unit_uV_for_V", _wfdb("wfdb_unit_uV_for_V", edit=_edit_header("/mV", "/uV")), match=r"units: peak"),
    Case(
        "wfdb_unit_malformed", _wfdb("wfdb_unit_malformed", edit=_edit_header("/mV", "/mV^^")), match=r"malformed unit"
    ),
    Case("wfdb_nan", _wfdb("wfdb_nan", _nan_ecg()), match=r"lead V2"),
    Case("wfdb_three_leads", _wfdb("wfdb_three_leads", einthoven_ecg(500)[:, :3]), match=r"lead V1"),
    Case("wfdb_garbage_header", _raw("wfdb_garbage_header", bytes(range(256)) * 4, "wfdb", ".hea"), match=r"<file>"),
    Case("wfdb_zero_header", _raw("wfdb_zero_header", b"", "wfdb", ".hea"), match=r"<file>"),
    Case(
        "wfdb_latin1_comment",
        _wfdb("wfdb_latin1_comment", edit=lambda h: h.write_bytes(h.read_bytes() + b"# Jos\xe9\n")),
        expect="ingested",
    ),
)


# --- NIfTI ------------------------------------------------------------------------------------------------


def _nifti(
    name: str, data: Callable[[], np.ndarray], claim: tuple[int, ...] | None = None, gz: bool = True
) -> Callable:
    def make(root: Path) -> str:
        import nibabel as nib

        out = root / "nifti" / f"{name}.nii{'.gz' if gz else ''}"
        out.parent.mkdir(parents=True, exist_ok=True)
        img = nib.Nifti1Image(data(), np.eye(4))
        if claim is not None:
            img.header.set_data_shape(claim)  # the header lies; the data on disk stays tiny
            raw = img.header.binaryblock + b"\x00" * 4 + data().astype(np.float32).tobytes()
            out.write_bytes(gzip.compress(raw) if gz else raw)
        else:
            nib.save(img, str(out))
        return _rel(out, root)

    return make


def _gz_truncated(root: Path) -> str:
    out = root / "nifti" / "nii_truncated.nii.gz"
    _nifti("nii_truncated", lambda: np.ones((32, 32, 8), np.float32))(root)
    out.write_bytes(out.read_bytes()[:200])
    return _rel(out, root)


def _nan_volume() -> np.ndarray:
    vol = np.ones((8, 8, 4), np.float32)
    vol[2, 2, 2] = np.nan
    return vol


NIFTI_CASES: tuple[Case, ...] = (
    Case("nii_ok", _nifti("nii_ok", lambda: np.arange(8 * 8 * 4, dtype=np.int16).reshape(8, 8, 4)), expect="ingested"),
    Case("nii_zero_bytes", _raw("nii_zero_bytes", b"", "nifti", ".nii"), match=r"<file>"),
    Case("nii_garbage", _raw("nii_garbage", bytes(range(256)) * 8, "nifti", ".nii.gz"), match=r"<file>"),
    Case(
        "nii_huge_claim",
        _nifti("nii_huge_claim", lambda: np.ones((2, 2, 2), np.float32), (4096, 4096, 4096, 300)),
        match=r"dim: header claims .* GiB",
    ),
    Case(
        "nii_many_frames",
        _nifti("nii_many_frames", lambda: np.ones((2, 2, 1, 600), np.float32)),
        match=r"image_max_frames",
    ),
    Case("nii_truncated", _gz_truncated, match=r"<file>"),
    Case("nii_nan", _nifti("nii_nan", _nan_volume), match=r"NaN"),
    Case("nii_2d", _nifti("nii_2d", lambda: np.ones((8, 8), np.float32)), match=r"dim"),
    Case("nii_6d", _nifti("nii_6d", lambda: np.ones((2, 2, 2, 2, 2, 2), np.float32)), match=r"dim"),
)


# --- FHIR JSON --------------------------------------------------------------------------------------------


def _bundle(edit: Callable[[dict], object] | None = None) -> dict:
    bundle = json.loads(fhir_fixture().read_text())
    if edit is not None:
        edit(bundle)
    return bundle


def _json(name: str, content: bytes | Callable[[], bytes]) -> Callable[[Path], str]:
    return _raw(name, content, "fhir", ".json")


def _deep(n: int) -> bytes:
    return b'{"resourceType": "Bundle", "type": "collection", "x": ' + b"[" * n + b"]" * n + b"}"


def _unknown_type(bundle: dict) -> None:
    bundle["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}})


def _two_patients(bundle: dict) -> None:
    bundle["entry"].append(bundle["entry"][0])


def _no_patient(bundle: dict) -> None:
    bundle["entry"] = bundle["entry"][1:]


def _bad_unit(bundle: dict) -> None:
    bundle["entry"][1]["resource"]["valueQuantity"].update({"code": "mg/dL((", "unit": "mg/dL(("})


FHIR_CASES: tuple[Case, ...] = (
    Case("fhir_ok", lambda root: _json("fhir_ok", lambda: json.dumps(_bundle()).encode())(root), expect="ingested"),
    Case("fhir_zero_bytes", _json("fhir_zero_bytes", b""), match=r"unreadable JSON"),
    Case("fhir_garbage", _json("fhir_garbage", bytes(range(256)) * 4), match=r"unreadable JSON|<file>"),
    Case("fhir_deep", _json("fhir_deep", _deep(100_000)), match=r"json_max_depth"),
    Case(
        "fhir_big",
        _json("fhir_big", lambda: json.dumps({"resourceType": "Bundle", "pad": "x" * (3 << 20)}).encode()),
        match=r"json_max_bytes",
    ),
    Case(
        "fhir_unknown_type",
        _json("fhir_unknown_type", lambda: json.dumps(_bundle(_unknown_type)).encode()),
        match=r"Bundle|Spaceship",
    ),
    Case("fhir_array", _json("fhir_array", b"[1, 2, 3]"), match=r"Bundle"),
    Case(
        "fhir_no_patient",
        _json("fhir_no_patient", lambda: json.dumps(_bundle(_no_patient)).encode()),
        match=r"Bundle.entry.Patient",
    ),
    Case(
        "fhir_two_patients",
        _json("fhir_two_patients", lambda: json.dumps(_bundle(_two_patients)).encode()),
        match=r"found 2",
    ),
    Case("fhir_bad_unit", _json("fhir_bad_unit", lambda: json.dumps(_bundle(_bad_unit)).encode()), match=r"unit"),
    Case(
        "fhir_nan",
        _json("fhir_nan", lambda: json.dumps(_bundle()).replace('"value": 150', '"value": NaN').encode()),
        match=r"NaN|Infinity|non-finite",
    ),
    Case(
        "fhir_inf",
        _json("fhir_inf", lambda: json.dumps(_bundle()).replace('"value": 150', '"value": 1e999').encode()),
        match=r"NaN|Infinity|non-finite|finite",
    ),
    Case("fhir_utf16", _json("fhir_utf16", lambda: json.dumps(_bundle()).encode("utf-16")), expect="ingested"),
    Case("fhir_bom", _json("fhir_bom", lambda: b"\xef\xbb\xbf" + json.dumps(_bundle()).encode()), expect="ingested"),
    Case(
        "fhir_latin1",
        _json(
            "fhir_latin1",
            lambda: json.dumps(_bundle(), ensure_ascii=False).replace("Toboso", "Tobos\u00f3").encode("latin-1"),
        ),
        match=r"unreadable JSON",
    ),
)


# --- WAV and wearable exports -----------------------------------------------------------------------------


def _wav_huge_claim() -> bytes:
    """A WAV header whose data chunk claims 4 GiB of 32 channels; the file holds 16 bytes."""
    fmt = (32).to_bytes(2, "little") + (44100).to_bytes(4, "little") + (44100 * 64).to_bytes(4, "little")
    fmt = b"\x01\x00" + fmt + (64).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return (
        b"RIFF"
        + (0xFFFFFFF0).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + fmt
        + (b"data" + (0xFFFFFF00).to_bytes(4, "little") + bytes(16))
    )


OTHER_CASES: tuple[Case, ...] = (
    Case("wav_zero_bytes", _raw("wav_zero_bytes", b"", "wav", ".wav"), match=r"<file>"),
    Case("wav_garbage", _raw("wav_garbage", bytes(range(256)) * 8, "wav", ".wav"), match=r"<file>"),
    Case("wav_huge_claim", _raw("wav_huge_claim", _wav_huge_claim, "wav", ".wav")),
    Case("wearable_zero_bytes", _raw("wearable_zero_bytes", b"", "wearable", ".csv")),
    Case("wearable_garbage", _raw("wearable_garbage", bytes(range(256)) * 8, "wearable", ".csv")),
    Case("wearable_no_columns", _raw("wearable_no_columns", b"a,b\n1,2\n", "wearable", ".csv")),
)

ALL_CASES: tuple[Case, ...] = DICOM_CASES + WFDB_CASES + NIFTI_CASES + FHIR_CASES + OTHER_CASES


def write_corpus(root: Path, cases: tuple[Case, ...] = ALL_CASES) -> list[dict]:
    """Write every case under ``root``; returns one manifest patient entry per case (id ``H-<name>``)."""
    root.mkdir(parents=True, exist_ok=True)
    return [{"id": f"H-{case.name}", "files": [case.make(root)]} for case in cases]
