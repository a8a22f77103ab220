"""Forward+backward speed of the NumPy engine, against the machine and against PyTorch.

For each (B, H, T), with D = C = 32, token inputs and cross-entropy at every step, on one
BLAS thread, it prints the median time of RNN.loss_and_grads, the GFLOP/s it achieves, that
as a fraction of this machine's single-thread float64 GEMM throughput (measured in this run:
the physical limit), and the speed-up over PyTorch's CPU nn.RNN doing the same work
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


def gemm_peak(repeats: int) -> float:
    """Single-thread float64 GEMM throughput (GFLOP/s): median over square 1024 products."""
    rng = np.random.default_rng(0)
    n = 1024
    a, b, out = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
    np.matmul(a, b, out=out)
    times = [seconds_per_call(lambda: np.matmul(a, b, out=out), 3) for _ in range(repeats)]
    return 2 * n**3 / statistics.median(times) / 1e9


def engine_call(batch: int, hidden: int, steps: int):
    rng = np.random.default_rng(0)
    rnn = RNN(D, hidden, C, activation="tanh", seed=0)
    x = rng.integers(0, D, size=(steps, batch))
    y = rng.integers(0, C, size=(steps, batch))
    return lambda: rnn.loss_and_grads(x, y, loss="cross_entropy", loss_at="all")


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


def measure(size, repeats: int, with_torch: bool, budget: float = 0.15):
    """Interleaved medians (seconds per call) for the engine and, if asked, torch."""
    fns = {"engine": engine_call(*size)}
    if with_torch:
        fns["torch"] = torch_call(*size)
    calls = {}
    for name, fn in fns.items():  # warm up and pick a call count worth ~budget seconds
        calls[name] = max(1, int(budget / max(seconds_per_call(fn, 2), 1e-6)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(seconds_per_call(fn, calls[name]))
    return {name: statistics.median(s) for name, s in samples.items()}


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
        peak = gemm_peak(repeats)
        print(f"single-thread float64 GEMM (1024³): {peak:.1f} GFLOP/s\n")
        header = f"{'B':>4} {'H':>4} {'T':>5} | {'ms/call':>8} {'GFLOP/s':>8} {'of GEMM':>8}"
        if torch_version:
            header += f" | {'torch ms':>8} {'speed-up':>8}"
        print(header)
        print("-" * len(header))
        for size in SIZES:
            med = measure(size, repeats, bool(torch_version))
            gflops = engine_flops(*size) / med["engine"] / 1e9
            row = f"{size[0]:>4} {size[1]:>4} {size[2]:>5} | {med['engine'] * 1e3:>8.2f} "
            row += f"{gflops:>8.1f} {gflops / peak:>8.0%}"
            if torch_version:
                row += f" | {med['torch'] * 1e3:>8.2f} {med['torch'] / med['engine']:>7.2f}x"
            print(row, flush=True)
        print(f"\nGEMM throughput after the runs: {gemm_peak(repeats):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
