"""Configuration of the synthetic cohort and the in-memory cohort it produces."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from nextgen_ml.data.panel import VariantPanel

#: Modalities whose missingness the sites (or ``CohortConfig.missing``) control.
MISSABLE_MODALITIES: tuple[str, ...] = ("ecg", "image", "genotype", "text", "tabular", "heart_sound", "wearable")


@dataclass(frozen=True)
class CohortConfig:
    """How the synthetic cohort is rendered.

    Args:
        ecg_fs_hz: ECG sampling rate in Hz.
        ecg_seconds: ECG duration in seconds.
        image_size: in-plane image size H = W in pixels.
        image_frames: cine frames per cycle; 2 = (ED, ES), more = a full cycle starting at ED.
        image_3d: render a short-axis stack ``(frames, image_depth, H, W)`` instead of one mid slice.
        image_depth: slices of the 3D stack (base to apex).
        field_of_view_mm: in-plane field of view; pixel spacing = ``field_of_view_mm / image_size``
            (1.5 mm at the default 64 pixels).
        slice_thickness_mm: slice spacing of the 3D stack.
        missing: per-modality missing rates (keys from :data:`MISSABLE_MODALITIES`) overriding every site's rate.
        tabular_missing_scale: multiplies the per-variable tabular missing rates (0 = no missing values).
        genotype_call_missing: fraction of missing calls (NaN dosages) in a present genotype.
        typo_rate: probability that a word of a clinical note carries a typo.
        heart_sound_fs_hz: phonocardiogram sampling rate in Hz.
        heart_sound_seconds: phonocardiogram length per auscultation site.
        wearable_hours: length of the wearable export (minute-level heart rate and activity, 5-min HRV);
            up to two weeks.
        wearable_ppg_snippets: PPG snippets per wearable export (0 = none).
        wearable_ppg_seconds / wearable_ppg_fs_hz: length and sampling rate of one PPG snippet.
    """

    ecg_fs_hz: float = 500.0
    ecg_seconds: float = 10.0
    image_size: int = 64
    image_frames: int = 2
    image_3d: bool = False
    image_depth: int = 8
    field_of_view_mm: float = 96.0
    slice_thickness_mm: float = 8.0
    missing: dict[str, float] = field(default_factory=dict)
    tabular_missing_scale: float = 1.0
    genotype_call_missing: float = 0.01
    typo_rate: float = 0.02
    heart_sound_fs_hz: float = 2000.0
    heart_sound_seconds: float = 6.0
    wearable_hours: float = 24.0
    wearable_ppg_snippets: int = 3
    wearable_ppg_seconds: float = 30.0
    wearable_ppg_fs_hz: float = 25.0

    def __post_init__(self) -> None:
        if not self.ecg_fs_hz >= 50:
            raise ValueError(f"ecg_fs_hz must be >= 50 Hz, got {self.ecg_fs_hz}")
        if not 2 <= self.ecg_seconds <= 60:
            raise ValueError(f"ecg_seconds must be in [2, 60], got {self.ecg_seconds}")
        if not 32 <= self.image_size <= 512:
            raise ValueError(f"image_size must be in [32, 512], got {self.image_size}")
        if self.image_frames < 2:
            raise ValueError(f"image_frames must be >= 2 (ED and ES), got {self.image_frames}")
        if not 60 <= self.field_of_view_mm <= 400:
            raise ValueError(f"field_of_view_mm must be in [60, 400], got {self.field_of_view_mm}")
        if self.image_depth < 2:
            raise ValueError(f"image_depth must be >= 2, got {self.image_depth}")
        for name, rate in self.missing.items():
            if name not in MISSABLE_MODALITIES:
                raise ValueError(f"missing: unknown modality {name!r}, expected one of {MISSABLE_MODALITIES}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"missing[{name!r}] must be in [0, 1], got {rate}")
        if not 500 <= self.heart_sound_fs_hz <= 8000:
            raise ValueError(f"heart_sound_fs_hz must be in [500, 8000], got {self.heart_sound_fs_hz}")
        if not 2 <= self.heart_sound_seconds <= 30:
            raise ValueError(f"heart_sound_seconds must be in [2, 30], got {self.heart_sound_seconds}")
        if not 1 <= self.wearable_hours <= 24 * 14:
            raise ValueError(f"wearable_hours must be in [1, 336], got {self.wearable_hours}")
        if not 5 <= self.wearable_ppg_fs_hz <= 500 or not 5 <= self.wearable_ppg_seconds <= 300:
            raise ValueError("wearable_ppg_fs_hz must be in [5, 500] and wearable_ppg_seconds in [5, 300]")
        for name in ("tabular_missing_scale", "genotype_call_missing", "typo_rate", "wearable_ppg_snippets"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def pixel_spacing_mm(self) -> float:
        """In-plane pixel spacing in mm."""
        return self.field_of_view_mm / self.image_size

    @property
    def ecg_samples(self) -> int:
        """Samples per lead."""
        return int(round(self.ecg_fs_hz * self.ecg_seconds))


@dataclass
class Cohort:
    """A generated cohort held in memory.

    Args:
        table: records with exactly :data:`nextgen_ml.data.schema.RECORD_SCHEMA`.
        panel: the variant panel ``genotype.dosages`` is indexed by.
        latent: one row per patient: the latent cardiac state and derived ground truth (for tests and docs).
    """

    table: pa.Table
    panel: VariantPanel
    latent: pd.DataFrame

    def __len__(self) -> int:
        return self.table.num_rows
