"""Per-modality transforms: record field → model-ready array.

Each transform is fitted on the training split only (:meth:`fit`), turns one record's field into a numpy array
(``__call__``), says what the matching encoder needs to know (:meth:`spec`), and round-trips its fitted state
through :meth:`state_dict` / :meth:`from_state` (plain JSON types) so a pretrained bundle can carry it.

Output shapes (see docs/architecture.md): ecg ``(L, T)``, image ``(F, H, W)`` or ``(F, D, H, W)``,
genomics ``(V,)``, tabular ``(P,)``, text ``(N,)`` int64, heart_sound ``(S, N)``, wearable ``(2C + 2, T)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import signal as sps

from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY
from nextgen_ml.data.codec import decode_ecg, decode_image
from nextgen_ml.data.dictionary import DataDictionary, Variable
from nextgen_ml.data.panel import VariantPanel
from nextgen_ml.data.schema import ECG_LEADS
from nextgen_ml.data.tokenizer import MiniLMTokenizer, NoteTokenizer


class ModalityTransform:
    """Base protocol; subclasses set :attr:`modality` and :attr:`column`."""

    modality: ClassVar[str]
    column: ClassVar[str]

    def fit(self, values: Sequence[Any]) -> ModalityTransform:
        """Fit on the training split's values of :attr:`column` (None = absent). Default: nothing to fit."""
        return self

    def __call__(self, value: Any, record_id: str = "?", train: bool = False) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} must implement __call__")

    def spec(self) -> dict[str, Any]:
        """Keyword arguments the modality's encoder needs (e.g. ``in_channels``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore fitted state saved by :meth:`state_dict`."""


def bandpass(band_hz: Sequence[float] | None, fs_hz: float) -> tuple[tuple[float, ...] | None, np.ndarray | None]:
    """Validated ``(band_hz, sos)`` of a 2nd-order Butterworth band-pass at ``fs_hz`` (``(None, None)`` = off)."""
    if band_hz is None:
        return None, None
    band = tuple(float(b) for b in band_hz)
    if not 0 < band[0] < band[1] < fs_hz / 2:
        raise ValueError(f"band_hz {band} must satisfy 0 < low < high < fs_hz/2 = {fs_hz / 2}")
    return band, sps.butter(2, band, "bandpass", fs=fs_hz, output="sos")


class EcgTransform(ModalityTransform):
    """Resample, select leads, band-pass filter, crop and standardise a 12-lead ECG.

    Args:
        fs_hz: target sampling rate (resampled with a polyphase filter).
        leads: leads to keep, in this order.
        seconds: crop length; random crop in training, centre crop otherwise (None = keep all).
        band_hz: Butterworth band-pass (low, high) in Hz; None disables filtering.
    """

    modality, column = "ecg", "ecg"

    def __init__(
        self,
        fs_hz: float = 100.0,
        leads: Sequence[str] = ECG_LEADS,
        seconds: float | None = None,
        band_hz: tuple[float, float] | None = (0.5, 40.0),
    ) -> None:
        self.fs_hz, self.leads, self.seconds = float(fs_hz), list(leads), seconds
        self.band_hz, self._sos = bandpass(band_hz, self.fs_hz)

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        x = decode_ecg(value)  # (L_rec, T_rec) mV
        if not np.isfinite(x).all():
            raise ValueError(f"record {record_id!r}, field 'ecg.signal': NaN or infinite samples")
        names = list(value["leads"])
        missing = [lead for lead in self.leads if lead not in names]
        if missing:
            raise ValueError(f"record {record_id!r}, field 'ecg.leads': missing leads {missing}")
        x = x[[names.index(lead) for lead in self.leads]]  # (L, T_rec)
        fs = float(value["fs_hz"])
        if fs != self.fs_hz:
            up, down = _ratio(self.fs_hz, fs)
            x = sps.resample_poly(x, up, down, axis=-1)
        if self._sos is not None:
            x = sps.sosfiltfilt(self._sos, x, axis=-1)
        if self.seconds is not None:
            n = int(round(self.seconds * self.fs_hz))
            if x.shape[-1] < n:
                x = np.pad(x, ((0, 0), (0, n - x.shape[-1])))
            # torch's generator: seeded per DataLoader worker by Lightning's seed_everything(workers=True)
            start = int(torch.randint(0, x.shape[-1] - n + 1, ())) if train else (x.shape[-1] - n) // 2
            x = x[:, start : start + n]
        x = (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + 1e-3)
        return x.astype(np.float32)

    def spec(self) -> dict[str, Any]:
        return {"in_channels": len(self.leads)}

    def state_dict(self) -> dict[str, Any]:
        return {"fs_hz": self.fs_hz, "leads": self.leads, "seconds": self.seconds, "band_hz": self.band_hz}


def _ratio(target: float, source: float) -> tuple[int, int]:
    from fractions import Fraction

    frac = Fraction(target / source).limit_denominator(1000)
    return frac.numerator, frac.denominator


