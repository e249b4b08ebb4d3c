"""Train a multimodal cardiology model: ``python train.py [+experiment=NAME] [key=value ...]``."""

import hydra
from omegaconf import DictConfig

from nextgen_ml.training import resolvers  # noqa: F401  (config resolvers)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from nextgen_ml.training.train import train

    metrics = train(cfg)
    # The optimised metric for Hydra sweepers (hparams_search).
    return metrics.get(cfg.task.monitor)


if __name__ == "__main__":
    main()
