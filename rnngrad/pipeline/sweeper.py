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
import sys
import threading
import time

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from omegaconf import open_dict

from . import claims, interrupts, store
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
            return self.launch_and_summarise(jobs, jobs, [], None)
        uri = store.credentials_to_env(tr.store_uri(tracking.uri))
        launcher = str(self.config.hydra.launcher.get("_target_", ""))
        if "Slurm" in launcher and not uri.startswith(("http://", "https://")):
            fail(
                ValueError(
                    f"tracking.uri={store.public(uri)}: a SLURM sweep needs an MLflow server "
                    "(tracking.uri=http://HOST:PORT, see make server); SQLite must "
                    "never sit on a shared filesystem"
                )
            )
        interrupts.raise_on_sigterm()
        try:
            client = store.open_client(uri)
            location = tr.artifact_location(uri, tracking.artifact_root, tracking.experiment)
            experiment_id = tr.ensure_experiment(client, tracking.experiment, location)
            killed = claims.close_stale(client, experiment_id, tracking.stale_after_min)
            finished = {} if tracking.rerun else tr.finished_runs(client, experiment_id)
        except Exception as err:
            fail_store(err, uri)
        if killed:
            print(f"sweep: marked {len(killed)} run(s) of dead processes KILLED", flush=True)
        todo, skipped, hashes = [], [], {}
        for job, cfg in sorted(zip(jobs, configs, strict=True), key=lambda jc: -work(jc[1])):
            hashes[tuple(job)] = config_hash(cfg)
            done = finished.get(hashes[tuple(job)])
            (skipped if done else todo).append(job)
            if done:
                print(f"skip {run_label(job)}: already finished as run {done}", flush=True)
        swept = ",".join(swept_keys(configs))
        try:  # the store may be full, or gone since it was checked
            parent = client.create_run(
                experiment_id,
                run_name=f"sweep {time.strftime('%Y-%m-%d %H:%M:%S')}",
                tags={
                    rec.SWEEP_OVERRIDES: store.public(" ".join(arguments)),
                    rec.ROLE: "sweep",
                    rec.GIT_COMMIT: tr.git_commit(),
                    rec.SWEPT: swept,
                    **claims.identity(),
                },
            ).info.run_id
        except Exception as err:
            fail_store(err, uri)
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
            f"experiment '{tracking.experiment}' in {store.public(uri)}",
            flush=True,
        )
        sweep = Sweep(client, experiment_id, parent, [hashes[tuple(j)] for j in todo])
        return self.launch_and_summarise(launched, todo, skipped, sweep)

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

    def launch_and_summarise(self, launched, todo, skipped, sweep: Sweep | None):
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
        counts = summarise(results, todo, len(skipped))
        if sweep and problem is None:
            problem = sweep.attempt(sweep.finish, counts)
        if problem is not None:  # the store broke during the sweep (a full disk, say)
            print(
                f"store failure: the sweep's record could not be closed ({problem}); "
                "launching the same command again closes what was left RUNNING",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(1)
        if counts["failed"]:
            sys.exit(1)
        return [results]


class Sweep:
    """The sweep's record in the store: its parent run, and its jobs' runs by config hash."""

    def __init__(self, client, experiment_id: str, parent: str, hashes: list[str]) -> None:
        self.client, self.experiment_id = client, experiment_id
        self.parent, self.hashes = parent, hashes

    def running(self) -> list:
        return tr.search_all(
            self.client,
            self.experiment_id,
            f"tags.`{rec.PARENT}` = '{self.parent}' and attributes.status = 'RUNNING'",
        )

    @staticmethod
    def attempt(step, *args) -> str | None:
        """Run one closing step; what went wrong, in one line, if the store failed."""
        try:
            step(*args)
        except Exception as err:
            return store.public(one_line(err))
        return None

    def close_orphans(self, causes: dict[str, str]) -> None:
        """Runs of this sweep left RUNNING once the launcher has returned: their job was
        killed (a worker's SIGKILL, a scheduler's time limit, the out-of-memory killer)
        before it could close them. The cause the launcher saw is kept, else a general one;
        an error the run recorded itself is never overwritten."""
        for run in self.running():
            cause = causes.get(run.data.tags.get(rec.CONFIG_HASH, "")) or ORPHANED
            claims.close_killed(self.client, run, cause)
            print(f"KILLED {run.info.run_name}: {cause}", flush=True)

    @contextlib.contextmanager
    def heartbeat(self, every_s: float = 60.0):
        """Keep the sweep's run's heartbeat fresh while its jobs run, so that a launch on
        another host never takes a live sweep for a dead one."""
        done = threading.Event()

        def beat():
            while not done.wait(every_s):
                with contextlib.suppress(Exception):  # a store hiccup: try again later
                    self.client.set_tag(self.parent, rec.HEARTBEAT, f"{time.time():.0f}")

        thread = threading.Thread(target=beat, name="rnngrad-sweep-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()

    def close_interrupted(self, cause: str) -> None:
        """After Ctrl-C, SIGTERM or a launcher failure: the workers have closed their runs;
        close whatever they could not, and the parent run, with the cause. Best effort: the
        store may be what failed. A further Ctrl-C waits until this is done."""
        with interrupts.deferred():
            try:
                for run in self.running():
                    claims.close_killed(self.client, run, cause)
                claims.close_killed(self.client, self.client.get_run(self.parent), cause)
            except Exception as err:  # the interruption is what the user must see
                print(f"sweep: could not close every run: {one_line(err)}", file=sys.stderr)

    def finish(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.client.set_tag(self.parent, f"rnngrad.jobs_{key}", value)
        failed = counts["failed"]
        self.client.set_terminated(self.parent, status="FAILED" if failed else "FINISHED")


ORPHANED = "the job ended without closing its run (killed: SIGKILL, time limit or out of memory)"


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


def fail_store(err: BaseException, uri: str) -> None:
    """The store cannot be used: one line on stderr, exit status 1, nothing written."""
    what = str(err) if isinstance(err, store.StoreError) else f"{uri}: {one_line(err)}"
    print(f"store failure: {store.public(what)}", file=sys.stderr, flush=True)
    sys.exit(1)


def fail(err: BaseException, job: list[str] | None = None) -> None:
    """Stop the sweep before anything ran: one line on stderr, exit status 2."""
    where = f" (job {run_label(job)})" if job else ""
    print(f"bad configuration{where}: {one_line(err)}", file=sys.stderr, flush=True)
    sys.exit(2)
