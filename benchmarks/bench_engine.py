"""Forward+backward speed of the NumPy engine, against the machine and against PyTorch.

For each (B, H, T), with D = C = 32, token inputs and cross-entropy at every step, on one
BLAS thread, it prints the median time of RNN.loss_and_grads, the GFLOP/s it achieves, that
as a fraction of this machine's single-thread float64 GEMM throughput (a 1024³ product,
measured in this run: the physical limit), the time of its matrix products alone on this
BLAS (the floor for any NumPy implementation of the same products), their GFLOP/s as a
fraction of GEMM's and how close the engine comes to them, and, when torch is importable,
the speed-up over PyTorch's CPU nn.RNN doing the same work (float64, one thread,
forward+backward, same loss) and its ceiling: torch's time over the time these FLOPs take
at 100 % of GEMM throughput, the most any implementation doing them could reach.

--limits also times, at (64, 256, 100), each kind of matrix product and each element-wise
pass the math requires, alone, against GEMM: what the engine's time cannot go below.

FLOPs counted are those of the matrix products the engine performs:
    6(T-1)·B·H²   recurrence forward, recurrence backward, ∂J/∂W_r
  + 6T·B·H·C      scores, ∂J/∂W_u, ∂J/∂h from the scores
  + 2T·B·H·D      ∂J/∂W_e (the forward input projection of one-hot inputs is a lookup)
(not the bias sums: ∂J/∂b rides along in ∂J/∂W_e's product as one more row, uncounted).

Timings are interleaved (engine, torch, engine, torch, ...) and repeated; medians are quoted.

Run: make bench   (or: .venv/bin/python benchmarks/bench_engine.py [--quick] [--limits])
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
from rnngrad.functional import activate, activation_grad, cross_entropy, norms

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
    w_u, oh = rng.standard_normal((C, hidden)), rng.standard_normal((D + 1, steps * batch))
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
        oh @ flat  # dJ/dW_e and dJ/db: one-hot x_t over a row of ones

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
    result["floor_of_gemm"] = statistics.median(
        (flops / r["floor"]) / (2 * GEMM_N**3 / r["gemm"]) for r in rounds
    )
    if with_torch:
        result["speedup"] = statistics.median(r["torch"] / r["engine"] for r in rounds)
        # the engine's FLOPs at 100 % of GEMM throughput would take flops / rate seconds: no
        # implementation doing these products beats torch by more than this on this machine
        result["ceiling"] = statistics.median(
            r["torch"] / (flops / (2 * GEMM_N**3 / r["gemm"])) for r in rounds
        )
    return result


LIMITS_SIZE = (64, 256, 100)
FLOOR, PASSES = "all the engine's products (the floor)", "f = tanh"


def limit_parts(batch: int, hidden: int, steps: int) -> dict:
    """name: (call, FLOPs or 0) for GEMM, the engine's kinds of matrix products, and the
    element-wise passes its math requires (from FLOOR's successor on), each alone on arrays
    of the engine's shapes, with the engine's own functions."""
    rng = np.random.default_rng(0)
    a, dh = rng.standard_normal((2, steps, batch, hidden))  # (T, B, H) each
    out = np.empty_like(a)
    w, w_u = rng.standard_normal((hidden, hidden)), rng.standard_normal((C, hidden))
    s, y = rng.standard_normal((steps, batch, C)), rng.integers(0, C, size=(steps, batch))
    flat, g = a.reshape(-1, hidden), s.reshape(-1, C)  # (T·B, H), (T·B, C)
    onehot = np.eye(D + 1)[rng.integers(0, D, size=steps * batch)].T  # (D+1, T·B)
    onehot[D] = 1.0  # the row of ones that gives ∂J/∂b
    rec = np.empty((batch, hidden))

    def recurrence():
        for t in range(1, steps):
            np.matmul(a[t], w, out=rec)

    def narrow():  # scores, ∂J/∂W_u, W_uᵀ ds, ∂J/∂W_e with ∂J/∂b
        return flat @ w_u.T, g.T @ flat, g @ w_u, onehot @ flat

    n, rows, wide = steps * batch, (steps - 1) * batch, f"{C}- and {D}-wide"
    return {
        f"1024³ GEMM ({GEMM_N}×{GEMM_N})·({GEMM_N}×{GEMM_N})": (gemm_call(), 2 * GEMM_N**3),
        f"recurrence: {steps - 1} × ({batch}×{hidden})·({hidden}×{hidden})": (
            recurrence,
            2 * rows * hidden * hidden,
        ),
        f"∂J/∂W_r: one ({hidden}×{rows})·({rows}×{hidden})": (
            lambda: dh[1:].reshape(-1, hidden).T @ a[:-1].reshape(-1, hidden),
            2 * rows * hidden * hidden,
        ),
        f"{wide}: scores, ∂J/∂W_u, W_uᵀds, ∂J/∂W_e": (narrow, 2 * n * hidden * (3 * C + D)),
        FLOOR: (matmul_floor_call(batch, hidden, steps), engine_flops(batch, hidden, steps)),
        PASSES: (lambda: activate(a, "tanh", out=out), 0),
        "f' = 1/cosh²": (lambda: activation_grad(a, "tanh", out=out), 0),
        "da = f' ∘ dh": (lambda: np.multiply(a, dh, out=out), 0),
        "the recurrences' two adds (a_t, dh_t)": (
            lambda: (np.add(a, dh, out=out), np.add(a, dh, out=out)),
            0,
        ),
        "softmax cross-entropy and ∂ℓ/∂s": (lambda: cross_entropy(s, y), 0),
        "‖dh_t‖ and ‖da_t‖ per example": (lambda: (norms(a), norms(dh)), 0),
    }


def limits(repeats: int) -> None:
    """LIMITS_SIZE's work in parts, each alone, in interleaved rounds: the median time,
    GFLOP/s and fraction of GEMM's rate of each, and the least time they add up to."""
    size = LIMITS_SIZE
    flops = engine_flops(*size)
    parts = limit_parts(*size)
    parts["the engine: RNN.loss_and_grads"] = (engine_call(*size), flops)
    names = list(parts)
    calls = {n: max(1, int(0.2 / max(seconds_per_call(f, 2), 1e-6))) for n, (f, _) in parts.items()}
    rounds = [{n: seconds_per_call(parts[n][0], calls[n]) for n in names} for _ in range(repeats)]
    for r in rounds:  # the floor and the passes together: the least an engine could take
        r["least"] = r[FLOOR] + sum(r[n] for n in names[names.index(PASSES) : -1])
        r["rate"] = 2 * GEMM_N**3 / r[names[0]]  # GEMM FLOP/s in this round
    parts["the floor + the passes: least possible time"] = (None, flops)
    print(f"\nB={size[0]} H={size[1]} T={size[2]}, each part alone:")
    print(f"{'':<50} {'ms':>7} {'GFLOP/s':>8} {'of GEMM':>8}")
    for name, (_, work) in parts.items():
        key = "least" if name.startswith("the floor +") else name
        ms = statistics.median(r[key] for r in rounds) * 1e3
        row = f"{name:<50} {ms:>7.2f}"
        if work:
            frac = statistics.median(work / r[key] / r["rate"] for r in rounds)
            row += f" {work / ms / 1e6:>8.1f} {frac:>8.0%}"
        print(row)
    print(
        "\nof GEMM of the last line: the most of GEMM's rate an engine doing these products\n"
        "and passes can reach here (the passes timed over whole (T, B, H) arrays)."
    )


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
    parser.add_argument(
        "--limits", action="store_true", help="also time each part of (64, 256, 100) alone"
    )
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
        header += f"{'GEMM GF/s':>9} {'of GEMM':>8} | {'floor ms':>8} {'of GEMM':>8} "
        header += f"{'of floor':>8}"
        if torch_version:
            header += f" | {'torch ms':>8} {'speed-up':>8} {'ceiling':>8}"
        print(header)
        print("-" * len(header))
        for size in SIZES:
            m = measure(size, repeats, bool(torch_version))
            row = f"{size[0]:>4} {size[1]:>4} {size[2]:>5} | {m['engine'] * 1e3:>8.2f} "
            row += f"{m['gflops']:>8.1f} {m['peak']:>9.1f} {m['of_gemm']:>8.0%} | "
            row += f"{m['floor'] * 1e3:>8.2f} {m['floor_of_gemm']:>8.0%} {m['of_floor']:>8.0%}"
            if torch_version:
                row += f" | {m['torch'] * 1e3:>8.2f} {m['speedup']:>7.2f}x {m['ceiling']:>7.2f}x"
            print(row, flush=True)
        print(
            "\nof GEMM: GFLOP/s / 1024³ GEMM GFLOP/s, for the engine and for its matrix products\n"
            "alone (floor); of floor: floor time / engine time; speed-up: torch time / engine time;\n"
            "ceiling: torch time / (FLOPs / GEMM GFLOP/s), the speed-up of an implementation that\n"
            "ran these FLOPs at 100 % of GEMM throughput and did nothing else: the most that any\n"
            "implementation doing these products can reach against torch on this machine.\n"
            f"Each a median over {repeats} interleaved rounds."
        )
        if args.limits:
            limits(repeats)


if __name__ == "__main__":
    main()
