"""Train a multimodal cardiology model: ``python train.py [+experiment=NAME] [key=value ...]``.

A mistake in the config or the overrides prints one line naming the key and exits with status 2
(``NEXTGEN_ML_DEBUG=1`` or ``HYDRA_FULL_ERROR=1`` shows the traceback); see :mod:`nextgen_ml.errors`.
"""

import hydra
from omegaconf import DictConfig

from nextgen_ml.errors import run_hydra
from nextgen_ml.training import resolvers  # noqa: F401  (config resolvers)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from nextgen_ml.training.config_check import check_run_config
    from nextgen_ml.training.train import train

    check_run_config(cfg)
    metrics = train(cfg)
    # The optimised metric for Hydra sweepers (hparams_search).
    return metrics.get(cfg.task.monitor)


if __name__ == "__main__":
    run_hydra(main, "train.py")
