"""The sweep's record in the store: its own (parent) run, under which its jobs' runs nest,
and how that record is kept and closed while and after the jobs run."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time

from mlflow.entities import Metric, RunTag

from . import claims, interrupts, store, tracking
from . import record as rec
from .errors import one_line


def open_experiment(uri: str, conf, metrics: list[str]) -> tuple:
    """(client, experiment id, {config hash: id of its FINISHED run}), with the RUNNING runs
    of dead processes closed and the runs table's view by gradient (gradient_view) shared; a
    store that cannot be used ends the sweep in one line. `metrics`: the tasks' metrics."""
    try:
        client = store.open_client(uri)
        location = tracking.artifact_location(uri, conf.artifact_root, conf.experiment)
        experiment_id = tracking.ensure_experiment(client, conf.experiment, location)
        shared = client.get_experiment(experiment_id).tags.get(rec.VIEW_TAG)
        view = gradient_view(metrics, shared)
        if view != shared:
            client.set_experiment_tag(experiment_id, rec.VIEW_TAG, view)
        killed = claims.close_stale(client, experiment_id, conf.stale_after_min)
        finished = {} if conf.rerun else tracking.finished_runs(client, experiment_id)
    except Exception as err:
        fail_store(err, uri)
    if killed:
        print(f"sweep: marked {len(killed)} run(s) of dead processes KILLED", flush=True)
    return client, experiment_id, finished


def gradient_view(metrics: list[str], shared: str | None = None) -> str:
    """The runs table that answers "what vanished?": every run in one flat list (sorting
    un-nests the sweep's runs), by the long-range log10 ratio, lowest first, beside its regime
    tag, its per-step decay factor and each metric against its no-learning baseline. The
    metrics of an earlier sweep's view (`shared`) stay in it."""
    valid = "metrics.`valid_"
    earlier = json.loads(shared)["selectedColumns"] if shared else []
    metrics = sorted({*metrics, *(c[len(valid) : -1] for c in earlier if c.startswith(valid))})
    columns = [f"tags.`{rec.REGIME}`", "metrics.`log10_ratio`", "metrics.`decay_factor`"]
    for metric in metrics:
        columns += [f"metrics.`valid_{metric}`", f"metrics.`baseline_{metric}`"]
    view = {
        "orderByKey": "metrics.`log10_ratio`",
        "orderByAsc": True,
        "selectedColumns": columns,
        "columnOrder": columns,
    }
    return json.dumps(view)


def open_parent_run(
    client, experiment_id: str, uri: str, arguments, swept: str, commit: str
) -> str:
    """The sweep's own run, under which its jobs' runs nest."""
    try:  # the store may be full, or gone since it was checked
        return client.create_run(
            experiment_id,
            run_name=f"sweep {time.strftime('%m-%d %H:%M')}",  # short: the UI's column
            tags={
                rec.SWEEP_OVERRIDES: store.public(" ".join(arguments)),
                rec.ROLE: "sweep",
                rec.GIT_COMMIT: commit,
                rec.SWEPT: swept,
                **claims.identity(),
            },
        ).info.run_id
    except Exception as err:
        fail_store(err, uri)


class Sweep:
    """The sweep's record in the store: its parent run, and its jobs' runs by config hash."""

    def __init__(
        self, client, experiment_id: str, parent: str, hashes: list[str], experiment: str
    ) -> None:
        self.client, self.experiment_id, self.experiment = client, experiment_id, experiment
        self.parent, self.hashes = parent, hashes

    def running(self) -> list:
        return tracking.search_all(
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
        store may be what failed. A further Ctrl-C waits until this is done, and is ignored
        after it: the sweep is ending."""
        with interrupts.deferred(ending=True):
            try:
                for run in self.running():
                    claims.close_killed(self.client, run, cause)
                claims.close_killed(self.client, self.client.get_run(self.parent), cause)
            except Exception as err:  # the interruption is what the user must see
                print(f"sweep: could not close every run: {one_line(err)}", file=sys.stderr)

    def finish(self, counts: dict[str, int], regimes: dict[str, int]) -> None:
        """Close the sweep's run, its home in the UI: its counts as metrics (jobs_finished,
        ..., runs_vanishing, ...) and tags, and a description that says them in words."""
        metrics = {f"jobs_{k}": v for k, v in counts.items()}
        metrics |= {f"runs_{name}": n for name, n in regimes.items()}
        stamp = int(time.time() * 1000)
        self.client.log_batch(
            self.parent,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
            tags=[RunTag(f"rnngrad.jobs_{k}", str(v)) for k, v in counts.items()],
        )
        said = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "selfcheck_failed")
        note = f"The sweep of '{self.experiment}': {said}."
        if regimes:
            ends = ", ".join(f"{name} in {n}" for name, n in regimes.items())
            note += (
                f" The gradient at the end of training (rnngrad.regime): {ends}"
                " (runs with a final profile; a diverged run has none)."
            )
        if counts.get("selfcheck_failed"):
            note += f" The self-check FAILED in {counts['selfcheck_failed']} run(s)."
        self.client.set_tag(self.parent, rec.NOTE, note)
        failed = counts["failed"]
        self.client.set_terminated(self.parent, status="FAILED" if failed else "FINISHED")
        store.after_sweep(self.client.tracking_uri)  # the planner's statistics; the log folded


ORPHANED = "the job ended without closing its run (killed: SIGKILL, time limit or out of memory)"


def fail_store(err: BaseException, uri: str) -> None:
    """The store cannot be used: one line on stderr, exit status 1, nothing written."""
    what = str(err) if isinstance(err, store.StoreError) else f"{uri}: {one_line(err)}"
    print(f"store failure: {store.public(what)}", file=sys.stderr, flush=True)
    sys.exit(1)
