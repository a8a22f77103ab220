"""Single-layer causal self-attention, with the same API shape as the RNN, and its backward
pass derived by hand (docs/derivations.md §9).

For positions t = 1..T of one sequence, d = model size:

    e_t = W_e x_t + P_t                          (1) P: fixed sinusoidal positions (below)
    q_t = W_q e_t,  k_t = W_k e_t,  v_t = W_v e_t (2)
    S_{t,j} = q_t · k_j / √d      for j <= t     (3) causal: later positions are masked out
    α_{t,j} = softmax_j S_{t,j}                  (4)
    z_t = Σ_{j<=t} α_{t,j} v_j                   (5)
    s_t = W_u z_t + c                            (6)

P_t is the sinusoidal encoding of Vaswani et al. 2017 (P_{t,2i} = sin(t/10000^{2i/d}),
P_{t,2i+1} = cos(...)): fixed, no parameters, defined for any T. The loss at step T reaches
every e_t through one softmax, whatever T − t is: no chain of Jacobians to vanish.

Arrays inside are batch-major: e, q, k, v, z (B, T, d), α (B, T, T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks, reference, selfcheck
from .functional import input_weight_grad, loss_and_grad, norms
from .init import attention_params, generator
from .profile import Probe

PARAM_NAMES = ("W_e", "W_q", "W_k", "W_v", "W_u", "c")


def positions(steps: int, size: int) -> np.ndarray:
    """Sinusoidal position encodings P (T, d)."""
    t = np.arange(1, steps + 1)[:, None]
    rate = 10000.0 ** (-(np.arange(size) // 2 * 2) / size)
    angle = t * rate[None, :]
    return np.where(np.arange(size) % 2 == 0, np.sin(angle), np.cos(angle))


@dataclass
class AttentionTrace:
    inputs: np.ndarray  # (T, B) ids or (T, B, D)
    e: np.ndarray  # (B, T, d)
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    alpha: np.ndarray  # (B, T, T), zero above the diagonal
    z: np.ndarray  # (B, T, d)


@dataclass
class AttentionLossAndGrads:
    """loss J = (1/B) Σ_b J_b; grads ∂J/∂θ; dx_norms (T,) = (1/B) Σ_b ‖∂J_b/∂e_{t,b}‖; scores;
    de (T, B, d), row b of de[t-1] = ∂J_b/∂e_{t,b}, only with per_example=True (else None)."""

    loss: float
    grads: dict[str, np.ndarray]
    dx_norms: np.ndarray
    scores: np.ndarray
    de: np.ndarray | None = None


def forward(params, inputs: np.ndarray, e_shift: np.ndarray | None = None) -> AttentionTrace:
    """(1)-(5). `e_shift` (B, T, d), if given, is added to e: J's derivative in it is ∂J/∂e."""
    w_e = params["W_e"]
    size = w_e.shape[0]
    if inputs.ndim == 2:  # one-hot: W_e x_t is column x_t of W_e
        e = np.ascontiguousarray(w_e.T)[inputs.T]  # (B, T, d)
    else:
        e = inputs.transpose(1, 0, 2) @ w_e.T
    e = e + positions(inputs.shape[0], size).astype(e.dtype)
    if e_shift is not None:
        e = e + e_shift
    q, k, v = e @ params["W_q"].T, e @ params["W_k"].T, e @ params["W_v"].T  # (2)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)  # (3) (B, T, T)
    future = np.triu(np.ones(scores.shape[1:], dtype=bool), k=1)
    scores[:, future] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    alpha = np.exp(scores)  # masked entries: exactly 0
    alpha /= alpha.sum(axis=-1, keepdims=True)  # (4)
    return AttentionTrace(inputs, e, q, k, v, alpha, alpha @ v)  # (5)


def output_scores(params, trace: AttentionTrace, loss_at: str) -> np.ndarray:
    """(6), time-major like the RNN: (T, B, C) for every step, or (B, C) for the last."""
    z = trace.z if loss_at == "all" else trace.z[:, -1]
    s = z @ params["W_u"].T + params["c"]
    return s.transpose(1, 0, 2) if loss_at == "all" else s


def backward(params, trace: AttentionTrace, ds: np.ndarray):
    """Gradients of Σ_b J_b from ds = ∂/∂s ((T, B, C) or (B, C)); also de (B, T, d).

    dz = ds W_u;  dV = αᵀ dz;  dα = dz Vᵀ;  dS = α ∘ (dα − rowsum(α ∘ dα)), each row's
    largest-α entry then set to minus the sum of the others (exact_dominant_entry)
    dQ = dS K / √d;  dK = dSᵀ Q / √d;  de = dQ W_q + dK W_k + dV W_v
    """
    size = trace.e.shape[-1]
    batch, steps = trace.e.shape[:2]
    ds_bt = (
        ds.transpose(1, 0, 2)
        if ds.ndim == 3
        else np.zeros((batch, steps, ds.shape[-1]), dtype=ds.dtype)
    )
    if ds.ndim == 2:
        ds_bt[:, -1] = ds  # loss at the last step only
    grads = {"W_u": np.einsum("btc,btd->cd", ds_bt, trace.z), "c": ds_bt.sum(axis=(0, 1))}
    dz = ds_bt @ params["W_u"]  # (B, T, d)
    dv = trace.alpha.transpose(0, 2, 1) @ dz
    dalpha = dz @ trace.v.transpose(0, 2, 1)  # (B, T, T)
    dscore = trace.alpha * (dalpha - (trace.alpha * dalpha).sum(axis=-1, keepdims=True))
    exact_dominant_entry(dscore, trace.alpha)
    dscore /= np.sqrt(size)  # masked entries stay 0: α is 0 there
    dq = dscore @ trace.k
    dk = dscore.transpose(0, 2, 1) @ trace.q
    for name, dproj, src in (("W_q", dq, trace.e), ("W_k", dk, trace.e), ("W_v", dv, trace.e)):
        grads[name] = np.einsum("btd,bte->de", dproj, src)
    de = dq @ params["W_q"] + dk @ params["W_k"] + dv @ params["W_v"]  # (B, T, d)
    x = trace.inputs.swapaxes(0, 1)  # batch-major, like de
    grads["W_e"] = input_weight_grad(x, de, params["W_e"].shape[1])
    return {name: grads[name] for name in PARAM_NAMES}, de


