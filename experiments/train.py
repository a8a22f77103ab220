"""One training job, or a sweep of them: the entry point of every experiment.

    python experiments/train.py -m                        # the vanishing sweep (make sweep)
    python experiments/train.py -m experiment=horizon     # another preset (conf/experiment/)
    python experiments/train.py task=adding task.T=50     # a single run
    python experiments/train.py debug=default             # a tiny run

Each job trains one RNN with the NumPy engine and records one MLflow run (rnngrad.pipeline.job);
the sweeper (rnngrad.pipeline.sweeper) validates every job first, skips what already finished
and prints a summary. Configs: conf/. Runs: the MLflow store (make ui).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rnngrad.pipeline.job import run
from rnngrad.pipeline.preflight import preflight
from rnngrad.pipeline.schema import register

CONF = Path(__file__).resolve().parents[1] / "conf"
register()


@hydra.main(config_path=str(CONF), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    hc = HydraConfig.get()
    in_sweep = cfg.tracking.parent_run_id is not None
    return run(cfg, list(hc.overrides.task), hc.job.num if in_sweep else None)


if __name__ == "__main__":
    preflight(CONF, sys.argv[1:])
    main()
