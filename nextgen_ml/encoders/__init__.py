"""Per-modality encoders; importing this package registers every builder (see :mod:`nextgen_ml.registry`)."""

from nextgen_ml.encoders import ecg, genomics, heart_sound, image, tabular, text, wearable, wearable_stats  # noqa: F401
