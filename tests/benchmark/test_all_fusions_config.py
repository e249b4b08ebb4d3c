"""configs/benchmark/all_fusions.yaml compares every registered fusion on the default benchmark's modalities."""

from __future__ import annotations

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.registry import list_fusions
from tests.training.conftest import CONFIGS


def test_all_fusions_config_covers_every_registered_fusion_and_modality() -> None:
    cfg = load_config(CONFIGS / "benchmark" / "all_fusions.yaml")
    default = load_config(CONFIGS / "benchmark" / "default.yaml")
    modalities = sorted(default.settings[0].modalities)
    multimodal = [s for s in cfg.settings if len(s.modalities) > 1]
    assert sorted(s.fusion for s in multimodal) == list_fusions()
    assert all(sorted(s.modalities) == modalities for s in multimodal)
    assert sorted({s.modalities[0] for s in cfg.settings if len(s.modalities) == 1}) == modalities
    assert dict(cfg.model.encoders) == dict(default.model.encoders) and cfg.train == default.train
