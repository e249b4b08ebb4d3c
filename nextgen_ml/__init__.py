"""nextgen_ml: multimodal deep learning for cardiology."""

__version__ = "0.1.0"
