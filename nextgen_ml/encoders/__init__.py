"""Per-modality encoders; importing this package registers every builder (see :mod:`nextgen_ml.registry`)."""

from nextgen_ml.encoders import ecg, genomics, image, tabular, text  # noqa: F401
