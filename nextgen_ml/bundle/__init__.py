"""Pretrained bundles: export a checkpoint to one self-contained directory and load it for prediction.

``export_bundle(ckpt, out_dir)`` / ``nextgen-ml export CKPT --out DIR`` write weights (safetensors), the resolved
config, the fitted preprocessing and a model card; ``load_pretrained(dir)`` returns a :class:`PretrainedModel`
with ``predict(records)`` and ``explain(records)``. See docs/bundles.md. ``export_pretrained(run, dir)`` /
``load_pretrained_encoders(dir)`` do the same for self-supervised pretrained encoders (docs/pretraining.md).
"""

from nextgen_ml.bundle.encoders import export_pretrained, load_pretrained_encoders, load_pretrained_preprocessor
from nextgen_ml.bundle.export import export_bundle
from nextgen_ml.bundle.files import BundleError
from nextgen_ml.bundle.load import load_pretrained
from nextgen_ml.bundle.preprocess import InputMismatchError
from nextgen_ml.bundle.pretrained import PretrainedModel

__all__ = [
    "BundleError",
    "InputMismatchError",
    "PretrainedModel",
    "export_bundle",
    "export_pretrained",
    "load_pretrained",
    "load_pretrained_encoders",
    "load_pretrained_preprocessor",
]
