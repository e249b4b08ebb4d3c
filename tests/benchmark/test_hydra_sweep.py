"""The Hydra multirun counterpart of the default benchmark composes with the real config tree."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from nextgen_ml.benchmark.baselines import FUSION as BASELINE
from nextgen_ml.benchmark.config import load_config
from nextgen_ml.training import resolvers  # noqa: F401
from tests.training.conftest import CONFIGS


def test_benchmark_sweep_matches_the_benchmark_config() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=benchmark_fusion"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert params["model/fusion"].split(",") == ["concat", "late", "gated", "bottleneck", "cross_attention"]
    assert cfg.hydra.mode.name == "MULTIRUN"
    bench = load_config(CONFIGS / "benchmark" / "default.yaml")
    neural = {s.fusion for s in bench.settings if s.fusion != BASELINE}  # the linear baselines are not train.py runs
    assert neural == set(params["model/fusion"].split(","))
    assert cfg.data.cohort.n == bench.data.cohort["n"] and cfg.model.embed_dim == bench.model.embed_dim
    assert dict(cfg.data.transforms.ecg) == bench.data.transforms["ecg"]
    assert cfg.trainer.max_epochs == bench.train.max_epochs
