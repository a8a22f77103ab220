"""How the pipeline's costs grow with the store: experiments of 100, 1,000 and 10,000 runs.

For each size N, a new SQLite store holds one experiment of N finished runs of a tiny
configuration (temporal order, tanh, T = 10, H = 8, 20 steps; train.seed = 0 … N − 1): the
first trained by a real job, the others its copies written through MLflow (its tags, params,
last metrics and files, each under the config hash of its own seed), as if a sweep over
train.seed had run. Then, on that store:

- a job's cost: a new configuration (seed N + r) run as a sweep's job in this process, its
  time beyond training (the same job untracked takes a few ms of it); the median over 41
  rounds. Every store takes its turn in every round (in an order that rotates), so that the
  stores differ in their size, not in the minutes of this machine they were measured in. A
  new store, empty at first, takes its turn too;
- pages one job changes: the database before and after each of three tiny jobs (new seeds,
  in an experiment of their own in that store, and in another new store), compared page by
  page: what a job's commits write;
- relaunch: `experiments/train.py -m … train.seed=range(0,N)` in a new process, every
  configuration already finished, from the launch to its last line;
- report: `rnngrad-report --force` (a full build), then again without (the up-to-date check);
- the MLflow UI's runs table: `make ui`'s server on the store, timing the request its runs
  table sends for its first page in the view a sweep shares (POST
  /ajax-api/2.0/mlflow/runs/search, 100 runs, by log10_ratio).

Then a sweep as a user launches it: `experiments/train.py -m` over 1,000 seeds of the same
tiny configuration (2 workers) into a fresh SQLite store, and again into the PostgreSQL-
backed MLflow server of `make server`, with the per-run cost of its first 100 runs against
its last 100, and of each block of 100 between (a trend, or this machine's noise): the
median, over the block's runs, of each run's time on its worker (from the end of that
worker's previous run to its own, by the runs' pid tags and end times in the store) less its
training (its `wall_time_s`). A median, because a second-long stall of this machine in one
block would move a mean by 10 ms a run. Beside it, the CPU time the sweep's own processes
(launcher, fork server, workers) used per run in each block, sampled from /proc: what the
sweep itself spends (the time the machine's other tenants hold the cores is not in it). This
machine's speed drifts over a sweep's minutes, so the first and last blocks also differ in
when they ran. To tell the store's size from that, --rounds rounds follow, each of 100 runs
(new seeds) launched into the store the sweep filled and of 200 into a new store, its first
100 and its next 100 launched apart, alternating which store goes first: the per-run
overhead of each launch, and the medians of the rounds' ratios.

Run: make bench-scale   (or .venv/bin/python benchmarks/bench_scale.py [--sizes 100 1000]
[--sweep 1000] [--rounds 3] [--stores sqlite postgresql])
About an hour on 2 cores with the defaults: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from mlflow.entities import Metric, Param

from rnngrad.pipeline import record as rec
from rnngrad.pipeline import tracking
from rnngrad.pipeline.config import config_hash, register
from rnngrad.pipeline.job import run
from rnngrad.pipeline.store import open_client
from rnngrad.pipeline.sweeper import told

ROOT = Path(__file__).resolve().parents[1]
JOB_ROUNDS = 41  # rounds of the in-process per-run cost, every store once each
TINY = [
    "debug=default",
    "model.activation=tanh",
    "model.skip=false",
    "model.hidden_size=8",
    "task.T=10",
]


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


def copy_run(client, experiment_id: str, template, seed: int, digest: str) -> None:
    """The template run again, as seed `seed` (config hash `digest`) under the same sweep:
    tags, params, last metrics and files."""
    tags = {k: v for k, v in template.data.tags.items() if k != "mlflow.runName"}
    tags[rec.CONFIG_HASH] = digest
    tags[rec.OVERRIDES] = tags[rec.OVERRIDES].replace("train.seed=0", f"train.seed={seed}")
    made = client.create_run(experiment_id, tags=tags, run_name=f"s{seed}")
    params = {**template.data.params, "train.seed": str(seed)}
    now = int(time.time() * 1000)
    client.log_batch(
        made.info.run_id,
        metrics=[Metric(k, v, now, 0) for k, v in template.data.metrics.items()],
        params=[Param(k, v) for k, v in params.items()],
    )
    source = Path(template.info.artifact_uri.removeprefix("file://"))
    shutil.copytree(
        source, Path(made.info.artifact_uri.removeprefix("file://")), dirs_exist_ok=True
    )
    client.set_terminated(made.info.run_id, "FINISHED")


def store_in(folder: Path, name: str) -> tuple[str, str, list[str]]:
    """The SQLite store at folder/mlflow.db (created if new) with experiment `name` in it:
    (its URI, the experiment's id, the overrides that send a job there)."""
    folder.mkdir(exist_ok=True)
    uri = f"sqlite:///{folder}/mlflow.db"
    experiment = tracking.ensure_experiment(open_client(uri), name, (folder / "art").as_uri())
    where = [f"tracking.uri={uri}", f"tracking.artifact_root={folder}/art",
             f"tracking.experiment={name}"]  # fmt: skip
    return uri, experiment, where


def build_store(folder: Path, size: int) -> tuple[str, str, list[str]]:
    """A store of `size` runs (module doc), as store_in returns it."""
    uri, experiment, where = store_in(folder, f"scale{size}")
    client = tracking.MlflowClient(uri)
    with as_sweeps_jobs(uri, experiment, where) as base:
        run(composed([*base, "train.seed=0"]), ["train.seed=0"])
        (template,) = [r for r in client.search_runs([experiment]) if r.data.tags.get(rec.ROLE) != "sweep"]  # fmt: skip
        cfg = composed([*base, "train.seed=0"])
        for seed in range(1, size):
            cfg.train.seed = seed  # the config a sweep composes for this seed: its hash
            copy_run(client, experiment, template, seed, config_hash(cfg))
    return uri, experiment, where


@contextlib.contextmanager
def as_sweeps_jobs(uri: str, experiment: str, where: list[str]):
    """The overrides that run a tiny job in this process as a sweep's job into experiment
    `experiment` of the store at `uri`, under a parent run closed on the way out."""
    client = tracking.MlflowClient(uri)
    parent = client.create_run(experiment, tags={rec.ROLE: "sweep"}).info.run_id
    try:
        yield [*TINY, *where, *told(experiment, parent, 1, "bench")]
    finally:
        client.set_terminated(parent, "FINISHED")


def beyond_training(overrides: list[str], seed: int) -> float:
    """Seconds a tiny job of seed `seed` takes in this process, less its training."""
    cfg = composed([*overrides, f"train.seed={seed}"])
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its lines
        result = run(cfg, [f"train.seed={seed}"])
    return time.perf_counter() - start - result["seconds"]


def job_costs(stores: dict[int, tuple], rounds: int) -> dict[int, float]:
    """A tiny job's time beyond its training in each store (size: (uri, experiment,
    overrides)), run as a sweep's job in this process, a new seed each time: the median over
    `rounds` rounds, each running one job in every store, in an order that rotates, so that
    the stores differ in their size and not in the minutes of this machine they were measured
    in. Under key "untracked", the same job with tracking off (in the first store, once a
    round): what is not the store's."""
    sizes, costs = list(stores), defaultdict(list)
    with contextlib.ExitStack() as parents:
        jobs = {size: parents.enter_context(as_sweeps_jobs(*s)) for size, s in stores.items()}
        for r in range(rounds):
            for size in sizes[r % len(sizes) :] + sizes[: r % len(sizes)]:
                seed = size + r  # the store holds seeds 0 … size − 1
                costs[size].append(beyond_training(jobs[size], seed))
            off = [*jobs[sizes[0]], "tracking.enabled=false"]
            costs["untracked"].append(beyond_training(off, r))
    return {size: statistics.median(c) for size, c in costs.items()}


def seconds(command: list[str], expect: str, cpu: list | None = None) -> float:
    """How long `command` takes (it must succeed and print `expect`); with `cpu`, a list,
    (time, the CPU seconds its processes have used so far) sampled every 0.5 s into it."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    if cpu is not None:
        threading.Thread(target=sample_cpu, args=(proc, cpu), daemon=True).start()
    out, err = proc.communicate()
    took = time.perf_counter() - start
    if proc.returncode != 0 or expect not in out:
        sys.exit(f"{' '.join(command)} failed:\n{out[-2000:]}\n{err[-2000:]}")
    return took


def sample_cpu(proc: subprocess.Popen, into: list) -> None:
    """Until `proc` ends: (time, CPU seconds of it and every process under it, the ended ones
    its processes have waited for included), every 0.5 s."""
    tick = os.sysconf("SC_CLK_TCK")
    while proc.poll() is None:
        stats, children = {}, defaultdict(list)
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = sum(map(int, fields[11:15])) / tick  # utime … cstime
                children[int(fields[1])].append(int(entry.name))
        total, todo = 0.0, [proc.pid]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, 0.0)
            todo += children.get(pid, [])
        into.append((time.time(), total))
        time.sleep(0.5)


def cpu_per_run(samples: list, runs: list, size: int = 100) -> list[float]:
    """The CPU seconds the sweep's processes used per run in each block of `size` runs (by
    their end), from the samples of seconds(…, cpu=…): launcher, fork server and workers, the
    time the machine's other tenants hold the cores not included."""
    times, used = (list(column) for column in zip(*samples, strict=True))
    ends = [runs[i].info.end_time / 1000 for i in range(0, len(runs), size)] + [
        runs[-1].info.end_time / 1000
    ]
    at = [float(np.interp(t, times, used)) for t in ends]
    counts = [size] * (len(ends) - 1)  # runs that end after one boundary, up to the next
    counts[-1] = len(runs) - 1 - size * (len(ends) - 2)
    return [(b - a) / n for a, b, n in zip(at[:-1], at[1:], counts, strict=True)]


