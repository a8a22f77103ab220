"""One job = one MLflow run: build the task and model from the config, train, and record.

What a run holds (docs/pipeline.md, "The MLflow store"; every name in pipeline/record.py): params =
the flattened resolved config; tags = the record version, the Hydra overrides, the config
hash, the git commit, the task, the model, the primary metric and its direction, the keys
its sweep varied, the sweep (parent run), the self-check and the outcome; metrics by
training step (the no-learning baseline at step 0); the initial and final profiles as metric
series with step = t; profiles.npz (training step × t) and profile.png; config.yaml.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from ..attention import Attention
from ..rnn import RNN
from ..tasks import make_task
from ..training import Evaluation, Settings, train
from . import claims, interrupts, store
from . import record as rec
from . import tracking as tr
from .errors import one_line
from .figures import plt, profile_figure
from .schema import config_hash, flatten, plain, task_params, validate


def settings_of(cfg: DictConfig) -> Settings:
    return Settings(
        steps=cfg.train.steps,
        batch_size=cfg.optim.batch_size,
        lr=cfg.optim.lr,
        clip=cfg.optim.clip,
        eval_every=cfg.train.eval_every,
        profile_every=cfg.train.profile_every,
        valid_size=cfg.train.valid_size,
        probe_size=cfg.train.probe_size,
        early_stop=cfg.train.early_stop,
        seed=cfg.train.seed,
    )


def model_of(cfg: DictConfig, task):
    m = plain(cfg.model)
    if m["name"] == "attention":
        return Attention(
            task.input_size,
            m["hidden_size"],
            task.output_size,
            seed=cfg.train.seed,
            dtype=m["dtype"],
        )
    return RNN(
        task.input_size,
        m["hidden_size"],
        task.output_size,
        activation=m["activation"],
        skip=m["skip"],
        seed=cfg.train.seed,
        dtype=m["dtype"],
        recurrent_init=m["recurrent_init"],
        recurrent_scale=m["recurrent_scale"],
    )


class Recorder:
    """Receives the training loop's evaluations: buffers them for MLflow, keeps the profile
    history, prints a progress line now and then, warns at the first failed self-check, and
    can fail on purpose (crash_at_step)."""

    def __init__(self, cfg, label: str, logger: tr.RunLogger | None) -> None:
        self.cfg, self.label, self.logger = cfg, label, logger
        self.steps, self.arrays = [], {name: [] for name in rec.PROFILE_ARRAYS}
        self.scalars: list[dict] = []  # every evaluation, for history.csv
        self.checks, self.check_failure = 0, None  # profiles checked; the first failure
        self.last_print = self.last_flush = time.monotonic()

    def __call__(self, ev: Evaluation) -> None:
        crash = self.cfg.train.crash_at_step
        if crash is not None and ev.step >= crash:
            raise RuntimeError(f"train.crash_at_step={crash}: deliberate failure at step {ev.step}")
        self.scalars.append({"step": ev.step, **ev.scalars})
        if ev.log10_long is not None:
            self.steps.append(ev.step)
            for name, values in zip(
                rec.PROFILE_ARRAYS,
                (ev.log10_long, ev.log10_total, ev.log10_dx, ev.state_norm, ev.saturation_t),
                strict=True,
            ):
                self.arrays[name].append(
                    np.full(len(ev.log10_long), np.nan) if values is None else values
                )
        if ev.check is not None:
            self.checks += 1
            if not ev.check.ok and self.check_failure is None:
                self.check_failure = f"FAILED at step {ev.step}: {ev.check.message()}"
                print(f"WARNING {self.label}: {self.check_failure}", flush=True)
        now = time.monotonic()
        if self.logger:
            for key, value in ev.scalars.items():
                self.logger.metric(key, value, ev.step)
            if now - self.last_flush > 10.0:  # a heartbeat, and little loss if killed
                self.logger.flush()
                self.last_flush = now
        if now - self.last_print > self.cfg.tracking.progress_every_s:
            self.last_print = now
            loss = ev.scalars.get("valid_loss", float("nan"))
            print(
                f"{self.label}: step {ev.step}/{self.cfg.train.steps}, valid_loss {loss:.4g}",
                flush=True,
            )

    @property
    def selfcheck(self) -> str:
        """The run's self-check verdict, for its tag."""
        return self.check_failure or f"passed ({self.checks} profiles)"

    def save_history(self, folder: Path) -> Path:
        """history.csv: one row per evaluation, one column per scalar (what the reports read,
        in one file instead of one MLflow call per metric)."""
        path = folder / rec.HISTORY
        columns = list(dict.fromkeys(k for row in self.scalars for k in row))
        lines = [",".join(columns)]
        for row in self.scalars:
            lines.append(",".join(repr(float(row[c])) if c in row else "" for c in columns))
        path.write_text("\n".join(lines) + "\n")
        return path

    def save_profiles(self, folder: Path) -> Path:
        """profiles.npz: steps (n,) and every array of rec.PROFILE_ARRAYS as (n, T)."""
        path = folder / rec.PROFILES
        arrays = {name: np.array(rows, dtype=float) for name, rows in self.arrays.items()}
        np.savez_compressed(path, steps=np.array(self.steps), **arrays)
        return path


