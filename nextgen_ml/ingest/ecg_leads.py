"""ECG lead names → the standard 12-lead order, limb-lead derivation, units and resampling.

Lead names come from DICOM channel source codes (SCPECG ``5.6.3-9-*`` and ISO/IEEE 11073 MDC codes), from
code meanings (``"Lead I (Einthoven)"``) or from WFDB signal names (``"i"``, ``"AVR"``, ``"V1"``).

Missing leads: the six limb leads span a 2-D space (Einthoven/Goldberger: III = II − I, aVR = −(I + II)/2,
aVL = I − II/2, aVF = II − I/2), so any two independent limb leads give the other four. Precordial leads
(V1–V6) cannot be derived: a file missing one is quarantined (reason names the lead), never zero-filled.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np

from nextgen_ml.data.schema import ECG_LEADS

#: SCP-ECG lead codes (DICOM PS3.16 CID 3001, scheme SCPECG).
SCPECG_CODES: dict[str, str] = {
    "5.6.3-9-1": "I", "5.6.3-9-2": "II", "5.6.3-9-61": "III", "5.6.3-9-62": "aVR", "5.6.3-9-63": "aVL",
    "5.6.3-9-64": "aVF", "5.6.3-9-3": "V1", "5.6.3-9-4": "V2", "5.6.3-9-5": "V3", "5.6.3-9-6": "V4",
    "5.6.3-9-7": "V5", "5.6.3-9-8": "V6",
}  # fmt: skip
#: ISO/IEEE 11073-10101 MDC lead codes (scheme MDC), code value and reference id.
MDC_CODES: dict[str, str] = {
    "2:1": "I", "2:2": "II", "2:61": "III", "2:62": "aVR", "2:63": "aVL", "2:64": "aVF",
    "2:3": "V1", "2:4": "V2", "2:5": "V3", "2:6": "V4", "2:7": "V5", "2:8": "V6",
    "MDC_ECG_LEAD_I": "I", "MDC_ECG_LEAD_II": "II", "MDC_ECG_LEAD_III": "III", "MDC_ECG_LEAD_AVR": "aVR",
    "MDC_ECG_LEAD_AVL": "aVL", "MDC_ECG_LEAD_AVF": "aVF", "MDC_ECG_LEAD_V1": "V1", "MDC_ECG_LEAD_V2": "V2",
    "MDC_ECG_LEAD_V3": "V3", "MDC_ECG_LEAD_V4": "V4", "MDC_ECG_LEAD_V5": "V5", "MDC_ECG_LEAD_V6": "V6",
}  # fmt: skip
_BY_UPPER: dict[str, str] = {lead.upper(): lead for lead in ECG_LEADS}

#: Limb leads as coefficients on (I, II).
LIMB_BASIS: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0), "II": (0.0, 1.0), "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5), "aVL": (1.0, -0.5), "aVF": (-0.5, 1.0),
}  # fmt: skip


def standard_lead_name(name: str | None = None, code: str | None = None, scheme: str | None = None) -> str | None:
    """Standard name (one of ``ECG_LEADS``) for a coded or named lead; ``None`` when it is not a 12-lead lead.

    Args:
        name: free-text name or code meaning (``"Lead aVR"``, ``"Lead I (Einthoven)"``, ``"avr"``, ``"V1"``).
        code: code value (``"5.6.3-9-62"``, ``"2:62"``, ``"MDC_ECG_LEAD_AVR"``).
        scheme: coding scheme designator (``"SCPECG"``, ``"MDC"``).
    """
    if code:
        table = SCPECG_CODES if (scheme or "").upper() == "SCPECG" else MDC_CODES
        lead = table.get(code) or SCPECG_CODES.get(code) or MDC_CODES.get(code.upper())
        if lead:
            return lead
    if not name:
        return None
    text = re.sub(r"\(.*?\)", "", name).strip()  # drop "(Einthoven)" / "(Goldberger)"
    text = re.sub(r"^(lead|ecg lead|mdc_ecg_lead)[\s_:-]*", "", text, flags=re.IGNORECASE).strip()
    return _BY_UPPER.get(text.upper())


def to_standard_12(signal: np.ndarray, names: list[str | None]) -> tuple[np.ndarray, list[str]]:
    """Reorder channels to ``ECG_LEADS``, deriving missing limb leads.

    Args:
        signal: ``(n_channels, n_samples)`` float array (µV).
        names: standard lead name per channel (``None`` for channels that are not 12-lead leads; dropped).

    Returns:
        ``(signal (12, n_samples), derived)`` where ``derived`` lists the leads computed from others.

    Raises:
        ValueError: duplicate leads, a missing precordial lead, or too few limb leads to derive the rest;
            the message names the lead.
    """
    rows: dict[str, np.ndarray] = {}
    for row, name in zip(signal, names):
        if name is None:
            continue
        if name in rows:
            raise ValueError(f"lead {name}: appears twice in the file")
        rows[name] = row
    missing = [lead for lead in ECG_LEADS if lead not in rows]
    precordial = [lead for lead in missing if lead not in LIMB_BASIS]
    if precordial:
        raise ValueError(f"lead {precordial[0]}: precordial lead missing and cannot be derived")
    derived: list[str] = []
    if missing:
        have = [lead for lead in LIMB_BASIS if lead in rows]
        basis = np.asarray([LIMB_BASIS[lead] for lead in have])  # (k, 2)
        if len(have) < 2 or np.linalg.matrix_rank(basis) < 2:
            raise ValueError(f"lead {missing[0]}: missing, and fewer than two independent limb leads to derive it")
        i_ii, *_ = np.linalg.lstsq(basis, np.stack([rows[lead] for lead in have]), rcond=None)  # (2, T)
        for lead in missing:
            rows[lead] = np.asarray(LIMB_BASIS[lead]) @ i_ii
            derived.append(lead)
    return np.stack([rows[lead] for lead in ECG_LEADS]), derived


def resample_ecg(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``), ``(L, T) → (L, T·fs_out/fs_in)``."""
    from scipy.signal import resample_poly

    if fs_in <= 0 or fs_out <= 0:
        raise ValueError(f"fs_hz: sampling rates must be positive, got {fs_in} → {fs_out}")
    if np.isclose(fs_in, fs_out):
        return signal
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)


