"""One job = one MLflow run: build what the config describes, train, and record.

What a run holds (docs/pipeline.md, "The MLflow store"; every name in pipeline/record.py): params =
the flattened resolved config; tags = the record version, the Hydra overrides, the config
hash, the git commit, the task, the model, the primary metric and its direction, the keys
its sweep varied, the sweep (parent run), the self-check and the outcome; metrics by
training step (the no-learning baseline at step 0); the initial and final profiles as metric
series with step = t; profiles.npz (training step × t), history.csv and config.yaml; and
profile.png with tracking.run_figure=true.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from ..training import train
from . import claims, interrupts, store, tracking
from . import record as rec
from .config import Plan, config_hash, flatten, plain, take
from .errors import one_line
from .labels import job_label, override_name, run_title
from .recorder import Recorder
from .verdict import describe, regime, where


def run(cfg: DictConfig, overrides: list[str], job_index: int | None = None) -> dict:
    """Train one configuration and record it; returns what the sweep summary needs."""
    if cfg.tracking.enabled and not cfg.internal.git_commit:  # its config.yaml says it too
        cfg.internal.git_commit = tracking.git_commit()
    plan = take(cfg)
    name = cfg.internal.run_name or override_name(overrides) or plan.task.name
    label = job_label(name, job_index, cfg.internal.job_total)
    if not cfg.tracking.enabled:
        result = train_and_report(plan, label, None)
        print(result["line"], flush=True)
        return result
    uri = store.credentials_to_env(store.store_uri(cfg.tracking.uri))
    client = store.open_client(uri, checked=cfg.internal.experiment_id is not None)
    experiment_id = cfg.internal.experiment_id or tracking.ensure_experiment(
        client,
        cfg.tracking.experiment,
        tracking.artifact_location(uri, cfg.tracking.artifact_root, cfg.tracking.experiment),
    )
    if cfg.internal.parent_run_id is None:  # a single run; in a sweep, the sweeper did this
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
        run_id = claims.create_owned_run(
            client,
            experiment_id,
            digest,
            run_tags(plan, overrides, digest),
            name,
            locked=store.sqlite_path(uri) is not None or cfg.tracking.rerun,
            stale_after_min=cfg.tracking.stale_after_min,
            waiting=waiting,
        )
        if run_id is None:
            return {"outcome": "skipped", "label": label}
        return train_and_record(client, experiment_id, run_id, plan, label)


def run_tags(plan: Plan, overrides: list[str], digest: str) -> dict[str, str]:
    """The tags a run is created with (record.py names them)."""
    cfg, task = plan.cfg, plan.task
    tags = {
        rec.VERSION_TAG: str(rec.VERSION),
        rec.CONFIG_HASH: digest,
        rec.OVERRIDES: store.public(" ".join(o for o in overrides if in_overrides_tag(o))),
        rec.GIT_COMMIT: cfg.internal.git_commit,
        rec.TASK: task.name,
        rec.MODEL: plan.model.label,
        rec.METRIC: task.metric,
        rec.HIGHER_IS_BETTER: str(task.higher_is_better).lower(),
        rec.SWEPT: cfg.internal.swept or "",
    }
    if cfg.internal.parent_run_id:
        tags[rec.PARENT] = cfg.internal.parent_run_id
    return tags


def train_and_record(client, experiment_id: str, run_id: str, plan: Plan, label: str) -> dict:
    """Train in run `run_id` and close it: FINISHED, FAILED with the error, or KILLED with
    what stopped it. The failure path cannot fail: each step of it is tried on its own."""
    logger = tracking.RunLogger(client, run_id)  # (no store call: nothing to interrupt)
    try:
        result = train_and_report(plan, label, logger)
        client.set_terminated(run_id, status="FINISHED")  # a store that fails here: said below
    except BaseException as err:  # record how it ended, then let it propagate
        interrupted = isinstance(err, KeyboardInterrupt)
        error = interrupts.cause(err) if interrupted else f"{type(err).__name__}: {err}"
        said = error if interrupted else store.public(one_line(err))
        print(f"{label}: {'stopped' if interrupted else 'FAILED'}: {said}", flush=True)
        close_failed(client, run_id, logger, error, interrupted)
        raise
    result["run_id"] = run_id
    cfg = plan.cfg
    print(result["line"], flush=True)
    if not cfg.internal.parent_run_id:  # a single run says where it went (a sweep, at its end)
        uri = store.public(client.tracking_uri)
        name = cfg.tracking.experiment
        print(f"recorded: run {run_id} in experiment '{name}' (id {experiment_id}) of {uri}")
        for said in where(client.tracking_uri, name, experiment_id, run_id):
            print(said, flush=True)
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
    # a second Ctrl-C takes effect once the run is recorded; if a stop ended the run the
    # process is stopping already, and further stops are ignored (not raised mid-exit)
    with interrupts.deferred(ending=interrupted):
        for step in steps:
            try:
                step()
            except Exception as err:  # each step on its own
                print(f"  (could not record it in the store: {one_line(err)})", flush=True)


def train_and_report(plan: Plan, label: str, logger: tracking.RunLogger | None) -> dict:
    """Train the plan's model on its task; record it if `logger`; the result for the summary."""
    recorder = Recorder(plan, label, logger)
    if logger:
        logger.params(run_params(plan))
    start = time.monotonic()  # the training's time (wall_time_s), not the record's
    print(f"{label}: start", flush=True)
    with threadpool_limits(limits=1):  # one BLAS thread: the workers already fill the cores
        outcome = train(plan.model, plan.task, plan.settings, on_eval=recorder)
    seconds = time.monotonic() - start
    if logger:
        record_outcome(plan, logger, recorder, outcome, seconds)
    final = outcome.final
    start = recorder.scalars[0] if recorder.scalars else {}
    said = describe(final, plan.task.metric, start, plan.task.seq_len)
    line = f"{label}: {outcome.status} after {outcome.steps} steps in {seconds:.2f} s"
    line += f"; {said}" if said else ""
    if recorder.check_failure:
        line += "; SELF-CHECK FAILED (see the WARNING above)"
    return {
        "outcome": outcome.status,
        "label": label,
        "seconds": seconds,
        "final": final,
        "diverged_at": outcome.diverged_at,
        "selfcheck_ok": recorder.check_failure is None,
        "regime": regime(final.get("log10_ratio")),
        "line": line,
    }


