"""rnngrad's launchers: the worker pool for this machine (rnngrad.pipeline.pool), and
submitit launchers (SLURM, local) that wait for every job and report each one's fate.

The pool (`hydra/launcher=rnngrad_pool`, the default through conf/cluster/machine.yaml) runs
every job in a pool of worker processes in which a dead worker costs one job and no worker
outlives the launcher.

hydra-submitit-launcher collects results in order and raises at the first job that died
(killed by the scheduler: SIGKILL, time limit, out of memory), while later jobs may still be
running; the sweep then ends without them and without a summary. These subclasses submit
the same way (submitit's AutoExecutor, one job array) but wait for every job, turning a job
that died into a FAILED JobReturn that names the scheduler's state. rnngrad's sweeper then
marks that job's MLflow run KILLED and counts it.
"""

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    LocalLauncher as _Local,
)
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as _Slurm,
)
from omegaconf import open_dict

from rnngrad.pipeline.compose import Composer
from rnngrad.pipeline.progress import Progress

GENERIC = {
    "timeout_min",
    "cpus_per_task",
    "gpus_per_node",
    "tasks_per_node",
    "mem_gb",
    "nodes",
    "name",
    "stderr_to_stdout",
}  # submitit's cluster-independent parameters


class WaitForEveryJob:
    _EXECUTOR: str

    def __call__(self, *args, **kwargs) -> JobReturn:  # on the node, in the job's process
        return sent_back(super().__call__(*args, **kwargs))

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        import submitit

        params = dict(self.params)
        folder = params.pop("submitit_folder")
        init = {}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(folder=folder, cluster=self._EXECUTOR, **init)
        executor.update_parameters(
            **{
                key if key in GENERIC else f"{self._EXECUTOR}_{key}": value
                for key, value in params.items()
                if value is not None
            }
        )
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        calls = [
            (
                list(overrides),
                "hydra.sweep.dir",
                initial_job_idx + i,
                f"job_id_for_{i}",
                Singleton.get_state(),
            )
            for i, overrides in enumerate(job_overrides)
        ]
        jobs = executor.map_array(self, *zip(*calls, strict=True))
        try:
            return self.wait_for(jobs, job_overrides)
        except BaseException:  # Ctrl-C, SIGTERM: the submitted jobs must not run on unseen
            for job in jobs:  # scancel: each job gets SIGTERM and closes its run as KILLED
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
            raise

    def wait_for(self, jobs, job_overrides) -> list[JobReturn]:
        returns, progress = [], Progress(len(jobs), costs=getattr(self, "expected_costs", None))
        for job, overrides in zip(jobs, job_overrides, strict=True):  # in order, not as they end
            try:
                returns.append(job.results()[0])
            except Exception as err:  # the job died without returning: ask why, keep going
                failed = JobReturn(
                    overrides=list(filter_overrides(overrides)), status=JobStatus.FAILED
                )
                failed._return_value = RuntimeError(
                    f"{self._EXECUTOR} job {job.job_id} ended as {job.state}: {err}"
                )
                returns.append(failed)
            progress.job_ended(len(returns) - 1)
        return returns


class SlurmLauncher(WaitForEveryJob, _Slurm):
    _EXECUTOR = "slurm"


class LocalLauncher(WaitForEveryJob, _Local):
    _EXECUTOR = "local"


@dataclass
class PoolLauncherConf:
    _target_: str = "hydra_plugins.rnngrad_launcher.rnngrad_launcher.PoolLauncher"
    n_jobs: int = -1  # worker processes; -1: one per core


ConfigStore.instance().store(
    group="hydra/launcher", name="rnngrad_pool", node=PoolLauncherConf, provider="rnngrad"
)


class PoolLauncher(Launcher):
    """Every job in a worker process of rnngrad.pipeline.pool (one per core by default)."""

    def __init__(self, n_jobs: int = -1) -> None:
        self.n_jobs = n_jobs
        self.config = self.hydra_context = self.task_function = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        from rnngrad.pipeline import pool

        setup_globals()
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        workers = self.n_jobs if self.n_jobs > 0 else len(os.sched_getaffinity(0))  # usable cores
        shared = {
            "execute": execute_job,
            "hydra_context": self.hydra_context,
            "config": self.config,
            "task_function": self.task_function,
            "singleton_state": Singleton.get_state(),
        }
        jobs = [(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]

        def failed(job, err: Exception) -> JobReturn:
            ret = JobReturn(overrides=list(filter_overrides(job[1])), status=JobStatus.FAILED)
            ret._return_value = err
            return ret

        # what every worker needs, imported once by the fork server: this module (execute_job)
        # and the job (MLflow), which experiments/train.py imports lazily
        preload = (__name__, "rnngrad.pipeline.job")
        progress = Progress(len(jobs), costs=getattr(self, "expected_costs", None))
        return pool.launch(shared, jobs, workers, failed, preload, progress.job_ended)


def execute_job(shared: dict, job) -> JobReturn:
    """Run one job in a worker: Hydra's run_job on the job's composed config, equal to what
    Hydra's load_sweep_config returns, composed by the worker's Composer: its jobs share
    their config groups, which it composes once."""
    index, overrides = job
    setup_globals()
    Singleton.set_state(shared["singleton_state"])
    if "composer" not in shared:  # the worker's own copy of `shared`, kept between its jobs
        loader = shared["hydra_context"].config_loader
        parser = OverridesParser.create(config_loader=loader)
        shared["composer"] = Composer(loader, shared["config"], parser)
    sweep_config = shared["composer"].sweep_config(list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{index}"
        sweep_config.hydra.job.num = index
    HydraConfig.instance().set_config(sweep_config)
    result = run_job(
        hydra_context=shared["hydra_context"],
        config=sweep_config,
        task_function=shared["task_function"],
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    return sent_back(result)


def sent_back(result: JobReturn) -> JobReturn:
    """What the launching process gets back of a job: its JobReturn without the job's composed
    configs (`cfg`, `hydra_cfg`), which the sweeper never reads and which, kept for every job,
    made the launcher grow with the sweep (by ~0.15 MB a job, measured over a 1,000-run sweep,
    and unpickling them took its CPU from the workers); a failed job's exception as one line,
    said where its chain of causes is still there: an exception sent to the launching process
    arrives without them."""
    from rnngrad.pipeline.errors import JobError, one_line

    result.cfg = result.hydra_cfg = None
    if result.status == JobStatus.FAILED and isinstance(result._return_value, BaseException):
        result._return_value = JobError(one_line(result._return_value))
    return result