def to_microvolts(values: np.ndarray, unit: str) -> np.ndarray:
    """Convert ``values`` in ``unit`` (``uV``, ``mV``, ``V``, UCUM ``u[V]`` …) to µV with pint.

    Raises:
        ValueError: the unit is not a voltage (message names the unit).
    """
    from nextgen_ml.ingest.units import convert

    return convert(values, unit, "uV")


def standardise_ecg(
    signal_uv: np.ndarray, names: list[str | None], fs_in: float, fs_out: float, path: str
) -> tuple[np.ndarray, list[str]]:
    """Checks, 12-lead order and resampling shared by every ECG reader.

    Args:
        signal_uv: ``(n_channels, n_samples)`` in µV.
        names: standard lead name per channel (``None`` = not a 12-lead lead).
        fs_in: source sampling rate.
        fs_out: the record's sampling rate.
        path: source file (for error messages).

    Returns:
        ``((12, n_samples_out) µV, derived leads)``.

    Raises:
        IngestError: NaN/infinite samples (names the lead), missing/duplicate leads, bad sampling rate.
    """
    from nextgen_ml.ingest.errors import IngestError

    if signal_uv.ndim != 2 or signal_uv.shape[1] < 2:
        raise IngestError(path, "signal", f"expected (channels, samples), got shape {signal_uv.shape}")
    bad = ~np.isfinite(signal_uv).all(axis=1)
    if bad.any():
        lead = names[int(np.argmax(bad))] or f"channel {int(np.argmax(bad))}"
        raise IngestError(path, f"lead {lead}", "signal contains NaN or infinite samples")
    if not fs_in > 0:
        raise IngestError(path, "fs_hz", f"sampling rate must be positive, got {fs_in}")
    try:
        twelve, derived = to_standard_12(signal_uv, names)
    except ValueError as err:
        field, _, reason = str(err).partition(": ")
        raise IngestError(path, field, reason) from None
    return resample_ecg(twelve, fs_in, fs_out), derived
