"""DICOM waveform ECGs (12-lead / general ECG IODs) → ``ecg``.

Samples are decoded by pydicom's ``Dataset.waveform_array`` (which applies ChannelSensitivity,
ChannelSensitivityCorrectionFactor and ChannelBaseline); each channel is then converted from its
ChannelSensitivityUnitsSequence unit to µV, named from its ChannelSourceSequence code, put in the standard
12-lead order and resampled to the record's rate.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.codec import encode_ecg
from nextgen_ml.ingest.deid import Pseudonymiser, sha256_files
from nextgen_ml.ingest.dicom_common import clean_text_tag, dicom_metadata, read_checked
from nextgen_ml.ingest.ecg_leads import standard_lead_name, standardise_ecg, to_microvolts
from nextgen_ml.ingest.errors import IngestError
from nextgen_ml.ingest.limits import check_ecg_claim
from nextgen_ml.ingest.manifest import IngestOptions
from nextgen_ml.ingest.plausibility import check_ecg_amplitude
from nextgen_ml.ingest.provenance import Converted


def choose_group(ds: Any, path: Path, index: int | None = None) -> int:
    """Index of the waveform multiplex group to ingest: ``index`` if given, else the first non-median-beat group."""
    groups = ds.get("WaveformSequence")
    if not groups:
        raise IngestError(path, "WaveformSequence", "no waveform data (not a waveform object)")
    if index is not None:
        if not 0 <= index < len(groups):
            raise IngestError(path, "WaveformSequence", f"group {index} requested, file has {len(groups)}")
        return index
    for i, group in enumerate(groups):
        if "MEDIAN" not in str(group.get("MultiplexGroupLabel") or "").upper():
            return i
    return int(np.argmax([int(g.get("NumberOfWaveformSamples") or 0) for g in groups]))


def channel_names(group: Any) -> list[str | None]:
    """Standard lead name (or ``None``) per channel of a multiplex group."""
    names: list[str | None] = []
    for channel in group.ChannelDefinitionSequence:
        source = (channel.get("ChannelSourceSequence") or [None])[0]
        if source is None:
            names.append(standard_lead_name(channel.get("ChannelLabel")))
            continue
        names.append(
            standard_lead_name(
                name=source.get("CodeMeaning") or channel.get("ChannelLabel"),
                code=source.get("CodeValue"),
                scheme=source.get("CodingSchemeDesignator"),
            )
        )
    return names


def channel_units(group: Any, path: Path) -> list[str]:
    """UCUM unit of each channel from ChannelSensitivityUnitsSequence."""
    units = []
    for k, channel in enumerate(group.ChannelDefinitionSequence):
        seq = channel.get("ChannelSensitivityUnitsSequence")
        if not seq or not seq[0].get("CodeValue") or channel.get("ChannelSensitivity") in (None, ""):
            raise IngestError(
                path,
                f"ChannelDefinitionSequence[{k}].ChannelSensitivityUnitsSequence",
                "channel sensitivity or its unit is missing; samples cannot be scaled to µV",
            )
        units.append(str(seq[0].CodeValue))
    return units


def decode_microvolts(ds: Any, index: int, path: Path) -> tuple[np.ndarray, list[str | None], float]:
    """``(signal (channels, samples) µV, lead names, fs_hz)`` of waveform group ``index``."""
    group = ds.WaveformSequence[index]
    n_channels = int(group.get("NumberOfWaveformChannels") or 0)
    if len(group.get("ChannelDefinitionSequence") or []) != n_channels:
        raise IngestError(path, "ChannelDefinitionSequence", f"does not define the {n_channels} channels")
    try:
        samples = ds.waveform_array(index)  # (samples, channels), sensitivity/baseline applied
    except (ValueError, KeyError, AttributeError, TypeError, IndexError) as err:
        raise IngestError(path, "WaveformData", f"cannot decode ({type(err).__name__}: {err})") from None
    expected = (int(group.get("NumberOfWaveformSamples") or 0), n_channels)
    if samples.shape != expected:
        raise IngestError(path, "WaveformData", f"decoded shape {samples.shape} disagrees with the header {expected}")
    units = channel_units(group, path)
    try:
        signal = np.stack([to_microvolts(samples[:, k], u) for k, u in enumerate(units)])  # (C, T)
    except ValueError as err:
        raise IngestError(path, "ChannelSensitivityUnitsSequence", str(err)) from None
    fs = float(group.get("SamplingFrequency") or 0)
    return signal, channel_names(group), fs


def read_dicom_ecg(
    path: str | os.PathLike,
    options: IngestOptions,
    pseudo: Pseudonymiser,
    uri: str = "",
    dataset: Any = None,
) -> Converted:
    """Convert a DICOM waveform ECG into the record's ``ecg`` column (12 standard leads, µV, ``options.ecg_fs_hz``).

    Args:
        path: DICOM file.
        options: target sampling rate, waveform group.
        pseudo: pseudonymiser for UIDs.
        uri: path to record in provenance.
        dataset: an already-read dataset of ``path``.
    """
    path = Path(path)
    ds = dataset if dataset is not None else read_checked(path, options)
    index = choose_group(ds, path, options.ecg_waveform_group)
    group = ds.WaveformSequence[index]
    n_samples = int(group.get("NumberOfWaveformSamples") or 0)
    fs_claimed = float(group.get("SamplingFrequency") or 0)
    check_ecg_claim(path, fs_claimed, n_samples, options, f"WaveformSequence[{index}].SamplingFrequency")
    signal, names, fs = decode_microvolts(ds, index, path)
    units = ",".join(sorted(set(channel_units(group, path))))
    check_ecg_amplitude(signal, units, path, options)
    twelve, derived = standardise_ecg(signal, names, fs, options.ecg_fs_hz, str(path))
    meta = dicom_metadata(ds, pseudo)
    meta.update(
        {
            "waveform_group": index,
            "MultiplexGroupLabel": clean_text_tag(ds, group.get("MultiplexGroupLabel")),
            "source_fs_hz": fs,
            "source_channels": len(names),
            "derived_leads": derived,
            "ignored_channels": [k for k, n in enumerate(names) if n is None],
        }
    )
    ecg = encode_ecg(twelve, options.ecg_fs_hz)
    return Converted("ecg", ecg, "dicom_ecg", uri or str(path), sha256_files([path]), meta)
