"""Pretrained bundles: export a checkpoint to one self-contained directory and load it for prediction.

``export_bundle(ckpt, out_dir)`` / ``nextgen-ml export CKPT --out DIR`` write weights (safetensors), the resolved
config, the fitted preprocessing and a model card; ``load_pretrained(dir)`` returns a :class:`PretrainedModel`
with ``predict(records)`` and ``explain(records)``. See docs/bundles.md.
"""

from nextgen_ml.bundle.export import export_bundle
from nextgen_ml.bundle.files import BundleError
from nextgen_ml.bundle.load import load_pretrained
from nextgen_ml.bundle.preprocess import InputMismatchError
from nextgen_ml.bundle.pretrained import PretrainedModel

__all__ = ["BundleError", "InputMismatchError", "PretrainedModel", "export_bundle", "load_pretrained"]
