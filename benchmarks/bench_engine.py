"""Forward+backward speed of the NumPy engine, against the machine and against PyTorch.

For each (B, H, T), with D = C = 32, token inputs and cross-entropy at every step, on one
BLAS thread, it prints the median time of RNN.loss_and_grads, the GFLOP/s it achieves, that
as a fraction of this machine's single-thread float64 GEMM throughput (measured in this run:
the physical limit), the time of its matrix products alone on this BLAS (the floor for any
NumPy implementation of the same products) and how close the engine comes to it, and the speed-up over PyTorch's CPU nn.RNN doing the same work
(float64, one thread, forward+backward, same loss) when torch is importable.

FLOPs counted are those of the matrix products the engine performs:
    6(T-1)·B·H²   recurrence forward, recurrence backward, ∂J/∂W_r
  + 6T·B·H·C      scores, ∂J/∂W_u, ∂J/∂h from the scores
  + 2T·B·H·D      ∂J/∂W_e (the forward input projection of one-hot inputs is a lookup)

Timings are interleaved (engine, torch, engine, torch, ...) and repeated; medians are quoted.

Run: make bench   (or: .venv/bin/python benchmarks/bench_engine.py [--quick])
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from rnngrad import RNN

SIZES = [(32, 32, 100), (64, 256, 100), (32, 64, 1000)]  # (B, H, T)
D = C = 32


def engine_flops(batch: int, hidden: int, steps: int) -> int:
    recurrent = 6 * (steps - 1) * batch * hidden * hidden
    return recurrent + 6 * steps * batch * hidden * C + 2 * steps * batch * hidden * D


def seconds_per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


GEMM_N = 1024


def gemm_call():
    """One square float64 product: its throughput is the machine's single-thread limit."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((GEMM_N, GEMM_N)), rng.standard_normal((GEMM_N, GEMM_N))
    out = np.empty((GEMM_N, GEMM_N))
    return lambda: np.matmul(a, b, out=out)


def engine_call(batch: int, hidden: int, steps: int):
    rng = np.random.default_rng(0)
    rnn = RNN(D, hidden, C, activation="tanh", seed=0)
    x = rng.integers(0, D, size=(steps, batch))
    y = rng.integers(0, C, size=(steps, batch))
    return lambda: rnn.loss_and_grads(x, y, loss="cross_entropy", loss_at="all")


