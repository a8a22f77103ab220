"""Hydra's basic sweeper, made to track: validate every job, resume, one parent run, a summary.

Runs in the launching process, before any worker starts:
1. expand the grid exactly as BasicSweeper does, compose every job's config and validate it
   (a bad value stops everything with one line, before any run exists);
2. check the store (a read-only or damaged SQLite file, a server that does not answer: one
   line, exit status 1, nothing written), create it and the experiment once (under a lock),
   and mark RUNNING runs of dead processes KILLED;
3. skip every configuration that already has a FINISHED run with the same config hash
   (unless tracking.rerun=true), saying so per job; each job claims its configuration again
   before it trains (claims.py), so that concurrent launches never run one twice;
4. open a parent run for the sweep, launch the rest, longest first, with the configured
   launcher (rnngrad's worker pool, basic, submitit, ...) passing the experiment and parent
   ids explicitly, and end with a summary: finished, solved, skipped, diverged, failed. Exit
   status 1 if a job failed; Ctrl-C or SIGTERM end it in one line with 130 or 143, every run
   closed.
Credentials in a server URI are moved to MLflow's environment variables before anything is
recorded or printed (store.credentials_to_env).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import TYPE_CHECKING, NamedTuple

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus

from . import interrupts, store
from .compose import Composer
from .config import Plan, build, config_hash, flatten, plain
from .errors import one_line
from .labels import run_label, run_names
from .verdict import REGIMES, where

if TYPE_CHECKING:
    from .sweep_record import Sweep


class TrackedSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]):
        jobs = self.expand(arguments)
        plans = [self.compose(job) for job in jobs]
        conf = plans[0].cfg.tracking
        flat = flat_configs(plans)
        names = run_names(flat)  # quoted: the value has spaces and "="; a name has no quote
        jobs = [
            [*job, f"internal.run_name='{name}'"] for job, name in zip(jobs, names, strict=True)
        ]
        print(f"sweep: {len(jobs)} configurations", flush=True)
        if not conf.enabled:
            return self.launch_and_summarise(jobs, names, [], None)
        # MLflow is imported here, once there is a sweep to record: Hydra imports this module
        # to find its plugins, and a bad configuration or --help need not wait for MLflow.
        from .sweep_record import Sweep, open_experiment, open_parent_run
        from .tracking import git_commit

        uri = store.credentials_to_env(store.store_uri(conf.uri))
        self.refuse_sqlite_on_slurm(uri)
        interrupts.raise_on_sigterm()
        metrics = sorted({plan.task.metric for plan in plans})
        client, experiment_id, finished = open_experiment(uri, conf, metrics)
        todo, skipped = partition(plans, jobs, names, finished, conf.list_skipped)
        done_before = f"{len(skipped)} already finished" + (
            " (tracking.list_skipped=true names them)" if skipped and not conf.list_skipped else ""
        )
        if not todo:  # a relaunch that finds everything finished records nothing new
            print(
                f"sweep: 0 to run, {done_before}; experiment '{conf.experiment}' in "
                f"{store.public(uri)} (no new sweep run)",
                flush=True,
            )
            count_outcomes([], [], len(skipped))
            say_where(client, experiment_id, None, conf.experiment, recorded=False)
            return []
        swept = ",".join(varied_keys(flat))
        commit = git_commit()  # asked once: every job runs this checkout
        parent = open_parent_run(client, experiment_id, uri, arguments, swept, commit)
        extra = [f"tracking.uri={uri}", *told(experiment_id, parent, len(todo), commit, swept)]
        print(
            f"sweep: {len(todo)} to run, {done_before}; experiment '{conf.experiment}' in "
            f"{store.public(uri)}",
            flush=True,
        )
        sweep = Sweep(client, experiment_id, parent, [t.digest for t in todo], conf.experiment)
        launched = [[*t.job, *extra] for t in todo]
        self.launcher.expected_costs = [t.cost for t in todo]  # rnngrad's launchers: time left
        return self.launch_and_summarise(launched, [t.name for t in todo], skipped, sweep)

    def refuse_sqlite_on_slurm(self, uri: str) -> None:
        launcher = str(self.config.hydra.launcher.get("_target_", ""))
        if "Slurm" in launcher and not uri.startswith(("http://", "https://")):
            fail(
                ValueError(
                    f"tracking.uri={store.public(uri)}: a SLURM sweep needs an MLflow server "
                    "(tracking.uri=http://HOST:PORT, see make server); SQLite must "
                    "never sit on a shared filesystem"
                )
            )

    def expand(self, arguments: list[str]) -> list[list[str]]:
        """Every job's overrides: the config's sweep grid, then the command line's."""
        params = self._parse_config() + list(arguments)
        parser = self.parser
        try:
            overrides = parser.parse_overrides(params)
            return self.split_arguments(overrides, None)[0]
        except Exception as err:
            fail(err)

    def compose(self, job: list[str]) -> Plan:
        """The job's config, built (and so validated) in full; a bad value ends the sweep."""
        try:
            return build(self.composer.job_config(job))
        except Exception as err:
            fail(err, job)

    @functools.cached_property
    def composer(self) -> Composer:
        return Composer(self.hydra_context.config_loader, self.config, self.parser)

    @functools.cached_property
    def parser(self) -> OverridesParser:
        return OverridesParser.create(config_loader=self.hydra_context.config_loader)

    def launch_and_summarise(self, launched, names, skipped, sweep: Sweep | None):
        results = []
        try:
            with sweep.heartbeat() if sweep else contextlib.nullcontext():
                if launched:
                    results = self.launcher.launch(launched, initial_job_idx=0)
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: close everything, say so, exit
            if sweep:
                sweep.close_interrupted(interrupts.cause(err))
            interrupts.exit_quietly(err, "sweep")
        except Exception as err:  # the launcher itself failed: close the record, then say it
            if sweep:
                sweep.close_interrupted(f"the launcher failed: {store.public(one_line(err))}")
            raise
        causes, problem = {}, None
        if sweep:
            for digest, r in zip(sweep.hashes, results, strict=True):
                if r.status == JobStatus.FAILED and isinstance(r._return_value, Exception):
                    causes[digest] = one_line(r._return_value)
            problem = sweep.attempt(sweep.close_orphans, causes)
        counts = count_outcomes(results, names, len(skipped))
        regimes = regime_counts(results)
        if sweep and problem is None:
            problem = sweep.attempt(sweep.finish, counts, regimes)
        if problem is not None:  # the store broke during the sweep (a full disk, say)
            print(
                f"store failure: the sweep's record could not be closed ({problem}); "
                "launching the same command again closes what was left RUNNING",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(1)
        if regimes:
            print(f"gradient at the end of training: {said_of(regimes)}", flush=True)
        if sweep:
            say_where(sweep.client, sweep.experiment_id, sweep.parent, sweep.experiment)
        if counts["failed"]:
            sys.exit(1)
        return [results]


def told(experiment_id: str, parent: str, total: int, commit: str, swept: str = "") -> list[str]:
    """What the sweeper tells each of its jobs (config.InternalConf), as overrides; also how
    the benchmarks and tests run a job as a sweep's."""
    return [
        f"internal.experiment_id={experiment_id}",
        f"internal.parent_run_id={parent}",
        f"internal.job_total={total}",
        f"internal.swept='{swept}'",  # quoted: the commas are not a sweep
        f"internal.git_commit='{commit}'",  # quoted: 1234567 or 12e4567 is a string
    ]


class Job(NamedTuple):
    job: list[str]  # its overrides
    name: str
    digest: str  # config_hash
    cost: float  # work(): its expected cost


def partition(plans, jobs, names, finished: dict, list_skipped: bool) -> tuple[list[Job], list]:
    """(the jobs to run, longest first; the overrides of those whose configuration already
    has a FINISHED run, by config hash in `finished`: named one per line if `list_skipped`)."""
    todo, skipped = [], []
    for i in sorted(range(len(jobs)), key=lambda i: -work(plans[i])):
        digest = config_hash(plans[i].cfg)
        done = finished.get(digest)
        if done:
            skipped.append(jobs[i])
            if list_skipped:
                print(f"skip {names[i]}: already finished as run {done}", flush=True)
        else:
            todo.append(Job(jobs[i], names[i], digest, work(plans[i])))
    return todo, skipped


def flat_configs(plans: list[Plan]) -> list[dict]:
    """Each job's resolved config, flattened (model.activation, ...), without tracking.*."""
    return [
        {k: v for k, v in flatten(plain(plan.cfg)).items() if not k.startswith("tracking.")}
        for plan in plans
    ]


def varied_keys(flat: list[dict]) -> list[str]:
    """The config keys whose value differs between the jobs of the grid, or that some jobs
    have and others lack (task.T in a sweep over tasks): what the sweep varies, so that
    reports tell its axes from differences between sweeps."""
    keys = set().union(*flat)
    return sorted(k for k in keys if len({repr(f.get(k, "(absent)")) for f in flat}) > 1)


def work(plan: Plan) -> float:
    """A job's expected cost, T·H²·steps (T the sequence's length), to launch the longest
    first: with a few workers, a long job started last would leave the others idle at the
    end of the sweep."""
    return float(plan.task.seq_len) * plan.model.hidden_size**2 * plan.settings.steps


def count_outcomes(results, names: list[str], skipped: int) -> dict[str, int]:
    counts = {"finished": 0, "solved": 0, "diverged": 0, "skipped": skipped, "failed": 0}
    unchecked = []
    for name, r in zip(names, results, strict=True):
        if r.status == JobStatus.FAILED:
            counts["failed"] += 1
            print(f"FAILED {name}: {one_line(r._return_value)}", flush=True)
        else:
            outcome = r.return_value["outcome"]
            counts[outcome] = counts.get(outcome, 0) + 1
            if not r.return_value.get("selfcheck_ok", True):
                unchecked.append(name)
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


def regime_counts(results) -> dict[str, int]:
    """How many of the jobs that ran ended in each gradient regime (verdict.regime)."""
    found = [r.return_value.get("regime") for r in results if r.status == JobStatus.COMPLETED]
    return {name: found.count(name) for name in REGIMES} if any(found) else {}


def said_of(regimes: dict[str, int]) -> str:
    """ "vanishing in 30, stable in 18, exploding in 0 (48 runs with a final profile; a
    diverged run has none)" """
    counts = ", ".join(f"{name} in {n}" for name, n in regimes.items())
    return f"{counts} ({sum(regimes.values())} runs with a final profile; a diverged run has none)"


def say_where(
    client, experiment_id: str, parent: str | None, experiment: str, recorded: bool = True
) -> None:
    """The sweep's closing lines: where its runs are, how to see them and their report."""
    uri = client.tracking_uri
    run = f", sweep run {parent}" if parent else ""
    said = "recorded" if recorded else "nothing new; the runs are in"
    print(
        f"{said}: experiment '{experiment}' (id {experiment_id}){run}, of {store.public(uri)}",
        flush=True,
    )
    for said in where(uri, experiment, experiment_id):
        print(said, flush=True)


def fail(err: BaseException, job: list[str] | None = None) -> None:
    """Stop the sweep before anything ran: one line on stderr, exit status 2."""
    where = f" (job {run_label(job)})" if job else ""
    print(f"bad configuration{where}: {one_line(err)}", file=sys.stderr, flush=True)
    sys.exit(2)
