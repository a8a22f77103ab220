"""The experiment pipeline end to end: Hydra configs, sweeps, MLflow runs.

Every launch is a real `python experiments/train.py` process (Hydra, rnngrad's pool or the basic
launcher, a real SQLite MLflow store in a temporary folder), read back with MlflowClient:
- every group option and every preset composes and validates, job by job;
- each preset runs end to end with the debug preset;
- a run holds its record (params, tags, metrics, baselines, profiles, state, artifacts);
- single runs and debug sweeps never land in a preset's experiment;
- a run recorded by an older record version does not count as finished;
- 2 parallel workers on a fresh store record all of 8 jobs, under one parent run;
- a sweep interrupted (Ctrl-C, then SIGKILL) and launched again ends with every
  configuration finished exactly once, the dead runs marked KILLED;
- bad configurations (a YAML syntax error in a preset included) fail in one line, before
  any run or store exists;
- an exploding configuration is recorded as diverged; a crashing job as FAILED while the
  others finish, and the sweep exits non-zero.

Run: .venv/bin/pytest tests/test_pipeline.py   (about 2 minutes)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from stores import empty_store

from rnngrad.pipeline import cli_help, verdict
from rnngrad.pipeline import record as rec
from rnngrad.pipeline.compose import Composer
from rnngrad.pipeline.config import MODELS, build, config_hash, plain, register
from rnngrad.pipeline.errors import one_line
from rnngrad.pipeline.labels import run_names
from rnngrad.pipeline.sweeper import flat_configs, told
from rnngrad.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Store:
    """An MLflow store (empty, or none at all if `new`) and Hydra output folder under tmp."""

    def __init__(self, tmp: Path, new: bool = False) -> None:
        self.tmp = tmp
        path = tmp / "mlflow.db"
        self.uri = f"sqlite:///{path}" if new else empty_store(path)

    def args(self) -> list[str]:
        return [
            f"tracking.uri={self.uri}",
            f"tracking.artifact_root={self.tmp / 'art'}",
            f"hydra.sweep.dir={self.tmp / 'multirun'}",
            f"hydra.run.dir={self.tmp / 'run'}",
        ]

    def launch(self, *overrides: str, multirun: bool = True, timeout: float = 300, **popen):
        cmd = [sys.executable, str(ROOT / "experiments" / "train.py")]
        cmd += ["-m"] if multirun else []
        cmd += [*self.args(), *overrides]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        if popen:  # SIGINT back to its default: a background CI shell starts us with it ignored
            restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
            return subprocess.Popen(cmd, env=env, text=True, preexec_fn=restore, **popen)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)

    def client(self) -> MlflowClient:
        return MlflowClient(self.uri)

    def every_run(self) -> list:
        client = self.client()
        ids = [e.experiment_id for e in client.search_experiments()]
        return client.search_runs(ids, max_results=1000) if ids else []

    def runs(self, experiment: str, children_only: bool = True) -> list:
        client = self.client()
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return []
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        return [r for r in runs if not children_only or r.data.tags.get("rnngrad.role") != "sweep"]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path)


def ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


# -- composition -------------------------------------------------------------------------


def grid(cfg) -> list[list[str]]:
    params = cfg.hydra.sweeper.params or {}
    axes = [[f"{k}={v}" for v in str(vals).split(",")] for k, vals in params.items()]
    return [list(job) for job in itertools.product(*axes)]


def sweepers_composer(master) -> Composer:
    """The sweeper's composition (rnngrad.pipeline.compose.Composer), inside an initialised
    Hydra, for the sweep whose launch config is `master`."""
    loader = GlobalHydra.instance().config_loader()
    return Composer(loader, master, OverridesParser.create(config_loader=loader))


def test_every_group_option_composes_and_validates():
    register()
    options = {
        "task": list(TASKS),
        "model": [*MODELS, *(p.stem for p in (CONF / "model").glob("*.yaml"))],
        "debug": [p.stem for p in (CONF / "debug").glob("*.yaml")],
    }
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for group, names in options.items():
            for option in sorted(names):
                build(compose("config", overrides=[f"{group}={option}"]))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_every_job_validates(preset):
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        base = compose("config", overrides=[f"experiment={preset}"], return_hydra_config=True)
        jobs = grid(base)
        assert len(jobs) >= 6, "a preset sweeps something"
        hashes, plans = set(), []
        composer = sweepers_composer(base)
        for job in jobs:
            cfg = compose("config", overrides=[f"experiment={preset}", *job])
            plans.append(build(cfg))
            hashes.add(config_hash(cfg))
            assert cfg.tracking.experiment == preset
            # the sweeper's composition (rnngrad.pipeline.compose.Composer) is Hydra's
            assert plain(composer.job_config([f"experiment={preset}", *job])) == plain(cfg)
        assert len(hashes) == len(jobs)  # every job is a distinct configuration
        names = run_names(flat_configs(plans))
        assert len(set(names)) == len(jobs) and max(map(len, names)) <= 40, names  # short
    text = (CONF / "experiment" / f"{preset}.yaml").read_text()
    assert "python experiments/train.py" in text or "make sweep" in text  # opens with its command
    question, runs = cli_help.preset(CONF / "experiment" / f"{preset}.yaml")
    assert question.endswith("?") and runs == len(jobs)  # ... its question; --help's count


@pytest.mark.parametrize(
    "job",
    [
        ["task=adding", "task.T=50", "model.skip=true"],
        ["model=attention", "task=permutation", "task.T=20"],
        ["task.T=30", "task=copy_memory"],  # a value before the group it belongs to
        ["++train.steps=7", "debug=default", "model.hidden_size=16"],
        ["+remedy=irnn", "+pascanu/init=smart_tanh", "optim.lr=0.01"],
        ["cluster=local", "tracking.experiment=mine", "model=rnn_sigmoid_skip"],
        ["task.T=50", "task={T:100}"],  # a dict on a group's key is a value, in order
        ["hydra.job.chdir=true", "task.T=20"],  # the hydra node is not the job's config
    ],
)
def test_the_sweepers_composition_is_hydras_for_any_mix_of_groups_and_values(job):
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        base = compose("config", return_hydra_config=True)
        composer = sweepers_composer(base)
        loader = GlobalHydra.instance().config_loader()
        for _ in range(2):  # composed, then from what it kept
            assert plain(composer.job_config(job)) == plain(compose("config", overrides=job))
            # and a worker's, hydra node and all
            same_sweep_config(composer.sweep_config(job), loader.load_sweep_config(base, job))


def same_sweep_config(got, want) -> None:
    """Equal to the last key of the hydra node, with the same flags and resolver cache."""
    assert OmegaConf.to_container(got) == OmegaConf.to_container(want)
    for node in ("", "hydra", "model"):
        got_node, want_node = OmegaConf.select(got, node), OmegaConf.select(want, node)
        assert OmegaConf.is_struct(got_node) == OmegaConf.is_struct(want_node)
        assert OmegaConf.is_readonly(got_node) == OmegaConf.is_readonly(want_node)
    assert OmegaConf.get_cache(got) == OmegaConf.get_cache(want)


@pytest.mark.parametrize("preset", ["vanishing", "remedies", "rnn_vs_attention"])
def test_a_workers_composition_is_hydras_sweep_config_hydra_node_and_all(preset):
    """What a worker of the pool runs a job with (Composer.sweep_config) is what Hydra's
    load_sweep_config returns, to the last key of the hydra node (the overrides, the output
    folder's name, with a key left out of it), for each job of a preset as the sweeper sends
    it: its grid's values, the command line's, then what the sweeper tells every job (quoted
    values with spaces, commas and "=")."""
    register()
    launch = [f"experiment={preset}", "hydra.launcher.n_jobs=2",
              "hydra.job.config.override_dirname.exclude_keys=[train.seed]"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        master = compose("config", overrides=launch, return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        composer = sweepers_composer(master)
        told_jobs = [
            [*job, f"experiment={preset}", "train.seed=3", "tracking.uri=sqlite:////tmp/x.db",
             "internal.run_name='T=10 tanh s0'", *told("1", "abc", 6, "1234567", "task.T,b")]
            for job in grid(master)
        ]  # fmt: skip
        for job in [*told_jobs, *told_jobs[:2]]:  # composed, then from what it kept
            got = composer.sweep_config(job)
            same_sweep_config(got, loader.load_sweep_config(master, job))
            assert list(got.hydra.overrides.task) == job  # every override, in order
            assert "train.seed" not in got.hydra.job.override_dirname


def test_a_workers_composition_with_a_search_path_is_hydras(tmp_path):
    """hydra.searchpath can add config groups that only Hydra's own composition finds: then
    every job is composed by Hydra in full, and a group from that path is a group."""
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "short.yaml").write_text("# @package _global_\ntask:\n  T: 7\n")
    register()
    searchpath = f"hydra.searchpath=[file://{tmp_path}]"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        master = compose("config", overrides=[searchpath], return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        composer = sweepers_composer(master)
        for job in (["+extra=short", "model.hidden_size=16"], ["+extra=short"]):
            got = composer.sweep_config(job)
            same_sweep_config(got, loader.load_sweep_config(master, job))
            assert got.task.T == 7 and composer.job_config(job).task.T == 7


@pytest.mark.parametrize(
    "job", [["task.T=abc"], ["model.nope=1"], ["~optim.clip"], ["task=adding", "task.T=x"]]
)
def test_the_sweepers_composition_refuses_what_hydra_refuses_in_the_same_words(job):
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        base = compose("config", return_hydra_config=True)
        composer = sweepers_composer(base)
        with pytest.raises(Exception) as fast:
            composer.job_config(job)
        with pytest.raises(Exception) as full:
            compose("config", overrides=job)
    assert one_line(fast.value) == one_line(full.value)


# -- end to end --------------------------------------------------------------------------

SHRINK = {  # pin all but one swept key, so each preset runs 2-4 tiny jobs
    "vanishing": ["model.hidden_size=8", "task.T=10", "train.seed=0", "model.skip=false"],
    "horizon": ["task.T=10", "train.seed=0", "model.skip=false"],
    "init_scale": ["model.recurrent_scale=0.5,4.0", "model.activation=tanh", "train.seed=0"],
    "clipping": ["train.seed=0", "task.T=20"],
    "copy_memory": ["task.T=5", "train.seed=0"],
    "digits": ["task.delay=0,5", "model.activation=tanh", "model.skip=false", "train.seed=0"],
    "text": ["task.T=10", "train.seed=0"],
    "rnn_vs_attention": ["task=permutation", "task.T=10", "model=rnn,attention"],
    "remedies": ["+remedy=clip_omega,irnn", "task.T=10", "train.seed=0"],
    "pascanu2013": [
        "+pascanu/init=smart_tanh",
        "+pascanu/method=msgd,msgd_cr",
        "task.T=20",
        "train.seed=0",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_runs_end_to_end_with_debug(store, preset):
    proc = store.launch(f"experiment={preset}", "debug=default", *SHRINK[preset])
    ok(proc)
    assert store.runs(preset, children_only=False) == []  # a debug sweep stays out of it
    runs = store.runs("debug")
    assert 2 <= len(runs) <= 4
    assert all(r.info.status == "FINISHED" for r in runs)
    assert "sweep summary:" in proc.stdout and " 0 failed" in proc.stdout


RECORDED = [  # a 2-job sweep over the activation
    "debug=default",
    "model.hidden_size=8",
    "task.T=12",
    "train.seed=0",
    "model.skip=false",
    "model.activation=tanh,sigmoid",
]


def test_a_run_holds_its_record(store):
    db = store.tmp / "mlflow.db"
    with contextlib.closing(sqlite3.connect(db)) as elsewhere:  # the store open elsewhere,
        elsewhere.execute("SELECT count(*) FROM runs").fetchall()  # as the MLflow UI holds it
        proc = store.launch(*RECORDED)
        ok(proc)
        # the sweep's end folded its write-ahead log into mlflow.db, though the launcher's
        # was not the last connection to close: the file alone holds both runs and the sweep's
        shutil.copyfile(db, store.tmp / "copy.db")
        with contextlib.closing(sqlite3.connect(store.tmp / "copy.db")) as copy:
            finished = copy.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'")
            assert finished.fetchall() == [(3,)]
    client = store.client()
    parents = [
        r for r in store.runs("debug", children_only=False) if r.data.tags.get(rec.ROLE) == "sweep"
    ]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags[rec.SWEPT] == "model.activation"
    run = next(r for r in store.runs("debug") if r.data.params["model.activation"] == "tanh")
    p, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    # its name: what the sweep varies
    assert run.info.run_name == "tanh"
    assert "[1/2] sigmoid: start" in proc.stdout or "[2/2] sigmoid: start" in proc.stdout
    # params: the flattened resolved config, without the sweeper's bookkeeping
    assert not [k for k in p if k.startswith("internal.")] and "tracking.experiment" in p
    assert p["task.name"] == "temporal_order" and p["task.T"] == "12"
    assert p["model.hidden_size"] == "8" and p["optim.clip"] == "1.0" and p["train.steps"] == "20"
    assert p["task.seq_len"] == "12"
    # tags: the record
    assert tags[rec.VERSION_TAG] == str(rec.VERSION)
    assert "model.activation=tanh" in tags[rec.OVERRIDES]
    assert "tracking." not in tags[rec.OVERRIDES]
    assert len(tags[rec.CONFIG_HASH]) == 16
    assert len(tags[rec.GIT_COMMIT].split("+")[0]) == 40
    assert tags[rec.PARENT] == parents[0].info.run_id
    assert tags[rec.OUTCOME] in ("finished", "solved")
    assert tags[rec.TASK] == "temporal_order" and tags[rec.MODEL] == "rnn tanh"
    assert tags[rec.METRIC] == "accuracy" and tags[rec.HIGHER_IS_BETTER] == "true"
    assert tags[rec.SWEPT] == "model.activation"
    assert tags[rec.SELFCHECK] == "passed (3 profiles)"
    # its regime at the start and the end, by verdict.regime's rule, and its one-line description
    log10_ratio = client.get_metric_history(run.info.run_id, "log10_ratio")
    by_step = {m.step: m.value for m in log10_ratio}
    assert tags[rec.REGIME_INITIAL] == verdict.regime(by_step[0])
    assert tags[rec.REGIME] == verdict.regime(by_step[20])
    note, charts = tags[rec.NOTE].split("\n\n")
    assert charts == rec.BY_T_NOTE
    back = int(run.data.params["task.seq_len"]) - 1
    decay = run.data.metrics["decay_factor"]
    assert note.startswith(
        f"gradient at t = 1 ({back} steps back): {verdict.power(by_step[20])} of its "
        f"loss-step value ({tags[rec.REGIME]}), fitted ×{decay:#.3g} per step"
    )
    assert f"accuracy {run.data.metrics['valid_accuracy']:.3g}, baseline 0.25" in note
    # the console: each job's line carries the same; the sweep ends saying where it all went
    assert f"; {note}\n" in proc.stdout
    (parent,) = parents
    eid = parent.info.experiment_id
    tail = proc.stdout.strip().splitlines()[-4:]
    ended = [r.data.tags[rec.REGIME] for r in store.runs("debug")]
    counts = ", ".join(f"{name} in {ended.count(name)}" for name in verdict.REGIMES)
    assert tail[0] == (
        f"gradient at the end of training: {counts} (2 runs with a final profile; a diverged "
        "run has none)"
    )
    assert tail[1] == (
        f"recorded: experiment 'debug' (id {eid}), sweep run {parent.info.run_id}, of {store.uri}"
    )
    assert tail[2] == (
        f"browse: mlflow ui --backend-store-uri {store.uri}, then "
        f"http://127.0.0.1:5000/#/experiments/{eid}/runs?viewStateShareKey={rec.VIEW_KEY}"
        "&workflowType=machine_learning"
    )
    assert tail[3] == f"report: rnngrad-report --experiment debug --tracking-uri {store.uri}"
    # the view that address opens (tests/test_ui.py opens it in a browser): by gradient
    view = json.loads(store.client().get_experiment(eid).tags[rec.VIEW_TAG])
    assert view["orderByKey"] == "metrics.`log10_ratio`" and view["orderByAsc"]
    assert view["selectedColumns"][0] == f"tags.`{rec.REGIME}`"
    assert "metrics.`valid_accuracy`" in view["selectedColumns"]
    # the sweep's own run: its counts as metrics, and a description saying them
    home = parent.data
    assert home.metrics["jobs_finished"] + home.metrics["jobs_solved"] == 2
    assert [home.metrics[f"runs_{name}"] for name in verdict.REGIMES] == [
        ended.count(name) for name in verdict.REGIMES
    ]
    assert home.tags[rec.NOTE].startswith("The sweep of 'debug': ")
    assert "The gradient at the end of training (rnngrad.regime): " in home.tags[rec.NOTE]
    # metrics by training step, the baselines at step 0
    history = client.get_metric_history(run.info.run_id, "valid_loss")
    assert [m.step for m in history] == [0, 10, 20]
    for key in (
        *rec.EVALUATION,
        *rec.CHECK,
        *rec.STATE,
        "valid_accuracy",
        "decay_factor",
        "log10_ratio",
        "solved",
        "baseline_accuracy",
        "baseline_loss",
    ):
        assert key in metrics, key
    assert [m.step for m in client.get_metric_history(run.info.run_id, "baseline_loss")] == [0]
    assert metrics["baseline_loss"] == pytest.approx(np.log(4)) and metrics["selfcheck_ok"] == 1
    # initial and final profiles as series over t = 1..T
    for key in (f"{rec.BY_T}/long_initial", f"{rec.BY_T}/long_final", f"{rec.BY_T}/dx_final"):
        series = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in series) == list(range(1, 13)), key
    # artifacts: profile history (with the state), figure, resolved config
    folder = client.download_artifacts(run.info.run_id, "", str(store.tmp / "dl"))
    saved = np.load(Path(folder) / rec.PROFILES)
    assert list(saved["steps"]) == [0, 10, 20]
    for name in rec.PROFILE_ARRAYS:
        assert saved[name].shape == (3, 12) and np.isfinite(saved[name]).all(), name
    final = client.get_metric_history(run.info.run_id, f"{rec.BY_T}/long_final")
    np.testing.assert_allclose(
        saved["log10_long"][-1], [m.value for m in sorted(final, key=lambda m: m.step)]
    )
    assert not (Path(folder) / rec.FIGURE).exists()  # drawn only with tracking.run_figure=true
    config = yaml.safe_load((Path(folder) / rec.CONFIG).read_text())
    assert config["model"]["hidden_size"] == 8 and config["task"]["T"] == 12
    assert config["internal"]["git_commit"] == tags[rec.GIT_COMMIT]
    # launched again, it finds everything finished, says so, and opens no new sweep run
    again = store.launch(*RECORDED)
    ok(again)
    assert (
        "sweep: 0 to run, 2 already finished (tracking.list_skipped=true names them); "
        in again.stdout
        and "(no new sweep run)" in again.stdout
    )
    assert "\nskip " not in again.stdout  # one line, not one per configuration
    assert f"nothing new; the runs are in: experiment 'debug' (id {eid}), of" in again.stdout
    listed = store.launch(*RECORDED, "tracking.list_skipped=true")
    ok(listed)
    by_name = {r.info.run_name: r.info.run_id for r in store.runs("debug")}
    for name, run_id in by_name.items():
        assert f"\nskip {name}: already finished as run {run_id}\n" in listed.stdout
    assert "sweep: 0 to run, 2 already finished; " in listed.stdout
    roles = [r.data.tags.get(rec.ROLE) for r in store.runs("debug", children_only=False)]
    assert roles.count("sweep") == 1 and len(roles) == 3


def test_a_sweep_that_asks_for_its_report_builds_it_once_and_attaches_it_once(store):
    """tracking.report=true (make sweep): the report is built when the sweep ends, in its
    process (rnngrad/reports/callback.py), and attached to the sweep's run; a relaunch that
    finds everything finished finds the report up to date and already attached."""
    out = store.tmp / "reports"
    asked = [*RECORDED, "tracking.report=true", "tracking.ui=http://127.0.0.1:5000"]
    asked.append(f"hydra.callbacks.report.out={out}")
    first = store.launch(*asked)
    ok(first)
    (home,) = [r for r in store.runs("debug", children_only=False) if r.data.tags.get(rec.ROLE)]
    assert "report 'debug': 2 runs (" in first.stdout
    assert f"attached to the latest sweep's run: run {home.info.run_id}, under report/" in (
        first.stdout
    )
    page = (out / "debug.html").read_text()
    assert "<a href='http://127.0.0.1:5000/#/experiments/" in page  # run ids link to the UI
    again = store.launch(*asked)
    ok(again)
    assert "sweep: 0 to run, 2 already finished" in again.stdout
    assert "report 'debug': up to date with its 2 runs, not built again" in again.stdout
    assert f"run {home.info.run_id} already holds it, under report/" in again.stdout


def test_single_runs_and_debug_sweeps_stay_out_of_a_presets_experiment(store):
    single = store.launch(
        "model.hidden_size=8", "train.steps=10", "task.T=10", "tracking.run_figure=true",
        multirun=False,
    )  # fmt: skip
    ok(single)
    (run,) = store.runs("single_runs")  # the run says where it went, and how to see it
    eid, rid = run.info.experiment_id, run.info.run_id
    figure = store.client().download_artifacts(rid, rec.FIGURE, str(store.tmp / "dl"))
    png = Path(figure).read_bytes()  # asked for: the run's profiles over training, drawn
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert int.from_bytes(png[16:20], "big") >= 780  # sharp: 150 dpi
    assert single.stdout.strip().splitlines()[-3:] == [
        f"recorded: run {rid} in experiment 'single_runs' (id {eid}) of {store.uri}",
        f"browse: mlflow ui --backend-store-uri {store.uri}, then "
        f"http://127.0.0.1:5000/#/experiments/{eid}/runs/{rid}?workflowType=machine_learning",
        f"report: rnngrad-report --experiment single_runs --tracking-uri {store.uri}",
    ]
    ok(store.launch("debug=default", "task.T=10", multirun=False))
    ok(store.launch("train.steps=10", "task.T=10", "tracking.experiment=mine", multirun=False))
    assert len(store.runs("single_runs")) == 1 and len(store.runs("debug")) == 1
    assert len(store.runs("mine")) == 1  # a name the user gives is kept
    assert store.runs("vanishing", children_only=False) == []


def test_a_run_of_an_older_record_does_not_count_as_finished(store):
    sweep = [
        "debug=default",
        "task.T=10",
        "train.seed=0",
        "model.skip=false",
        "model.activation=tanh",
        "model.hidden_size=8",
    ]
    ok(store.launch(*sweep))
    (old,) = store.runs("debug")
    store.client().delete_tag(old.info.run_id, rec.VERSION_TAG)  # as an older rnngrad left it
    again = store.launch(*sweep)
    ok(again)
    assert "1 to run, 0 already finished" in again.stdout
    assert len(store.runs("debug")) == 2


def test_two_parallel_workers_on_a_fresh_store_record_all_8_jobs(tmp_path):
    store = Store(tmp_path, new=True)
    proc = store.launch(
        "debug=default",
        "hydra.launcher.n_jobs=2",
        "model.hidden_size=8",
        "task.T=10,20",
        "train.seed=0",
    )
    ok(proc)
    runs = store.runs("debug")
    assert len(runs) == 8 and all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["rnngrad.config_hash"] for r in runs}) == 8
    assert len({r.data.tags["rnngrad.pid"] for r in runs}) == 2  # both workers took jobs
    assert "8 finished" in proc.stdout.replace("solved", "finished") or "0 failed" in proc.stdout


def wait_for_finished(store, experiment: str, count: int, proc, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        runs = store.runs(experiment)
        if sum(r.info.status == "FINISHED" for r in runs) >= count:
            return
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.3)
    raise AssertionError("runs did not finish in time")


def wait_for_a_running_job(store, experiment: str, proc, limit: float = 60) -> str:
    """The id of a run in progress (so that the interruption lands inside a job)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        running = [r for r in store.runs(experiment) if r.info.status == "RUNNING"]
        if running:
            return running[0].info.run_id
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no job started in time")


@pytest.mark.slow
def test_interrupted_sweeps_resume_and_finish_every_configuration_once(store):
    sweep = [
        "hydra/launcher=basic",
        "model.hidden_size=8",
        "task.T=60",
        "train.seed=0,1",
        "train.steps=2000",  # ~1-2 s a job: the sweep is still running when it is interrupted
        "train.eval_every=200",
        "train.early_stop=false",
    ]
    # 1. Ctrl-C after two runs finished
    proc = store.launch(
        *sweep, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    wait_for_finished(store, "vanishing", 2, proc)
    victims = [wait_for_a_running_job(store, "vanishing", proc)]
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "sweep: interrupted (Ctrl-C)" in err, out + err
    # 2. relaunch, then kill outright (SIGKILL) after it finished two more
    proc = store.launch(
        *sweep, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    wait_for_finished(store, "vanishing", 4, proc)
    victims.append(wait_for_a_running_job(store, "vanishing", proc))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    # 3. relaunch to the end
    final = store.launch(*sweep)
    ok(final)
    assert "already finished" in final.stdout
    runs = store.runs("vanishing")
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert len(finished) == 8
    assert len({r.data.tags["rnngrad.config_hash"] for r in finished}) == 8
    assert all(r.info.status in ("FINISHED", "KILLED") for r in runs)  # nothing left RUNNING
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert all(r.data.tags.get("rnngrad.outcome") == "killed" for r in killed)
    by_id = {r.info.run_id: r for r in runs}
    for victim in victims:  # interrupted mid-run: KILLED (FINISHED only if it just made it)
        assert by_id[victim].info.status in ("KILLED", "FINISHED")
    assert killed, "neither interruption left a KILLED run"
    parents = [
        r
        for r in store.runs("vanishing", children_only=False)
        if r.data.tags.get("rnngrad.role") == "sweep"
    ]
    assert sorted(r.info.status for r in parents) == ["FINISHED", "KILLED", "KILLED"]


BAD = [
    (["task=mnist"], "task=mnist: unknown option; allowed: adding, copy_memory, digits"),
    (["model.hidden_size=0"], "model.hidden_size=0: expected an integer >= 1"),
    (["task.T=5"], "task.T=5: expected an integer >= 10"),
    (["optim.lr=0"], "optim.lr=0.0: expected a positive finite number"),
    (["model.hiden_size=8"], "model.hiden_size: unknown key; allowed keys: name, hidden_size"),
    (["model.hidden_size=abc"], "model.hidden_size='abc': Value 'abc' of type 'str' could not"),
    (["model.activation=gelu"], "model.activation=gelu: expected one of 'tanh', 'sigmoid', 'relu'"),
    (["task=digits", "task.T=20"], "task.T: unknown key; allowed keys: name, mode, delay"),
    (["model=attention", "model.activation=sigmoid"], "model.activation: unknown key; allowed"),
    (["model.hidden_size=8,0"], "model.hidden_size=0: expected an integer >= 1"),
    (["tracking.experiment="], "tracking.experiment='': expected a non-empty name"),
    (["+model.foo=1"], "model.foo=1: unknown key; allowed keys: name, hidden_size, activation"),
    (["+train.nonsense=true"], "train.nonsense=True: unknown key; allowed keys: steps"),
]


@pytest.mark.parametrize("overrides,message", BAD)
@pytest.mark.parametrize("multirun", [True, False])
def test_bad_configurations_fail_in_one_line_before_any_run(tmp_path, overrides, message, multirun):
    store = Store(tmp_path, new=True)
    if not multirun:  # a single run takes one value: the bad one, last in the list
        overrides = [o.split("=")[0] + "=" + o.split(",")[-1] if "," in o else o for o in overrides]
    proc = store.launch("debug=default", *overrides, multirun=multirun)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing was written, not even a store


@pytest.mark.parametrize("argument", ["model.hidden_size=0", "--help"])
def test_a_bad_configuration_and_help_answer_before_mlflow_is_imported(tmp_path, argument):
    """Hydra imports every plugin module to find its plugins, the sweeper's among them: MLflow
    (a second of imports) waits until a sweep records something."""
    store = Store(tmp_path, new=True)
    cmd = [sys.executable, "-X", "importtime", str(ROOT / "experiments" / "train.py"), "-m"]
    proc = subprocess.run(
        [*cmd, *store.args(), argument], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == (2 if "=" in argument else 0), proc.stderr[-2000:]
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    if argument == "--help":  # rnngrad's help: the presets, their questions and sizes
        assert "presets (experiment=NAME" in proc.stdout
        assert re.search(r"^  vanishing +48 runs  How fast does", proc.stdout, re.M)
    else:
        assert "rnngrad.pipeline.sweeper" in imported  # Hydra did look at the plugins
    assert not [m for m in imported if m.split(".")[0] == "mlflow"]


@pytest.mark.parametrize("multirun", [True, False])
def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path, multirun):
    store = Store(tmp_path, new=True)
    presets = tmp_path / "extra" / "experiment"
    presets.mkdir(parents=True)
    (presets / "broken.yaml").write_text("# @package _global_\nmodel:\n  hidden_size: [8, 16\n")
    proc = store.launch(
        "debug=default",
        f"hydra.searchpath=[file://{tmp_path / 'extra'}]",
        "experiment=broken",
        multirun=multirun,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"{presets / 'broken.yaml'}, line 4: YAML syntax error: while parsing" in lines[0]
    assert not (tmp_path / "mlflow.db").exists()


def test_the_sweep_summary_warns_of_every_failed_self_check(capsys):
    """What the sweeper prints when jobs report a failed self-check (the job side, with a
    really broken engine, is test_reports.py::test_a_failed_self_check_is_flagged_everywhere)."""
    from hydra.core.utils import JobReturn, JobStatus

    from rnngrad.pipeline.sweeper import count_outcomes

    def job(ok: bool) -> JobReturn:
        done = JobReturn()
        done.status = JobStatus.COMPLETED
        done._return_value = {"outcome": "finished", "selfcheck_ok": ok}
        return done

    names = ["tanh", "sigmoid"]  # the jobs' names
    counts = count_outcomes([job(True), job(False)], names, skipped=0)
    out = capsys.readouterr().out
    assert counts["selfcheck_failed"] == 1
    assert "WARNING: the self-check FAILED in 1 run(s)" in out and out.rstrip().endswith("sigmoid")
    count_outcomes([job(True), job(True)], names, skipped=0)
    assert "WARNING" not in capsys.readouterr().out


def test_an_exploding_configuration_is_recorded_as_diverged(store):
    proc = store.launch(
        "debug=default",
        "task=adding",
        "task.T=20",
        "optim.lr=1e10",
        "train.steps=100",
        "optim.clip=null",
        "model.recurrent_init=singular_value",
        "model.recurrent_scale=3.0",
        multirun=False,
    )
    ok(proc)
    (run,) = store.runs("debug")
    assert run.info.status == "FINISHED"
    assert run.data.tags["rnngrad.outcome"] == "diverged"
    step = int(run.data.tags["rnngrad.diverged_at"])
    history = store.client().get_metric_history(run.info.run_id, "train_loss")
    assert history and max(m.step for m in history) == step  # what it logged is kept
    assert "valid_loss" in run.data.metrics


def test_a_failing_job_is_failed_and_the_others_still_run(store):
    proc = store.launch(
        "debug=default",
        "model.hidden_size=8",
        "task.T=10",
        "train.seed=0",
        "model.activation=tanh",
        "model.skip=false",
        "internal.crash_at_step=null,10",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout and "FAILED" in proc.stdout
    runs = store.runs("debug")
    status = sorted(r.info.status for r in runs)
    assert status == ["FAILED", "FINISHED"]
    failed = next(r for r in runs if r.info.status == "FAILED")
    assert "deliberate failure" in failed.data.tags["rnngrad.error"]
    assert failed.data.tags["rnngrad.outcome"] == "failed"


def test_tracking_can_be_switched_off(tmp_path):
    store = Store(tmp_path, new=True)
    proc = store.launch("debug=default", "tracking.enabled=false", multirun=False)
    ok(proc)
    assert "finished after 20 steps" in proc.stdout or "solved" in proc.stdout
    assert not (store.tmp / "mlflow.db").exists()
