"""nextgen_ml: multimodal deep learning for cardiology."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Lazy top-level API: ``nextgen_ml.load_pretrained`` imports torch and the bundle code on first use only."""
    if name == "load_pretrained":
        from nextgen_ml.bundle.load import load_pretrained

        return load_pretrained
    raise AttributeError(f"module 'nextgen_ml' has no attribute {name!r}")
