"""The vanilla RNN (rnngrad.bptt holds its equations, forward pass and backpropagation
through time): parameters, the checked public API, Pascanu's regulariser, the diagnostics
and the probe of its gradient profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import bptt, checks, reference, selfcheck
from .bptt import PARAM_NAMES, Trace, backward, forward, output_scores
from .functional import loss_and_grad, norms
from .init import draw_params, generator, sigma_max, spectral_radius
from .profile import Probe
from .regulariser import vanishing_omega
from .workspace import Workspace, recent

__all__ = ["PARAM_NAMES", "RNN", "LossAndGrads", "Trace", "backward", "forward", "output_scores"]


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
    omega:    Pascanu's Ω (rnngrad.regulariser) when vanishing_reg > 0, else None; grads["W_r"]
              then includes vanishing_reg · ∂Ω/∂W_r, and `loss` is still J
    """

    loss: float
    grads: dict[str, np.ndarray]
    dh_norms: np.ndarray
    scores: np.ndarray
    dx_norms: np.ndarray
    dh: np.ndarray | None = None
    omega: float | None = None


class RNN:
    """Vanilla RNN with hand-derived BPTT and per-step gradient norms.

    Parameters
    ----------
    input_size, hidden_size, output_size : D, H, C.
    activation : "tanh", "sigmoid" or "relu" (with recurrent_init="identity": the IRNN).
    skip : use h_t = f(a_t) + h_{t-1} instead of h_t = f(a_t).
    seed : int or np.random.Generator for the initial parameters.
    dtype : "float64" (default: profiles reach 1e-30 and below) or "float32" (speed).
    recurrent_init, recurrent_scale : how W_r is drawn, see rnngrad.init.RECURRENT_INITS.
    leak : α in (0, 1], leaky-integrator units h_t = (1 - α) h_{t-1} + α f(a_t); 1 is the
        plain RNN; below 1 not with skip.
    init : "scaled" (the weights as rnngrad.init describes, W_r by recurrent_init) or one of
        Pascanu et al. 2013's "sigmoid", "basic_tanh", "smart_tanh" (rnngrad.init.INITS; these
        draw W_r themselves, so recurrent_init and recurrent_scale keep their defaults). The
        init does not choose the units: the authors pair "sigmoid" with activation="sigmoid".

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
        leak: float = 1.0,
        init: str = "scaled",
    ) -> None:
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        self.output_size = checks.positive_int("output_size", output_size)
        self.activation = str(checks.choice("activation", activation, checks.ACTIVATIONS))
        self.skip = checks.boolean("skip", skip)
        self.leak = checks.leak(leak, self.skip)
        self.dtype = str(checks.choice("dtype", dtype, checks.DTYPES))
        sizes = self.input_size, self.hidden_size, self.output_size
        self.params = draw_params(
            init, recurrent_init, recurrent_scale, sizes, generator(seed), self.dtype
        )

    def __repr__(self) -> str:
        return (
            f"RNN(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, activation={self.activation!r}, "
            f"skip={self.skip}, leak={self.leak}, dtype={self.dtype!r})"
        )

    def loss_and_grads(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        loss: str = "cross_entropy",
        loss_at: str = "all",
        per_example: bool = False,
        vanishing_reg: float = 0.0,
    ) -> LossAndGrads:
        """J, ∂J/∂θ and the per-step profile (1/B) Σ_b ‖∂J_b/∂h_{t,b}‖ for one batch.

        inputs  : int (T, B) ids in [0, D), or float (T, B, D).
        targets : cross_entropy: int ids in [0, C), (T, B) for loss_at="all", (B,) for "last";
                  mse: float (T, B, C) or (B, C).
        per_example : also return dh, every example's ∂J_b/∂h_{t,b} (a copy, (T, B, H)).
        vanishing_reg : λ >= 0; above 0, out.omega = Ω and grads["W_r"] += λ ∂Ω/∂W_r
                  (Pascanu et al. 2013's regulariser, rnngrad.regulariser).
        """
        reg = checks.non_negative_float("vanishing_reg", vanishing_reg)
        params, x, y = self.check_batch(inputs, targets, loss, loss_at)
        return self._pass(params, x, y, loss, loss_at, per_example, reg)[0]

    def _pass(self, params, x, y, loss: str, loss_at: str, per_example: bool, reg: float = 0.0):
        """loss_and_grads on a checked batch; also the forward pass's Trace (views of the
        workspace: valid until the next call with a batch of this shape)."""
        ws = self._workspace(x.shape[0], x.shape[1])
        cell = self.activation, self.skip
        trace = forward(params, x, *cell, ws=ws, leak=self.leak)
        s = output_scores(params, trace, loss_at)
        total, ds = loss_and_grad(s, y, loss)
        grads, dh = bptt.backward(params, trace, ds, *cell, ws=ws, leak=self.leak)
        batch = x.shape[1]
        for g in grads.values():
            g /= batch  # J = (1/B) Σ_b J_b
        omega = None
        if reg > 0:
            carry = reference.Cell(self.activation, self.skip, self.leak).carry
            omega, d_omega = vanishing_omega(params["W_r"], dh, ws.da, carry)  # ws.da: α f' ∘ δ
            grads["W_r"] += reg * d_omega
        dh_norms = norms(dh).mean(axis=1, dtype=np.float64)  # (T,)
        dx_norms = norms(ws.da).mean(axis=1, dtype=np.float64)  # da_t = ∂J_b/∂(W_e x_t)
        kept = dh.copy() if per_example else None
        out = LossAndGrads(total / batch, grads, dh_norms, s, dx_norms, kept, omega)
        return out, trace

    def scores(self, inputs: np.ndarray, loss_at: str = "all") -> np.ndarray:
        """Output scores s: (T, B, C) for every step, or (B, C) for the last one."""
        checks.choice("loss_at", loss_at, checks.LOSS_AT)
        params = self._checked_params()
        x = checks.batch_inputs(inputs, self.input_size, self.dtype)
        ws = self._workspace(*x.shape[:2])
        trace = forward(params, x, self.activation, self.skip, ws=ws, leak=self.leak)
        return output_scores(params, trace, loss_at)

    @property
    def label(self) -> str:
        """ "rnn tanh", "rnn sigmoid + skip", "rnn relu leak 0.5", ...: the model's name in
        records and figures."""
        extra = " + skip" if self.skip else (f" leak {self.leak:g}" if self.leak != 1 else "")
        return f"rnn {self.activation}{extra}"

    def diagnostics(self) -> dict[str, float]:
        """W_r's largest singular value and spectral radius, and Pascanu's per-step bound on
        the long-range profile, (1 - α) + α γ σ_max(W_r) (+ 1 with skip)."""
        w_r = self.params["W_r"].astype(np.float64)
        sigma = sigma_max(w_r)
        return {
            "sigma_max": sigma,
            "rho": spectral_radius(w_r),
            "bound": reference.pascanu_bound(sigma, self.activation, self.skip, self.leak),
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
        cell = reference.Cell(self.activation, self.skip, self.leak)
        ref = reference.rnn_reference(params, x, y, loss, loss_at, cell, a, h)
        w_r = np.asarray(self.params["W_r"], dtype=np.float64)  # as diagnostics() reads it
        bound = reference.pascanu_bound(sigma_max(w_r), *cell)
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