def exact_dominant_entry(dscore: np.ndarray, alpha: np.ndarray) -> None:
    """Each row of the softmax Jacobian product sums to zero. Its entry at the largest α,
    α_tk (dα_tk − c_t), cancels when α_tk ≈ 1 (c_t ≈ dα_tk); minus the sum of the row's other
    entries is the same number, without the cancellation. In place, row by row."""
    top = alpha.argmax(axis=-1)[..., None]
    np.put_along_axis(dscore, top, 0.0, axis=-1)
    np.put_along_axis(dscore, top, -dscore.sum(axis=-1, keepdims=True), axis=-1)


class Attention:
    """Causal self-attention with the RNN's API (rnngrad.model.Model): Attention(input_size,
    hidden_size (= d), output_size, seed, dtype); params {W_e (d, D), W_q, W_k, W_v (d, d),
    W_u (C, d), c (C,)}, drawn by rnngrad.init.attention_params; loss_and_grads -> loss,
    grads, dx_norms, scores."""

    label = "attention"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        seed: int | np.random.Generator = 0,
        dtype: str = "float64",
    ) -> None:
        self.input_size = checks.positive_int("input_size", input_size)
        self.hidden_size = checks.positive_int("hidden_size", hidden_size)
        self.output_size = checks.positive_int("output_size", output_size)
        self.dtype = str(checks.choice("dtype", dtype, checks.DTYPES))
        self.params = attention_params(
            self.input_size, self.hidden_size, self.output_size, generator(seed), self.dtype
        )

    def __repr__(self) -> str:
        return (
            f"Attention(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, dtype={self.dtype!r})"
        )

    def _checked_params(self) -> dict[str, np.ndarray]:
        d, size_in, c = self.hidden_size, self.input_size, self.output_size
        square = (d, d)
        shapes = {
            "W_e": (d, size_in),
            "W_q": square,
            "W_k": square,
            "W_v": square,
            "W_u": (c, d),
            "c": (c,),
        }
        return checks.param_dict(self.params, shapes, self.dtype)

    def check_batch(self, inputs, targets, loss: str, loss_at: str):
        x, y = checks.batch(
            inputs, targets, self.input_size, self.output_size, loss, loss_at, self.dtype
        )
        return self._checked_params(), x, y

    def loss_and_grads(
        self,
        inputs,
        targets,
        loss: str = "cross_entropy",
        loss_at: str = "all",
        per_example: bool = False,
    ) -> AttentionLossAndGrads:
        params, x, y = self.check_batch(inputs, targets, loss, loss_at)
        return self._pass(params, x, y, loss, loss_at, per_example)[0]

    def _pass(self, params, x, y, loss: str, loss_at: str, per_example: bool):
        """loss_and_grads on a checked batch; also the forward pass's AttentionTrace."""
        trace = forward(params, x)
        s = output_scores(params, trace, loss_at)
        total, ds = loss_and_grad(s, y, loss)
        grads, de = backward(params, trace, ds)
        batch = x.shape[1]
        for g in grads.values():
            g /= batch
        dx_norms = norms(de).mean(axis=0, dtype=np.float64)  # (T,)
        kept = de.transpose(1, 0, 2).copy() if per_example else None  # time-major, like the RNN
        return AttentionLossAndGrads(total / batch, grads, dx_norms, s, kept), trace

    def scores(self, inputs, loss_at: str = "all") -> np.ndarray:
        checks.choice("loss_at", loss_at, checks.LOSS_AT)
        x = checks.batch_inputs(inputs, self.input_size, self.dtype)
        params = self._checked_params()
        return output_scores(params, forward(params, x), loss_at)

    def diagnostics(self) -> dict[str, float]:
        """Nothing: no recurrent matrix, no per-step bound."""
        return {}

    def probe(self, inputs, targets, loss: str, loss_at: str) -> Probe:
        """Profiles and self-check of one batch (rnngrad.profile), over the input embeddings
        e_t; the reference runs on this pass's own projections q, k, v."""
        params, x, y = self.check_batch(inputs, targets, loss, loss_at)
        out, trace = self._pass(params, x, y, loss, loss_at, per_example=True)
        long = out.de  # ∂ℓ_T/∂e_t: the same pass with the last step's loss alone
        if loss_at == "all":
            long = self._pass(params, x, y[-1], loss, "last", per_example=True)[0].de
        ref = reference.attention_reference(params, x, y, loss, loss_at, trace.q, trace.k, trace.v)
        return Probe.of_attention(ref, selfcheck.check_attention(out.de, long, ref, self.dtype))
