"""Per-modality encoders; importing this package registers every builder (see :mod:`nextgen_ml.registry`)."""

from nextgen_ml.encoders import (  # noqa: F401
    ecg,
    genomics,
    heart_sound,
    heart_sound_stats,
    image,
    tabular,
    text,
    wearable,
    wearable_stats,
)
