"""Recompute test metrics of a checkpoint: ``python eval.py ckpt_path=outputs/.../checkpoints/best.ckpt``.

A mistake (a missing checkpoint, a bad override) prints one line and exits with status 2 (``NEXTGEN_ML_DEBUG=1``
shows the traceback); see :mod:`nextgen_ml.errors`.
"""

import hydra
from omegaconf import DictConfig

from nextgen_ml.errors import run_hydra
from nextgen_ml.training import resolvers  # noqa: F401


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from nextgen_ml.training.evaluate import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    run_hydra(main, "eval.py")
