"""Hydra's basic sweeper, made to track: validate every job, resume, one parent run, a summary.

Runs in the launching process, before any worker starts:
1. expand the grid exactly as BasicSweeper does, compose every job's config and validate it
   (a bad value stops everything with one line, before any run exists);
2. create the MLflow store and experiment once (parallel workers creating a fresh SQLite
   store at the same moment crash in its schema migration; several creating one experiment
   misfile runs), and mark RUNNING runs of dead processes KILLED;
3. skip every configuration that already has a FINISHED run with the same config hash
   (unless tracking.rerun=true), saying so per job;
4. open a parent run for the sweep, launch the rest, longest first, with the configured
   launcher (joblib,
   basic, submitit, ...) passing the experiment and parent ids explicitly, and end with a
   summary: finished, solved, skipped, diverged, failed. Exit status 1 if a job failed.
"""

from __future__ import annotations

import sys
import time

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from omegaconf import open_dict

from . import record as rec
from . import tracking as tr
from .errors import one_line
from .job import run_label
from .schema import config_hash, flatten, plain, validate


class TrackedSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]):
        jobs = self.expand(arguments)
        configs = [self.compose(job) for job in jobs]
        tracking = configs[0].tracking
        print(f"sweep: {len(jobs)} configurations", flush=True)
        if not tracking.enabled:
            return self.launch_and_summarise(jobs, jobs, [], None, None, None)
        uri = tr.store_uri(tracking.uri)
        launcher = str(self.config.hydra.launcher.get("_target_", ""))
        if "Slurm" in launcher and not uri.startswith(("http://", "https://")):
            fail(
                ValueError(
                    f"tracking.uri={uri}: a SLURM sweep needs an MLflow server "
                    "(tracking.uri=http://HOST:PORT, see make server); SQLite must "
                    "never sit on a shared filesystem"
                )
            )
        client = tr.MlflowClient(uri)
        location = tr.artifact_location(uri, tracking.artifact_root, tracking.experiment)
        experiment_id = tr.ensure_experiment(client, tracking.experiment, location)
        killed = tr.mark_stale_runs_killed(client, experiment_id, tracking.stale_after_min)
        if killed:
            print(f"sweep: marked {len(killed)} run(s) of dead processes KILLED", flush=True)
        finished = {} if tracking.rerun else tr.finished_runs(client, experiment_id)
        todo, skipped = [], []
        for job, cfg in sorted(zip(jobs, configs, strict=True), key=lambda jc: -work(jc[1])):
            done = finished.get(config_hash(cfg))
            (skipped if done else todo).append(job)
            if done:
                print(f"skip {run_label(job)}: already finished as run {done}", flush=True)
        swept = ",".join(swept_keys(configs))
        parent = client.create_run(
            experiment_id,
            run_name=f"sweep {time.strftime('%Y-%m-%d %H:%M:%S')}",
            tags={
                rec.SWEEP_OVERRIDES: " ".join(arguments),
                rec.ROLE: "sweep",
                rec.GIT_COMMIT: tr.git_commit(),
                rec.SWEPT: swept,
                **tr.identity_tags(),
            },
        ).info.run_id
        extra = [
            f"tracking.uri={uri}",
            f"tracking.experiment_id={experiment_id}",
            f"tracking.parent_run_id={parent}",
            f"tracking.job_total={len(todo)}",
            f"tracking.swept='{swept}'",  # quoted: the commas are not a sweep
        ]
        launched = [[*job, *extra] for job in todo]
        print(
            f"sweep: {len(todo)} to run, {len(skipped)} already finished; "
            f"experiment '{tracking.experiment}' in {uri}",
            flush=True,
        )
        return self.launch_and_summarise(launched, todo, skipped, client, parent, experiment_id)

    def expand(self, arguments: list[str]) -> list[list[str]]:
        """Every job's overrides: the config's sweep grid, then the command line's."""
        params = self._parse_config() + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            overrides = parser.parse_overrides(params)
            return self.split_arguments(overrides, None)[0]
        except Exception as err:
            fail(err)

    def compose(self, job: list[str]):
        try:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(job))
            with open_dict(cfg):
                del cfg["hydra"]
            validate(cfg)
        except Exception as err:
            fail(err, job)
        return cfg

    def launch_and_summarise(self, launched, todo, skipped, client, parent, experiment_id):
        results = []
        try:
            if launched:
                results = self.launcher.launch(launched, initial_job_idx=0)
        except KeyboardInterrupt:
            if client:
                client.set_tag(parent, rec.OUTCOME, "killed")
                client.set_terminated(parent, status="KILLED")
            print(
                "\nsweep: interrupted. Finished runs are kept; launch the same command again "
                "to run only what is missing.",
                flush=True,
            )
            raise
        if client:  # every job has ended: a run still RUNNING lost its process
            close_orphans(client, experiment_id, parent)
        counts = summarise(results, todo, len(skipped))
        if client:
            for key, value in counts.items():
                client.set_tag(parent, f"rnngrad.jobs_{key}", value)
            client.set_terminated(parent, status="FAILED" if counts["failed"] else "FINISHED")
        if counts["failed"]:
            sys.exit(1)
        return [results]


