"""A vanilla RNN and its backpropagation through time, derived by hand (docs/derivations.md).

For t = 1..T, with h_0 = 0 and f = tanh or the logistic sigmoid:

    a_t = W_e x_t + W_r h_{t-1} + b          (1)
    h_t = f(a_t)                  plain      (2)
    h_t = f(a_t) + h_{t-1}        skip       (2')
    s_t = W_u h_t + c                        (3)

Loss of example b: J_b = Σ_{t∈S} ℓ(s_{t,b}, y_{t,b}), S = every step ("all") or {T} ("last");
the batch objective is J = (1/B) Σ_b J_b.

Arrays are time-major and batched, vectors are rows: inputs (T, B) ids or (T, B, D),
pre-activations a (T, B, H), states h (T+1, B, H) with h[0] = h_0, scores (T, B, C).
So W x for a column vector x is written x @ W.T here. Only the recurrence runs step by
step; every other product is one matrix multiplication over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks, reference, selfcheck
from .functional import (
    activate,
    activation_grad,
    column_sums,
    input_weight_grad,
    loss_and_grad,
    norms,
)
from .init import RECURRENT_INITS, generator, init_params, sigma_max, spectral_radius
from .profile import Probe
from .workspace import Workspace, recent

PARAM_NAMES = ("W_e", "W_r", "b", "W_u", "c")


@dataclass
class Trace:
    """What the forward pass keeps for the backward pass."""

    inputs: np.ndarray  # (T, B) int ids or (T, B, D) floats
    a: np.ndarray  # (T, B, H) pre-activations a_1..a_T
    h: np.ndarray  # (T+1, B, H) states h_0..h_T


@dataclass
class LossAndGrads:
    """Result of RNN.loss_and_grads.

    loss:     J = (1/B) Σ_b J_b
    grads:    ∂J/∂θ for θ in W_e, W_r, b, W_u, c (same shapes as the parameters)
    dh_norms: (T,) float64, dh_norms[t-1] = (1/B) Σ_b ‖∂J_b/∂h_{t,b}‖₂, the total derivative
              through every later step (and the skip path); 0 only where it underflows float64
    scores:   s, (T, B, C) with loss_at="all" or (B, C) with "last"
    dx_norms: (T,) float64, (1/B) Σ_b ‖∂J_b/∂(W_e x_{t,b})‖₂ = (1/B) Σ_b ‖da_{t,b}‖, the gradient
              reaching the input projection at step t (compare Attention's ∂J/∂e_t)
    dh:       (T, B, H), row b of dh[t-1] = ∂J_b/∂h_{t,b}; only with per_example=True, else None
    """

    loss: float
    grads: dict[str, np.ndarray]
    dh_norms: np.ndarray
    scores: np.ndarray
    dx_norms: np.ndarray
    dh: np.ndarray | None = None


def forward(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    activation: str,
    skip: bool,
    h_shift: np.ndarray | None = None,
    ws: Workspace | None = None,
) -> Trace:
    """Run (1)-(2) over all steps. `h_shift` (T, B, H), if given, is added to each h_t as
    soon as it is computed: the derivative of J in that shift is ∂J/∂h_t."""
    w_e, w_r, b = params["W_e"], params["W_r"], params["b"]
    steps, batch = inputs.shape[:2]
    hidden = w_r.shape[0]
    if ws is None:
        ws = Workspace.new(steps, batch, hidden, w_r.dtype)
    a, h = ws.a, ws.h  # (T, B, H), (T+1, B, H)
    # a_t = W_e x_t + b for all steps at once; W_r h_{t-1} is added in the loop
    if inputs.ndim == 2:  # one-hot x_t: W_e x_t + b is column x_t of W_e + b1ᵀ (ids checked)
        np.take(w_e.T + b, inputs, axis=0, out=a, mode="clip")
    else:
        np.matmul(inputs.reshape(-1, w_e.shape[1]), w_e.T, out=a.reshape(-1, hidden))
        a += b
    h[0] = 0.0
    w_r_t = np.ascontiguousarray(w_r.T)  # h @ W_rᵀ without a transposed operand: ~8 % faster
    rec = np.empty_like(h[0])  # (B, H)
    for t in range(1, steps + 1):
        if t > 1:  # h_0 = 0 contributes nothing
            np.matmul(h[t - 1], w_r_t, out=rec)
            a[t - 1] += rec  # (1)
        activate(a[t - 1], activation, out=h[t])  # (2)
        if skip:
            h[t] += h[t - 1]  # (2')
        if h_shift is not None:
            h[t] += h_shift[t - 1]
    return Trace(inputs=inputs, a=a, h=h)


def output_scores(params: dict[str, np.ndarray], trace: Trace, loss_at: str) -> np.ndarray:
    """(3): s_t = W_u h_t + c for every step (T, B, C), or for the last one (B, C)."""
    w_u, c = params["W_u"], params["c"]
    if loss_at == "last":
        return trace.h[-1] @ w_u.T + c
    steps, batch, hidden = trace.a.shape
    s = trace.h[1:].reshape(-1, hidden) @ w_u.T  # one (T·B, H) x (H, C) product
    s += c
    return s.reshape(steps, batch, -1)


def backward(
    params: dict[str, np.ndarray],
    trace: Trace,
    ds: np.ndarray,
    activation: str,
    skip: bool,
    ws: Workspace | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """BPTT for the objective Σ_b J_b, given ds = ∂(Σ_b J_b)/∂s ((T, B, C) or (B, C)).

    Returns the parameter gradients and dh (T, B, H), dh[t-1] = ∂(Σ_b J_b)/∂h_t, whose row b
    is ∂J_b/∂h_{t,b}. The recurrence (docs/derivations.md, §4-§5):

        ∂J/∂h_t     = W_uᵀ ∂ℓ_t/∂s_t  [t ∈ S]  +  W_rᵀ da_{t+1}  [+ ∂J/∂h_{t+1} with skip]
        da_t        = f'(a_t) ∘ ∂J/∂h_t
    """
    w_r, w_u = params["W_r"], params["W_u"]
    a, h = trace.a, trace.h
    steps, batch, hidden = a.shape
    if ws is None:
        ws = Workspace.new(steps, batch, hidden, a.dtype)
    dh = ws.dh  # (T, B, H)
    grads = {}
    if ds.ndim == 3:  # loss at every step
        ds2 = ds.reshape(-1, ds.shape[-1])  # (T·B, C)
        grads["W_u"] = ds2.T @ h[1:].reshape(-1, hidden)  # Σ_t ds_t h_tᵀ
        grads["c"] = column_sums(ds2)
        np.matmul(ds2, w_u, out=dh.reshape(-1, hidden))  # the local terms W_uᵀ ds_t
    else:  # loss at step T only
        grads["W_u"] = ds.T @ h[-1]
        grads["c"] = ds.sum(axis=0)
        np.matmul(ds, w_u, out=dh[-1])
    da = activation_grad(a, activation, out=ws.da)  # (T, B, H) f'(a_t), made da_t in place
    rec = np.empty_like(h[0])  # (B, H)
    for t in range(steps, 0, -1):
        np.multiply(dh[t - 1], da[t - 1], out=da[t - 1])  # da_t = f'(a_t) ∘ ∂J/∂h_t
        if t == 1:
            break
        if ds.ndim == 3:
            np.matmul(da[t - 1], w_r, out=rec)
            dh[t - 2] += rec  # ∂J/∂h_{t-1} = local + W_rᵀ da_t
        else:
            np.matmul(da[t - 1], w_r, out=dh[t - 2])  # ∂J/∂h_{t-1} = W_rᵀ da_t
        if skip:
            dh[t - 2] += dh[t - 1]  # ... + ∂J/∂h_t through h_t = f(a_t) + h_{t-1}
    # Σ_t da_t h_{t-1}ᵀ; the t = 1 term has h_0 = 0
    grads["W_r"] = da[1:].reshape(-1, hidden).T @ h[1:-1].reshape(-1, hidden)
    grads["b"] = column_sums(da.reshape(-1, hidden))
    grads["W_e"] = input_weight_grad(trace.inputs, da, params["W_e"].shape[1])  # Σ_t da_t x_tᵀ
    return {name: grads[name] for name in PARAM_NAMES}, dh


class RNN:
    """Vanilla RNN with hand-derived BPTT and per-step gradient norms.

    Parameters
    ----------
    input_size, hidden_size, output_size : D, H, C.
    activation : "tanh" or "sigmoid".
    skip : use h_t = f(a_t) + h_{t-1} instead of h_t = f(a_t).
    seed : int or np.random.Generator for the initial parameters.
    dtype : "float64" (default: profiles reach 1e-30 and below) or "float32" (speed).
    recurrent_init, recurrent_scale : how W_r is drawn, see rnngrad.init.RECURRENT_INITS.

    `params` is a plain dict {W_e (H, D), W_r (H, H), b (H,), W_u (C, H), c (C,)}; its
    arrays may be modified or replaced between calls (they must stay finite).

    An instance keeps scratch arrays between calls (see Workspace): use one instance per
    thread.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        activation: str = "tanh",
        skip: bool = False,
        seed: int | np.random.Generator = 0,
        dtype: str = "float64",
        recurrent_init: str = "spectral_radius",
        recurrent_scale: float = 1.0,
    ) -> None:
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        self.output_size = checks.positive_int("output_size", output_size)
        self.activation = str(checks.choice("activation", activation, checks.ACTIVATIONS))
        self.skip = checks.boolean("skip", skip)
        self.dtype = str(checks.choice("dtype", dtype, checks.DTYPES))
        checks.choice("recurrent_init", recurrent_init, tuple(RECURRENT_INITS))
        scale = checks.positive_float("recurrent_scale", recurrent_scale)
        sizes = self.input_size, self.hidden_size, self.output_size
        self.params = init_params(*sizes, generator(seed), recurrent_init, scale, self.dtype)

    def __repr__(self) -> str:
        return (
            f"RNN(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, activation={self.activation!r}, "
            f"skip={self.skip}, dtype={self.dtype!r})"
        )

    def loss_and_grads(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        loss: str = "cross_entropy",
        loss_at: str = "all",
        per_example: bool = False,
    ) -> LossAndGrads:
        """J, ∂J/∂θ and the per-step profile (1/B) Σ_b ‖∂J_b/∂h_{t,b}‖ for one batch.

        inputs  : int (T, B) ids in [0, D), or float (T, B, D).
        targets : cross_entropy: int ids in [0, C), (T, B) for loss_at="all", (B,) for "last";
                  mse: float (T, B, C) or (B, C).
        per_example : also return dh, every example's ∂J_b/∂h_{t,b} (a copy, (T, B, H)).
        """
        params, x, y = self.check_batch(inputs, targets, loss, loss_at)
        return self._pass(params, x, y, loss, loss_at, per_example)[0]

    def _pass(self, params, x, y, loss: str, loss_at: str, per_example: bool):
        """loss_and_grads on a checked batch; also the forward pass's Trace (views of the
        workspace: valid until the next call with a batch of this shape)."""
        ws = self._workspace(x.shape[0], x.shape[1])
        trace = forward(params, x, self.activation, self.skip, ws=ws)
        s = output_scores(params, trace, loss_at)
        total, ds = loss_and_grad(s, y, loss)
        grads, dh = backward(params, trace, ds, self.activation, self.skip, ws=ws)
        batch = x.shape[1]
        for g in grads.values():
            g /= batch  # J = (1/B) Σ_b J_b
        dh_norms = norms(dh).mean(axis=1, dtype=np.float64)  # (T,)
        dx_norms = norms(ws.da).mean(axis=1, dtype=np.float64)  # da_t = ∂J_b/∂(W_e x_t)
        kept = dh.copy() if per_example else None
        return LossAndGrads(total / batch, grads, dh_norms, s, dx_norms, kept), trace

    def scores(self, inputs: np.ndarray, loss_at: str = "all") -> np.ndarray:
        """Output scores s: (T, B, C) for every step, or (B, C) for the last one."""
        checks.choice("loss_at", loss_at, checks.LOSS_AT)
        params = self._checked_params()
        x = checks.batch_inputs(inputs, self.input_size, self.dtype)
        trace = forward(params, x, self.activation, self.skip, ws=self._workspace(*x.shape[:2]))
        return output_scores(params, trace, loss_at)

    @property
    def label(self) -> str:
        """ "rnn tanh", "rnn sigmoid + skip", ...: the model's name in records and figures."""
        return f"rnn {self.activation}" + (" + skip" if self.skip else "")

    def diagnostics(self) -> dict[str, float]:
        """W_r's largest singular value and spectral radius, and Pascanu's per-step bound on
        the long-range profile, γ σ_max(W_r) (+ 1 with skip)."""
        w_r = self.params["W_r"].astype(np.float64)
        sigma = sigma_max(w_r)
        return {
            "sigma_max": sigma,
            "rho": spectral_radius(w_r),
            "bound": reference.pascanu_bound(sigma, self.activation, self.skip),
        }

    def probe(self, inputs, targets, loss: str, loss_at: str) -> Probe:
        """Profiles, state and self-check of one batch (rnngrad.profile). The reference runs
        on this pass's own forward states: the ones the model really goes through, which in
        a chaotic network a recomputation would not reproduce."""
        params, x, y = self.check_batch(inputs, targets, loss, loss_at)
        out, trace = self._pass(params, x, y, loss, loss_at, per_example=True)
        a, h = trace.a.copy(), trace.h.copy()  # the workspace is reused just below
        long = out.dh  # ∂ℓ_T/∂h_t: the same pass with the last step's loss alone
        if loss_at == "all":
            long = self._pass(params, x, y[-1], loss, "last", per_example=True)[0].dh
        ref = reference.rnn_reference(params, x, y, loss, loss_at, self.activation, self.skip, a, h)
        w_r = np.asarray(self.params["W_r"], dtype=np.float64)  # as diagnostics() reads it
        bound = reference.pascanu_bound(sigma_max(w_r), self.activation, self.skip)
        check = selfcheck.check_rnn(out, long, ref, self.dtype, bound)
        return Probe.of_rnn(ref, check, self.activation)

    def _workspace(self, steps: int, batch: int) -> Workspace:
        """Scratch arrays for this batch shape (see workspace.recent)."""
        cache = self.__dict__.setdefault("_workspaces", {})
        return recent(cache, steps, batch, self.hidden_size, self.dtype)

    # -- argument checks -------------------------------------------------------------------

    def check_batch(self, inputs, targets, loss: str, loss_at: str):
        """(params, inputs, targets) checked and cast, or a ValueError naming what is wrong."""
        x, y = checks.batch(
            inputs, targets, self.input_size, self.output_size, loss, loss_at, self.dtype
        )
        return self._checked_params(), x, y

    def _checked_params(self) -> dict[str, np.ndarray]:
        d, h, c = self.input_size, self.hidden_size, self.output_size
        shapes = {"W_e": (h, d), "W_r": (h, h), "b": (h,), "W_u": (c, h), "c": (c,)}
        return checks.param_dict(self.params, shapes, self.dtype)
