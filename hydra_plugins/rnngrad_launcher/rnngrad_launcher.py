"""submitit launchers (SLURM, local) that wait for every job and report each one's fate.

hydra-submitit-launcher collects results in order and raises at the first job that died
(killed by the scheduler: SIGKILL, time limit, out of memory), while later jobs may still be
running; the sweep then ends without them and without a summary. These subclasses submit
the same way (submitit's AutoExecutor, one job array) but wait for every job, turning a job
that died into a FAILED JobReturn that names the scheduler's state. rnngrad's sweeper then
marks that job's MLflow run KILLED and counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    LocalLauncher as _Local,
)
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as _Slurm,
)

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
        returns = []
        for job, overrides in zip(jobs, job_overrides, strict=True):
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
        return returns


class SlurmLauncher(WaitForEveryJob, _Slurm):
    _EXECUTOR = "slurm"


class LocalLauncher(WaitForEveryJob, _Local):
    _EXECUTOR = "local"