def matmul_floor_call(batch: int, hidden: int, steps: int):
    """Only the engine's matrix products, same shapes and order, nothing between them: the
    time a NumPy implementation of this model cannot go below on this BLAS."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((hidden, hidden))
    hs = rng.standard_normal((steps + 1, batch, hidden))  # (T+1, B, H)
    g = rng.standard_normal((steps * batch, C))  # (T·B, C)
    w_u, oh = rng.standard_normal((C, hidden)), rng.standard_normal((D, steps * batch))
    out = np.empty((batch, hidden))
    flat = hs[1:].reshape(-1, hidden)

    def call():
        for t in range(1, steps):
            np.matmul(hs[t], w, out=out)  # recurrence, forward
        flat @ w_u.T  # scores
        g.T @ flat  # dJ/dW_u
        g @ w_u  # dJ/dh from the scores
        for t in range(steps - 1, 0, -1):
            np.matmul(hs[t], w, out=out)  # recurrence, backward
        flat[batch:].T @ hs[1:-1].reshape(-1, hidden)  # dJ/dW_r
        oh @ flat  # dJ/dW_e

    return call


def torch_call(batch: int, hidden: int, steps: int):
    """The same model in PyTorch: nn.RNN(tanh) + nn.Linear, summed cross-entropy / B."""
    import torch

    torch.manual_seed(0)
    rnn = torch.nn.RNN(D, hidden, nonlinearity="tanh", dtype=torch.float64)
    head = torch.nn.Linear(hidden, C, dtype=torch.float64)
    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(0, D, size=(steps, batch)))
    x = torch.nn.functional.one_hot(ids, D).to(torch.float64)  # (T, B, D), built once
    y = torch.from_numpy(rng.integers(0, C, size=(steps, batch))).reshape(-1)
    params = [*rnn.parameters(), *head.parameters()]

    def call():
        for p in params:
            p.grad = None
        h, _ = rnn(x)  # (T, B, H)
        s = head(h).reshape(-1, C)
        loss = torch.nn.functional.cross_entropy(s, y, reduction="sum") / batch
        loss.backward()

    return call


def torch_available() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch.__version__


def measure(size, repeats: int, with_torch: bool, budget: float = 0.2) -> dict:
    """Interleaved rounds: in each, every contender runs for ~budget seconds, back to back.

    Ratios (fraction of GEMM throughput, of the floor, speed-up) are taken within a round,
    so that a slow spell of the machine hits both sides, and the medians over rounds are
    returned with the median times.
    """
    fns = {"gemm": gemm_call(), "engine": engine_call(*size), "floor": matmul_floor_call(*size)}
    if with_torch:
        fns["torch"] = torch_call(*size)
    calls = {}
    for name, fn in fns.items():  # warm up and pick a call count worth ~budget seconds
        calls[name] = max(1, int(budget / max(seconds_per_call(fn, 2), 1e-6)))
    rounds = []
    for _ in range(repeats):
        rounds.append({name: seconds_per_call(fn, calls[name]) for name, fn in fns.items()})
    flops = engine_flops(*size)
    result = {name: statistics.median(r[name] for r in rounds) for name in fns}
    result["gflops"] = flops / result["engine"] / 1e9
    result["peak"] = statistics.median(2 * GEMM_N**3 / r["gemm"] / 1e9 for r in rounds)
    result["of_gemm"] = statistics.median(
        (flops / r["engine"]) / (2 * GEMM_N**3 / r["gemm"]) for r in rounds
    )
    result["of_floor"] = statistics.median(r["floor"] / r["engine"] for r in rounds)
    if with_torch:
        result["speedup"] = statistics.median(r["torch"] / r["engine"] for r in rounds)
    return result


def blas_description() -> str:
    infos = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return "; ".join(
        f"{i['internal_api']} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i['num_threads']}"
        for i in infos
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved samples per size")
    parser.add_argument("--quick", action="store_true", help="3 samples, for a smoke run")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    with threadpool_limits(limits=1):
        torch_version = torch_available()
        cpu = platform.processor() or platform.machine()
        print(f"rnngrad engine benchmark, {date.today()}, {cpu}, {os.cpu_count()} cores")
        print(f"numpy {np.__version__}; BLAS: {blas_description()}")
        coretype = os.environ.get("OPENBLAS_CORETYPE")
        print(f"OPENBLAS_CORETYPE={coretype or '(unset)'}")
        if torch_version:
            print(f"PyTorch {torch_version} found: comparing against nn.RNN, 1 thread")
        else:
            print("PyTorch not importable: no comparison (pip install torch to add one)")
        header = f"{'B':>4} {'H':>4} {'T':>5} | {'ms/call':>8} {'GFLOP/s':>8} "
        header += f"{'GEMM GF/s':>9} {'of GEMM':>8} | {'floor ms':>8} {'of floor':>8}"
        if torch_version:
            header += f" | {'torch ms':>8} {'speed-up':>8}"
        print(header)
        print("-" * len(header))
        for size in SIZES:
            m = measure(size, repeats, bool(torch_version))
            row = f"{size[0]:>4} {size[1]:>4} {size[2]:>5} | {m['engine'] * 1e3:>8.2f} "
            row += f"{m['gflops']:>8.1f} {m['peak']:>9.1f} {m['of_gemm']:>8.0%} | "
            row += f"{m['floor'] * 1e3:>8.2f} {m['of_floor']:>8.0%}"
            if torch_version:
                row += f" | {m['torch'] * 1e3:>8.2f} {m['speedup']:>7.2f}x"
            print(row, flush=True)
        print(
            "\nof GEMM: engine GFLOP/s / 1024³ GEMM GFLOP/s; of floor: time of the engine's\n"
            "matrix products alone / engine time; speed-up: torch time / engine time.\n"
            f"Each a median over {repeats} interleaved rounds."
        )


if __name__ == "__main__":
    main()