class ImageTransform(ModalityTransform):
    """Cine frames → intensity-normalised float array, resized with MONAI.

    Args:
        size: output in-plane size (H = W); None keeps the stored size.
        frames: number of frames to keep (evenly sampled, first and the end-systolic frame kept for 2);
            None keeps all.
        augment: small random intensity and flip augmentation in training (MONAI).
        spatial_dims: declared dimensionality (2 or 3); None = read from the first training image in :meth:`fit`
            (a declared value reads no patient data, for DP and federated runs).
    """

    modality, column = "image", "image"

    def __init__(self, size: int | None = 64, frames: int | None = 2, augment: bool = False,
                 spatial_dims: int | None = None) -> None:
        from monai.transforms import NormalizeIntensity, RandFlip, RandScaleIntensity, Resize

        if spatial_dims not in (None, 2, 3):
            raise ValueError(f"spatial_dims must be 2, 3 or None, got {spatial_dims!r}")
        self.size, self.frames, self.augment = size, frames, augment
        self._normalise = NormalizeIntensity(channel_wise=True)
        self._resize = Resize
        self._augs = [RandFlip(prob=0.5, spatial_axis=-1), RandScaleIntensity(factors=0.1, prob=0.5)]
        self.declared = spatial_dims is not None
        self.spatial_dims: int | None = spatial_dims

    def fit(self, values: Sequence[Any]) -> ImageTransform:
        if self.declared:
            return self
        first = next((v for v in values if v is not None), None)
        self.spatial_dims = 2 if first is None else len(first["shape"]) - 1
        return self

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        pixels = decode_image(value).astype(np.float32)  # (F, [D,] H, W)
        if not np.isfinite(pixels).all():
            raise ValueError(f"record {record_id!r}, field 'image.pixels': NaN or infinite values")
        if self.spatial_dims is not None and pixels.ndim - 1 != self.spatial_dims:
            raise ValueError(
                f"record {record_id!r}, field 'image.shape': {pixels.ndim - 1}D image, "
                f"model expects {self.spatial_dims}D"
            )
        if self.frames is not None:
            if pixels.shape[0] < self.frames:
                raise ValueError(f"record {record_id!r}, field 'image.shape': {pixels.shape[0]} frames < {self.frames}")
            keep = np.linspace(0, pixels.shape[0] - 1, self.frames).round().astype(int)
            pixels = pixels[keep]
        if self.size is not None:
            spatial = (self.size, self.size) if pixels.ndim == 3 else (pixels.shape[1], self.size, self.size)
            if tuple(pixels.shape[1:]) != spatial:
                pixels = np.asarray(self._resize(spatial, mode="area")(pixels))
        out = self._normalise(pixels)
        if train and self.augment:
            for aug in self._augs:
                out = aug(out)
        return np.asarray(out, dtype=np.float32)

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"spatial_dims": self.spatial_dims or 2}
        if self.frames is not None:
            spec["in_channels"] = self.frames
        return spec

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "frames": self.frames, "augment": self.augment, "spatial_dims": self.spatial_dims}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.spatial_dims = state.get("spatial_dims")


class GenomicsTransform(ModalityTransform):
    """Dosages over the panel with missing calls imputed by the expected dosage ``2·AF``.

    Args:
        panel: the store's variant panel.
    """

    modality, column = "genomics", "genotype"

    def __init__(self, panel: VariantPanel) -> None:
        self.panel = panel
        self._expected = np.array([2 * v.af for v in panel.variants], dtype=np.float32)

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        d = np.asarray(value["dosages"], dtype=np.float32)
        if d.shape != self._expected.shape:
            raise ValueError(
                f"record {record_id!r}, field 'genotype.dosages': {d.size} dosages, panel {self.panel.name!r} "
                f"has {len(self.panel)} variants"
            )
        return np.where(np.isnan(d), self._expected, d)

    def spec(self) -> dict[str, Any]:
        return {"n_variants": len(self.panel), "gene_index": self.panel.gene_index(),
                "allele_freq": [v.af for v in self.panel.variants]}

    def state_dict(self) -> dict[str, Any]:
        return {"panel": self.panel.to_json()}


