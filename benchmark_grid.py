"""Run the benchmark grid as Hydra jobs, one shard of cells per job (``configs/benchmark_grid.yaml``):
``python benchmark_grid.py -m 'shard=range(0,8)' num_shards=8 hydra/launcher=benchmark_slurm``."""

import hydra
from omegaconf import DictConfig

from nextgen_ml.errors import run_hydra


@hydra.main(version_base="1.3", config_path="configs", config_name="benchmark_grid")
def main(cfg: DictConfig) -> dict:
    from nextgen_ml.training.benchmark_grid import run_shard

    return run_shard(cfg)


if __name__ == "__main__":
    run_hydra(main, "benchmark_grid.py")