def close_orphans(client, experiment_id: str, parent: str) -> None:
    """Runs of this sweep left RUNNING once the launcher has returned: their job was killed
    (by the scheduler: SIGKILL, time limit, out of memory) before it could close them."""
    orphans = tr.search_all(
        client,
        experiment_id,
        f"tags.`{rec.PARENT}` = '{parent}' and attributes.status = 'RUNNING'",
    )
    for run in orphans:
        client.set_tag(run.info.run_id, rec.OUTCOME, "killed")
        client.set_tag(
            run.info.run_id,
            rec.ERROR,
            "the job ended without closing its run (killed: SIGKILL, time limit or out of memory)",
        )
        client.set_terminated(run.info.run_id, status="KILLED")
        print(f"KILLED {run.info.run_name}: its job died before it could finish", flush=True)


def swept_keys(configs) -> list[str]:
    """The config keys (flattened, e.g. model.activation) whose value differs between the
    jobs of the grid: what the sweep varies, so that reports tell its axes from differences
    between sweeps."""
    values: dict[str, set[str]] = {}
    for cfg in configs:
        for key, value in flatten(plain(cfg)).items():
            if not key.startswith("tracking."):
                values.setdefault(key, set()).add(repr(value))
    return sorted(k for k, v in values.items() if len(v) > 1)


def work(cfg) -> float:
    """A job's expected cost, T·H²·steps, to launch the longest first: with a few workers, a
    long job started last would leave the others idle at the end of the sweep."""
    steps = cfg.task.T or 64 + (cfg.task.delay or 0)
    return float(steps) * cfg.model.hidden_size**2 * cfg.train.steps


def summarise(results, todo, skipped: int) -> dict[str, int]:
    counts = {"finished": 0, "solved": 0, "diverged": 0, "skipped": skipped, "failed": 0}
    unchecked = []
    for job, r in zip(todo, results, strict=True):
        if r.status == JobStatus.FAILED:
            counts["failed"] += 1
            print(f"FAILED {run_label(job)}: {one_line(r._return_value)}", flush=True)
        else:
            outcome = r.return_value["outcome"]
            counts[outcome] = counts.get(outcome, 0) + 1
            if not r.return_value.get("selfcheck_ok", True):
                unchecked.append(run_label(job))
    print("sweep summary: " + ", ".join(f"{v} {k}" for k, v in counts.items()), flush=True)
    if unchecked:
        print(
            f"WARNING: the self-check FAILED in {len(unchecked)} run(s) (the engine's backward "
            f"disagrees with the reference, or a step broke Pascanu's bound): "
            + "; ".join(unchecked),
            flush=True,
        )
    counts["selfcheck_failed"] = len(unchecked)
    return counts


def fail(err: BaseException, job: list[str] | None = None) -> None:
    """Stop the sweep before anything ran: one line on stderr, exit status 2."""
    where = f" (job {run_label(job)})" if job else ""
    print(f"bad configuration{where}: {one_line(err)}", file=sys.stderr, flush=True)
    sys.exit(2)