def in_overrides_tag(override: str) -> bool:
    """Whether an override is part of what makes the run (the overrides tag): not where it is
    recorded, nor the sweeper's bookkeeping; the crash hook is (config.InternalConf)."""
    if override.startswith("internal."):
        return override.startswith("internal.crash_at_step=")
    return not override.startswith("tracking.")


def run_params(plan: Plan) -> dict:
    """The run's params: the flattened config (credentials stripped) and the task's sizes."""
    params = {
        k: store.public(v) if isinstance(v, str) else v
        for k, v in flatten(plain(plan.cfg)).items()
        if not k.startswith("internal.")
    }
    task = plan.task
    params.update(
        {
            "task.seq_len": task.seq_len,
            "task.input_size": task.input_size,
            "task.output_size": task.output_size,
        }
    )
    return params


def record_outcome(plan: Plan, logger, recorder: Recorder, outcome, seconds: float) -> None:
    """The outcome's tags, the profile series and the run's files, in one upload."""
    logger.tag(rec.OUTCOME, outcome.status)
    logger.tag(rec.STEPS_DONE, outcome.steps)
    logger.tag(rec.SELFCHECK, recorder.selfcheck)
    start = recorder.scalars[0] if recorder.scalars else {}
    for tag, scalars in ((rec.REGIME_INITIAL, start), (rec.REGIME, outcome.final)):
        found = regime(scalars.get("log10_ratio"))
        if found:
            logger.tag(tag, found)
    said = describe(outcome.final, plan.task.metric, start, plan.task.seq_len)
    if said:  # the run's description in the MLflow UI: its outcome, and how to read its charts
        logger.tag(rec.NOTE, f"{said}\n\n{rec.BY_T_NOTE}" if recorder.steps else said)
    if outcome.diverged_at is not None:
        logger.tag(rec.DIVERGED_AT, outcome.diverged_at)
    logger.metric(rec.WALL_TIME, seconds, outcome.steps)
    if recorder.steps:
        for name in ("long", "total", "dx"):
            history = recorder.arrays[f"log10_{name}"]
            logger.series(f"{rec.BY_T}/{name}_initial", history[0])
            logger.series(f"{rec.BY_T}/{name}_final", history[-1])
    logger.flush()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = OmegaConf.to_yaml(plan.cfg, resolve=True)
        (folder / rec.CONFIG).write_text(store.public(config))
        recorder.save_history(folder)
        if recorder.steps:
            recorder.save_profiles(folder)
            if plan.cfg.tracking.run_figure:
                save_figure(plan, recorder, folder / rec.FIGURE)
        logger.client.log_artifacts(logger.run_id, str(folder))


def save_figure(plan: Plan, recorder: Recorder, path: Path) -> None:
    """profile.png: the run's profiles over training (tracking.run_figure=true)."""
    from .run_figure import DPI, plt, profile_figure  # matplotlib: only when drawing

    fig = profile_figure(
        recorder.steps,
        recorder.arrays["log10_long"],
        recorder.arrays["log10_total"],
        title=run_title(plan),
        same=plan.task.loss_at == "last",
    )
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