class TabularTransform(ModalityTransform):
    """Declared clinical variables → ``(P,)``: numeric/integer standardised (missing → 0, the centre),
    categorical/ordinal/binary as integer codes with code ``K`` = missing (or a value outside the categories).

    Args:
        variables: names of variables to use (default: every variable of the dictionary, in declared order).
        dictionary: the store's data dictionary (default: the synthetic cohort's).
        statistics: ``"train"`` standardises with the training split's mean and SD; ``"declared"`` with the
            declared plausible range (centre, range / 4), which reads no patient data (for DP runs).
    """

    modality, column = "tabular", "tabular"

    def __init__(
        self,
        variables: Sequence[str] | None = None,
        dictionary: DataDictionary | None = None,
        statistics: str = "train",
    ) -> None:
        if statistics not in ("train", "declared"):
            raise ValueError(f"statistics must be 'train' or 'declared', got {statistics!r}")
        dictionary = dictionary or SYNTHETIC_DICTIONARY
        names = list(variables) if variables else list(dictionary.variables)
        unknown = [n for n in names if n not in dictionary.variables]
        if unknown:
            raise ValueError(f"variables: {unknown} are not declared in the data dictionary; declared: "
                             f"{list(dictionary.variables)}")
        if not names:
            raise ValueError("variables: the data dictionary declares no tabular variables")
        self.variables = [dictionary.variables[n] for n in names]
        self.statistics = statistics
        self.mean: dict[str, float] = {}
        self.std: dict[str, float] = {}
        if statistics == "declared":
            self._declared_statistics()

    def _declared_statistics(self) -> None:
        for var in self.variables:
            if not var.is_numeric:
                continue
            if var.range is None:
                raise ValueError(f"statistics='declared' (privacy=dp and federated runs standardise from declared "
                                 f"ranges): numeric variable {var.name!r} declares no range; declare "
                                 f"dictionary.variables.{var.name}.range: [min, max] or drop it from "
                                 "data.transforms.tabular.variables")
            lo, hi = var.range
            self.mean[var.name], self.std[var.name] = (lo + hi) / 2, (hi - lo) / 4

    def fit(self, values: Sequence[Any]) -> TabularTransform:
        if self.statistics == "declared":
            return self
        rows = [v for v in values if v is not None]
        for var in self.variables:
            if not var.is_numeric:
                continue
            col = np.array([r.get(var.name) for r in rows if r.get(var.name) is not None], dtype=np.float64)
            self.mean[var.name] = float(col.mean()) if col.size else 0.0
            self.std[var.name] = float(col.std()) if col.size > 1 and col.std() > 0 else 1.0
        return self

    def __call__(self, value: dict[str, Any], record_id: str = "?", train: bool = False) -> np.ndarray:
        if any(v.is_numeric for v in self.variables) and not self.mean:
            raise RuntimeError("TabularTransform used before fit(): standardisation needs training statistics")
        out = np.zeros(len(self.variables), dtype=np.float32)
        for j, var in enumerate(self.variables):
            x = value.get(var.name)
            if var.is_numeric:
                out[j] = 0.0 if x is None else (x - self.mean[var.name]) / self.std[var.name]
            else:
                out[j] = var.categories.index(x) if x in var.categories else len(var.categories)
        return out

    def spec(self) -> dict[str, Any]:
        return {"cardinalities": [0 if v.is_numeric else len(v.categories) + 1 for v in self.variables]}

    def state_dict(self) -> dict[str, Any]:
        return {
            "variables": [v.name for v in self.variables],
            "declarations": [v.model_dump(mode="json") for v in self.variables],
            "statistics": self.statistics,
            "mean": self.mean,
            "std": self.std,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("declarations"):
            self.variables = [Variable.model_validate(d) for d in state["declarations"]]
        self.statistics = state.get("statistics", self.statistics)
        self.mean, self.std = dict(state["mean"]), dict(state["std"])


class TextTransform(ModalityTransform):
    """Clinical note → token ids ``(max_len,)``.

    Args:
        max_len: tokens kept (padded with 0).
        vocab_size: vocabulary size of the note tokenizer.
        tokenizer: ``"notes"`` (word-level, trained on the training notes) or ``"minilm"`` (the pretrained
            tokenizer of the frozen ``text_minilm`` encoder, extra ``text``).
    """

    modality, column = "text", "text"

    def __init__(self, max_len: int = 128, vocab_size: int = 2000, tokenizer: str = "notes") -> None:
        if tokenizer not in ("notes", "minilm"):
            raise ValueError(f"tokenizer must be 'notes' or 'minilm', got {tokenizer!r}")
        self.max_len, self.vocab_size, self.kind = max_len, vocab_size, tokenizer
        self.tokenizer: NoteTokenizer | MiniLMTokenizer | None = MiniLMTokenizer() if tokenizer == "minilm" else None

    def fit(self, values: Sequence[Any]) -> TextTransform:
        if self.kind == "notes":
            self.tokenizer = NoteTokenizer.train([v for v in values if v], vocab_size=self.vocab_size)
        return self

    def __call__(self, value: str, record_id: str = "?", train: bool = False) -> np.ndarray:
        if self.tokenizer is None:
            raise RuntimeError("TextTransform used before fit(): the tokenizer is trained on the training notes")
        return self.tokenizer.encode(value, self.max_len)

    def spec(self) -> dict[str, Any]:
        size = self.tokenizer.vocab_size if self.tokenizer is not None else self.vocab_size
        return {"vocab_size": size, "max_len": self.max_len}

    def state_dict(self) -> dict[str, Any]:
        trained = self.tokenizer.to_str() if isinstance(self.tokenizer, NoteTokenizer) else None
        return {"max_len": self.max_len, "vocab_size": self.vocab_size, "kind": self.kind, "trained": trained}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("trained"):
            self.tokenizer = NoteTokenizer.from_str(state["trained"])