def ui_seconds(folder: Path, experiment: str, port: int = 5097) -> float:
    """The median time of the runs table's first-page request, against make ui's server."""
    server = subprocess.Popen(
        [sys.executable, "-m", "rnngrad.ops.ui", "--db", str(folder / "mlflow.db"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    body = json.dumps({"experiment_ids": [experiment], "max_results": 100,
                       "order_by": ["metrics.`log10_ratio` ASC"], "run_view_type": "ACTIVE_ONLY"})  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(address, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the MLflow UI never answered")
                time.sleep(0.5)
        times = []
        for _ in range(5):
            request = urllib.request.Request(
                f"{address}/ajax-api/2.0/mlflow/runs/search", body.encode(),
                {"Content-Type": "application/json"},
            )  # fmt: skip
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as reply:
                assert len(json.loads(reply.read())["runs"]) == 100
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_store(folder: Path):
    """`make server`'s MLflow server on PostgreSQL in `folder`: (its URI, the stop command)."""
    port, ops = free_port(), [sys.executable, "-m", "rnngrad.ops.server"]
    folder.parent.chmod(0o755)  # PostgreSQL's own user must reach its data folder
    started = subprocess.run([*ops, "start", "--dir", str(folder), "--port", str(port),
                              "--pg-port", str(free_port())], capture_output=True, text=True)  # fmt: skip
    if started.returncode:
        subprocess.run([*ops, "stop", "--dir", str(folder)], capture_output=True)  # what did start
        sys.exit(f"make server's start failed:\n{started.stdout}{started.stderr}")
    return f"http://127.0.0.1:{port}", [*ops, "stop", "--dir", str(folder)]


def overheads(runs: list) -> dict[str, float]:
    """Each run's time on its worker beyond its training: from the end of the previous run of
    the same worker process (its pid tag) to its own end, less its `wall_time_s`. A worker's
    first run has no previous one and is left out."""
    by_worker = defaultdict(list)
    for r in runs:
        by_worker[r.data.tags[rec.PID]].append(r)
    found = {}
    for ended in by_worker.values():
        ended.sort(key=lambda r: r.info.end_time)
        for before, r in itertools.pairwise(ended):
            held = (r.info.end_time - before.info.end_time) / 1000
            found[r.info.run_id] = held - r.data.metrics[rec.WALL_TIME]
    return found


@contextlib.contextmanager
def sweep_store(kind: str, folder: Path):
    """A fresh store of `kind` in `folder`, as (its URI, the overrides that send a sweep
    there); a PostgreSQL server is stopped on the way out."""
    folder.mkdir(parents=True)
    if kind == "sqlite":
        yield f"sqlite:///{folder}/mlflow.db", [f"tracking.artifact_root={folder}/art"]
        return
    folder.parent.chmod(0o755)  # PostgreSQL's own user must reach its data folder
    uri, stop = server_store(folder / "server")
    try:
        yield uri, []
    finally:
        subprocess.run(stop, capture_output=True)


def launched(uri: str, where: list[str], seeds: range, folder: Path, workers: int = 2):
    """Launch a sweep of the tiny configuration over `seeds` into experiment "growth" of the
    store at `uri`, as a user does (2 workers): (its seconds, its finished runs by their end)."""
    grid = [*TINY, f"tracking.uri={uri}", *where, "tracking.experiment=growth",
            f"hydra.launcher.n_jobs={workers}", f"train.seed=range({seeds.start},{seeds.stop})",
            f"hydra.sweep.dir={tempfile.mkdtemp(dir=folder)}"]  # fmt: skip
    cpu: list = []
    took = seconds(
        [sys.executable, "experiments/train.py", "-m", *grid], "0 skipped, 0 failed", cpu
    )
    client = tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("growth").experiment_id
    wanted = {str(seed) for seed in seeds}
    runs = [r for r in tracking.search_all(client, experiment, "attributes.status = 'FINISHED'")
            if r.data.tags.get(rec.ROLE) != "sweep" and r.data.params.get("train.seed") in wanted]  # fmt: skip
    if len(runs) != len(seeds):
        sys.exit(f"the sweep over {len(seeds)} seeds finished {len(runs)} runs")
    return took, sorted(runs, key=lambda r: r.info.end_time), cpu


def block_overheads(runs: list, size: int = 100) -> list[float]:
    """The median per-run overhead (overheads()) of each block of `size` runs, by their end."""
    cost = overheads(runs)
    return [
        statistics.median(cost[r.info.run_id] for r in runs[i : i + size] if r.info.run_id in cost)
        for i in range(0, len(runs) - size + 1, size)
    ]


def sweep_growth(kind: str, n: int, rounds: int) -> dict:
    """An n-run sweep into a new store of `kind`: its wall seconds, the per-run overhead of
    each block of 100 runs, the mean training time of a run. Then `rounds` rounds, each of 100
    runs (new seeds) into that store, and of 200 into a new store, its first 100 and its next
    100 launched apart, alternating which store goes first: the per-run overhead of each
    launch (the same work, in the same minutes of this machine; only the store differs)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with sweep_store(kind, folder / "full") as (uri, where):
            wall, runs, cpu = launched(uri, where, range(n), folder)
            got = {"wall": wall, "blocks": block_overheads(runs), "cpu": cpu_per_run(cpu, runs)}
            got["train"] = statistics.mean(r.data.metrics[rec.WALL_TIME] for r in runs)
            got |= {"full": [], "first": [], "second": []}

            def cost(store: str, there: list[str], seeds: range) -> float:
                return block_overheads(launched(store, there, seeds, folder)[1])[0]

            for i in range(rounds):
                for which in ("full", "new") if i % 2 == 0 else ("new", "full"):
                    if which == "full":
                        got["full"].append(cost(uri, where, range(n + 100 * i, n + 100 * (i + 1))))
                        continue
                    with sweep_store(kind, folder / f"new{i}") as (other, there):
                        got["first"].append(cost(other, there, range(100)))
                        got["second"].append(cost(other, there, range(100, 200)))
    return got


def pages_changed(folder: Path, jobs: int = 3) -> list[int]:
    """The pages of the SQLite database in `folder` that each of `jobs` tiny jobs (new seeds,
    in this process, as a sweep's jobs, in an experiment of their own) changes: the database
    before and after each, compared page by page (write-ahead log folded in)."""
    uri, experiment, where = store_in(folder, "pages")

    def pages() -> list[bytes]:
        with contextlib.closing(sqlite3.connect(uri.removeprefix("sqlite:///"))) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = con.execute("PRAGMA page_size").fetchone()[0]
            with contextlib.closing(sqlite3.connect(":memory:")) as image:
                con.backup(image)
                data = image.serialize()
        return [data[i : i + size] for i in range(0, len(data), size)]

    changed = []
    with as_sweeps_jobs(uri, experiment, where) as overrides:
        for seed in range(10**6, 10**6 + jobs):
            before = pages()
            beyond_training(overrides, seed)
            changed.append(sum(a != b for a, b in itertools.zip_longest(before, pages())))
    return changed


def milliseconds(values: list[float]) -> str:
    return " ".join(f"{v * 1000:.0f}" for v in values) + " ms"


def against(some: list[float], others: list[float]) -> str:
    """`some` launches' per-run overhead against `others`': the median of the rounds' ratios
    (each round's launches ran minutes apart on the same machine)."""
    change = statistics.median(a / b for a, b in zip(some, others, strict=True)) - 1
    return f"{change:+.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--sweep", type=int, default=1000, help="runs of the sweep (0: none)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 100-run launches")
    parser.add_argument("--stores", nargs="*", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.sweep and (args.sweep < 200 or args.sweep % 100):
        parser.error("--sweep: a multiple of 100, at least 200 (a first 100, a last 100), or 0")
    if args.sweep and args.rounds < 1:
        parser.error("--rounds: at least 1 with a sweep")
    register()
    grown = []
    for kind in args.stores if args.sweep else []:
        got = sweep_growth(kind, args.sweep, args.rounds)
        grown.append((kind, got))
        blocks, full, first, second = (got[k] for k in ("blocks", "full", "first", "second"))
        print(
            f"a {args.sweep}-run sweep on {kind}: {got['wall']:.0f} s; per-run overhead, first "
            f"100 runs {blocks[0] * 1000:.0f} ms, last 100 {blocks[-1] * 1000:.0f} ms "
            f"({blocks[-1] / blocks[0] - 1:+.1%}); training {got['train'] * 1000:.0f} ms a run; "
            f"each block of 100: {milliseconds(blocks)}\n"
            f"  its processes' CPU time per run, each block of 100: {milliseconds(got['cpu'])} "
            f"(last against first {got['cpu'][-1] / got['cpu'][0] - 1:+.1%})\n"
            f"  then {args.rounds} rounds of 100 runs into that store and 200 into a new one "
            f"(its first 100, then its next 100): per-run overhead {milliseconds(full)} with "
            f"{args.sweep:,}+ runs in the store, {milliseconds(first)} as a store's first 100 "
            f"runs, {milliseconds(second)} as its next 100; {args.sweep:,}+ against the next "
            f"100: {against(full, second)}, the first 100 against the next: "
            f"{against(first, second)} (medians of the rounds)",
            flush=True,
        )
    rows, stores = [], {}
    with contextlib.ExitStack() as kept:
        folders = {
            size: Path(kept.enter_context(tempfile.TemporaryDirectory())) for size in args.sizes
        }
        for size, folder in folders.items():
            start = time.perf_counter()
            stores[size] = build_store(folder, size)
            print(f"{size:>6} runs: built in {time.perf_counter() - start:.0f} s", flush=True)
        new = Path(kept.enter_context(tempfile.TemporaryDirectory()))
        costs = job_costs({0: store_in(new, "scale0"), **stores}, JOB_ROUNDS) if stores else {}
        pages = {0: pages_changed(new / "pages")} if stores else {}
        for size, folder in folders.items():
            uri, experiment, where = stores[size]
            pages[size] = pages_changed(folder)
            grid = [
                *TINY,
                *where,
                f"train.seed=range(0,{size})",
                f"hydra.sweep.dir={folder}/multirun",
            ]
            relaunch = seconds(
                [sys.executable, "experiments/train.py", "-m", *grid], f"0 to run, {size} already"
            )
            report = [sys.executable, "-m", "rnngrad.reports", "--experiment", f"scale{size}",
                      "--tracking-uri", uri, "--out", f"{folder}/reports"]  # fmt: skip
            full = seconds([*report, "--force"], "wrote")
            check = seconds(report, "up to date")
            ui = ui_seconds(folder, experiment)
            rows.append((size, costs[size], pages[size], relaunch, full, check, ui))
            print(
                f"{size:>6} runs: a job beyond training {costs[size] * 1000:.0f} ms; pages one job "
                f"changes {' '.join(map(str, pages[size]))}; relaunch {relaunch:.1f} s; report "
                f"{full:.1f} s, up-to-date check {check:.1f} s; UI runs table {ui * 1000:.0f} ms",
                flush=True,
            )
    if pages:
        print(
            f"a new store: a job beyond training {costs[0] * 1000:.0f} ms (its first "
            f"{JOB_ROUNDS} runs); pages one job changes {' '.join(map(str, pages[0]))} (another's "
            f"first 3); untracked, a job beyond training {costs['untracked'] * 1000:.0f} ms"
        )
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.processor() or ''}")
    print(
        "| runs | a job beyond training | pages one job changes | relaunch | report build | "
        "report up to date | UI runs table |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, cost, changed, relaunch, full, check, ui in rows:
        print(
            f"| {size:,} | {cost * 1000:.0f} ms | {' '.join(map(str, changed))} | "
            f"{relaunch:.1f} s | {full:.1f} s | {check:.1f} s | {ui * 1000:.0f} ms |"
        )
    if grown:
        print(f"\n| a {args.sweep:,}-run sweep | wall | per-run overhead, first 100 | last 100 | "
              f"change | then, {args.sweep:,}+ runs in the store; a new store's first 100; "
              f"its next 100 | change, {args.sweep:,}+ against the next 100 |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, got in grown:
        blocks = got["blocks"]
        print(
            f"| {kind} | {got['wall']:.0f} s | {blocks[0] * 1000:.0f} ms | "
            f"{blocks[-1] * 1000:.0f} ms | {blocks[-1] / blocks[0] - 1:+.1%} | "
            + "; ".join(milliseconds(got[k]) for k in ("full", "first", "second"))
            + f" | {against(got['full'], got['second'])} |"
        )


if __name__ == "__main__":
    main()