def run(cfg: DictConfig, overrides: list[str], job_index: int | None = None) -> dict:
    """Train one configuration and record it; returns what the sweep summary needs."""
    validate(cfg)
    task = make_task(plain(cfg.task)["name"], **task_params(cfg))
    label = job_label(overrides, job_index, cfg.tracking.job_total)
    if not cfg.tracking.enabled:
        result = train_and_report(cfg, task, label, None)
        print(result["line"], flush=True)
        return result
    uri = store.credentials_to_env(tr.store_uri(cfg.tracking.uri))
    client = store.open_client(uri, checked=cfg.tracking.experiment_id is not None)
    experiment_id = cfg.tracking.experiment_id or tr.ensure_experiment(
        client,
        cfg.tracking.experiment,
        tr.artifact_location(uri, cfg.tracking.artifact_root, cfg.tracking.experiment),
    )
    if cfg.tracking.parent_run_id is None:  # a single run; in a sweep, the sweeper did this
        claims.close_stale(client, experiment_id, cfg.tracking.stale_after_min)
    digest = config_hash(cfg)

    def waiting():
        print(f"{label}: waiting: another process is running this configuration", flush=True)

    with claims.configuration_lock(uri, experiment_id, digest, waiting):
        runs = claims.runs_of(client, experiment_id, digest)
        done = claims.finished(runs)
        if done and not cfg.tracking.rerun:
            print(f"{label}: skipped, already finished as run {done}", flush=True)
            return {"outcome": "skipped", "run_id": done, "label": label}
        claims.close_dead(client, runs, cfg.tracking.stale_after_min, claims.GONE)
        run_id = create_run(client, uri, experiment_id, cfg, overrides, task, digest, waiting)
        if run_id is None:
            return {"outcome": "skipped", "label": label}
        return train_and_record(client, experiment_id, run_id, cfg, task, label)


def create_run(client, uri: str, experiment_id: str, cfg, overrides, task, digest: str, waiting):
    """The run that owns this configuration, created RUNNING; None if another run finished
    it meanwhile. With a server, a concurrent claim by an earlier live run is waited for."""
    m = plain(cfg.model)
    tags = {
        rec.VERSION_TAG: str(rec.VERSION),
        rec.CONFIG_HASH: digest,
        rec.OVERRIDES: store.public(
            " ".join(o for o in overrides if not o.startswith("tracking."))
        ),
        rec.GIT_COMMIT: cfg.tracking.git_commit or tr.git_commit(),
        rec.TASK: task.name,
        rec.MODEL: rec.model_label(m["name"], m["activation"], m["skip"]),
        rec.METRIC: task.metric,
        rec.HIGHER_IS_BETTER: str(task.higher_is_better).lower(),
        rec.SWEPT: cfg.tracking.swept or "",
    }
    if cfg.tracking.parent_run_id:
        tags[rec.PARENT] = cfg.tracking.parent_run_id
    name = run_label(overrides) or task.name
    told = False
    while True:
        run = client.create_run(experiment_id, tags={**tags, **claims.identity()}, run_name=name)
        run_id = run.info.run_id
        if store.sqlite_path(uri) is not None or cfg.tracking.rerun:
            return run_id  # the configuration's lock is ours
        verdict, owner = claims.server_owner(
            client, experiment_id, digest, run_id, cfg.tracking.stale_after_min
        )
        if verdict == "owner" and owner == run_id:
            return run_id
        client.delete_run(run_id)  # withdraw: another run owns or finished it
        if verdict == "finished":
            return None
        if not told:
            waiting()
            told = True
        while claims.owns(client.get_run(owner), cfg.tracking.stale_after_min):
            time.sleep(5 * claims.WAIT_S)


def train_and_record(client, experiment_id: str, run_id: str, cfg, task, label: str) -> dict:
    """Train in run `run_id` and close it: FINISHED, FAILED with the error, or KILLED with
    what stopped it. The failure path cannot fail: each step of it is tried on its own."""
    logger = tr.RunLogger(client, run_id)
    try:
        result = train_and_report(cfg, task, label, logger)
    except BaseException as err:  # record how it ended, then let it propagate
        interrupted = isinstance(err, KeyboardInterrupt)
        error = interrupts.cause(err) if interrupted else f"{type(err).__name__}: {err}"
        said = error if interrupted else store.public(one_line(err))
        print(f"{label}: {'stopped' if interrupted else 'FAILED'}: {said}", flush=True)
        close_failed(client, run_id, logger, error, interrupted)
        raise
    client.set_terminated(run_id, status="FINISHED")
    result["run_id"] = run_id
    line = result["line"]
    if cfg.tracking.parent_run_id and cfg.tracking.job_total:
        line += f"; {jobs_done(client, experiment_id, cfg)} of {cfg.tracking.job_total} jobs done"
    print(line, flush=True)
    return result


def close_failed(client, run_id: str, logger, error: str, interrupted: bool) -> None:
    """Record the error and close the run FAILED (KILLED if stopped), whatever else fails:
    the tags first (small), then the buffered metrics, then error.txt, then the status."""
    status = "KILLED" if interrupted else "FAILED"
    steps = [
        lambda: client.set_tag(run_id, rec.OUTCOME, "killed" if interrupted else "failed"),
        lambda: client.set_tag(run_id, rec.ERROR, store.public(error)[:5000]),
        logger.flush,
    ]
    if not interrupted:
        trace = store.public(traceback.format_exc())
        steps.append(lambda: client.log_text(run_id, trace, "error.txt"))
    steps.append(lambda: client.set_terminated(run_id, status=status))
    with interrupts.deferred():  # a second Ctrl-C takes effect once the run is recorded
        for step in steps:
            try:
                step()
            except Exception as err:  # each step on its own
                print(f"  (could not record it in the store: {one_line(err)})", flush=True)


def jobs_done(client, experiment_id: str, cfg) -> int:
    """Runs of this sweep that have ended (any status): the progress across all workers."""
    runs = tr.search_all(
        client,
        experiment_id,
        f"tags.`{rec.PARENT}` = '{cfg.tracking.parent_run_id}' and attributes.status != 'RUNNING'",
    )
    return len(runs)


def train_and_report(cfg, task, label: str, logger: tr.RunLogger | None) -> dict:
    start = time.monotonic()
    recorder = Recorder(cfg, label, logger)
    if logger:
        params = {
            k: store.public(v) if isinstance(v, str) else v for k, v in flatten(plain(cfg)).items()
        }
        params.update(
            {
                "task.seq_len": task.seq_len,
                "task.input_size": task.input_size,
                "task.output_size": task.output_size,
            }
        )
        logger.params(params)
    rnn = model_of(cfg, task)
    print(f"{label}: start", flush=True)
    with threadpool_limits(limits=1):  # one BLAS thread: the workers already fill the cores
        outcome = train(rnn, task, settings_of(cfg), on_eval=recorder)
    seconds = time.monotonic() - start
    if logger:
        record_outcome(cfg, task, logger, recorder, outcome, seconds)
    final = outcome.final
    shown = {
        k: final[k]
        for k in ("valid_accuracy", "valid_error", "valid_mse", "valid_bpc")
        if k in final
    }
    brief = ", ".join(f"{k[6:]} {v:.3g}" for k, v in shown.items())
    line = f"{label}: {outcome.status} after {outcome.steps} steps in {seconds:.2f} s"
    line += f" ({brief})" if brief else ""
    if recorder.check_failure:
        line += "; SELF-CHECK FAILED (see the WARNING above)"
    return {
        "outcome": outcome.status,
        "label": label,
        "seconds": seconds,
        "final": final,
        "diverged_at": outcome.diverged_at,
        "selfcheck_ok": recorder.check_failure is None,
        "line": line,
    }


def record_outcome(cfg, task, logger: tr.RunLogger, recorder: Recorder, outcome, seconds: float):
    logger.tag(rec.OUTCOME, outcome.status)
    logger.tag(rec.STEPS_DONE, outcome.steps)
    logger.tag(rec.SELFCHECK, recorder.selfcheck)
    if outcome.diverged_at is not None:
        logger.tag(rec.DIVERGED_AT, outcome.diverged_at)
    logger.metric(rec.WALL_TIME, seconds, outcome.steps)
    if recorder.steps:
        for name in ("long", "total", "dx"):
            history = recorder.arrays[f"log10_{name}"]
            logger.series(f"profile/{name}_initial", history[0])
            logger.series(f"profile/{name}_final", history[-1])
    logger.flush()
    with tempfile.TemporaryDirectory() as tmp:  # every file in one upload
        folder = Path(tmp)
        (folder / rec.CONFIG).write_text(store.public(OmegaConf.to_yaml(cfg, resolve=True)))
        recorder.save_history(folder)
        if recorder.steps:
            recorder.save_profiles(folder)
            fig = profile_figure(
                recorder.steps,
                recorder.arrays["log10_long"],
                recorder.arrays["log10_total"],
                title=run_label_of(cfg),
                same=task.loss_at == "last",
            )
            fig.savefig(folder / rec.FIGURE, dpi=90)
            plt.close(fig)
        logger.client.log_artifacts(logger.run_id, str(folder))


def run_label(overrides: list[str]) -> str:
    """ "activation=tanh skip=true T=30 seed=0" from the job's overrides (tracking.* left out)."""
    parts = []
    for o in overrides:
        if o.startswith("tracking.") or "=" not in o:
            continue
        key, value = o.split("=", 1)
        parts.append(f"{key.rsplit('.', 1)[-1].lstrip('+~')}={value}")
    return " ".join(parts)


def run_label_of(cfg) -> str:
    m = plain(cfg.model)
    length = f"T={cfg.task.T}" if cfg.task.T is not None else f"delay={cfg.task.delay}"
    model = rec.model_label(m["name"], m["activation"], m["skip"])
    return f"{plain(cfg.task)['name']} {length} {model} H={m['hidden_size']} seed={cfg.train.seed}"


def job_label(overrides: list[str], index: int | None, total: int | None) -> str:
    prefix = f"[{index + 1}/{total}]" if index is not None and total else "[run]"
    return f"{prefix} {run_label(overrides)}".rstrip()
