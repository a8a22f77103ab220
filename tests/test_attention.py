"""The causal self-attention model (rnngrad/attention.py): finite differences for every
parameter and for the per-position profile ∂J/∂e_t, in every loss variant; the original
notes' element-wise ∂Y_ij/∂K_kl against the matrix form (and where the note's line goes wrong);
causal masking (a step's loss sends exactly zero gradient to later inputs); bad input.

Run: .venv/bin/pytest tests/test_attention.py
"""

import itertools

import numpy as np
import pytest
from fd import EPS, numeric_grad, rel_err

from rnngrad.attention import Attention, backward, forward, output_scores
from rnngrad.functional import cross_entropy, loss_and_grad

D, H, C = 3, 4, 3


def batch(rng, steps, size, loss, loss_at, kind):
    x = (
        rng.integers(0, D, (steps, size))
        if kind == "ids"
        else rng.standard_normal((steps, size, D))
    )
    lead = (steps, size) if loss_at == "all" else (size,)
    y = rng.integers(0, C, lead) if loss == "cross_entropy" else rng.standard_normal((*lead, C))
    return x, y


def objective(model, x, y, loss, loss_at, e_shift=None):
    trace = forward(model.params, x, e_shift=e_shift)
    s = output_scores(model.params, trace, loss_at)
    return loss_and_grad(s, y, loss)[0] / x.shape[1]


CASES = list(
    itertools.product(
        ["cross_entropy", "mse"], ["all", "last"], ["ids", "dense"], [(1, 1), (4, 2), (3, 1)]
    )
)


@pytest.mark.parametrize("loss,loss_at,kind,tb", CASES)
def test_parameter_and_position_gradients(loss, loss_at, kind, tb):
    model = Attention(D, H, C, seed=1)
    model.params["c"][:] = [0.1, -0.2, 0.3]
    x, y = batch(np.random.default_rng(2), *tb, loss, loss_at, kind)
    out = model.loss_and_grads(x, y, loss=loss, loss_at=loss_at)
    assert out.loss == pytest.approx(objective(model, x, y, loss, loss_at), rel=1e-13)
    for name, p in model.params.items():
        num = numeric_grad(lambda: objective(model, x, y, loss, loss_at), p)
        assert rel_err(num, out.grads[name]) < 1e-6, name
    steps, size = tb
    shift = np.zeros((size, steps, H))
    num = numeric_grad(lambda: objective(model, x, y, loss, loss_at, e_shift=shift), shift) * size
    expected = np.linalg.norm(num, axis=-1).mean(axis=0)  # (1/B) Σ_b ‖∂J_b/∂e_t‖
    np.testing.assert_allclose(out.dx_norms, expected, rtol=1e-6, atol=1e-12)


def test_the_original_notes_elementwise_formula_against_the_matrix_form():
    """Y = softmax(QKᵀ)V. Element-wise: ∂Y_ij/∂K_kl = α_ik Q_il (V_kj − Y_ij).
    The original notes write Σ_q V_qj (α_iq Q_il [q=k] − α_iq α_il Q_il): α_il where α_ik is meant."""
    rng = np.random.default_rng(3)
    n, m, dv = 4, 3, 2
    q, k, v = rng.standard_normal((n, m)), rng.standard_normal((n, m)), rng.standard_normal((n, dv))

    def y_of(kk):
        s = q @ kk.T
        a = np.exp(s - s.max(axis=1, keepdims=True))
        return a / a.sum(axis=1, keepdims=True) @ v, a / a.sum(axis=1, keepdims=True)

    y, alpha = y_of(k)
    formula = np.einsum("ik,il,kj->ijkl", alpha, q, v) - np.einsum("ik,il,ij->ijkl", alpha, q, y)
    # the note's line: Σ_q V_qj (α_iq Q_il [q=k] − α_iq α_il Q_il) = α_ik Q_il V_kj − α_il Q_il Y_ij
    # (α_il mixes a key position with a feature index: it only typechecks because m <= n)
    seed = (
        np.einsum("ik,il,kj->ijkl", alpha, q, v)
        - np.einsum("il,il,ij->ijl", alpha[:, :m], q, y)[:, :, None, :]
    )
    fd = np.zeros((n, dv, n, m))
    for kk_, ll in np.ndindex(n, m):
        plus, minus = k.copy(), k.copy()
        plus[kk_, ll] += EPS
        minus[kk_, ll] -= EPS
        fd[:, :, kk_, ll] = (y_of(plus)[0] - y_of(minus)[0]) / (2 * EPS)
    np.testing.assert_allclose(formula, fd, atol=1e-8)
    # the matrix form of the engine: for ℓ = ⟨G, Y⟩, dS = α ∘ (dα − rowsum(α ∘ dα)), dK = dSᵀ Q
    for i, j in np.ndindex(n, dv):
        g = np.zeros((n, dv))
        g[i, j] = 1.0
        dalpha = g @ v.T
        ds = alpha * (dalpha - (alpha * dalpha).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(ds.T @ q, formula[i, j], atol=1e-12)
    assert not np.allclose(seed, fd, atol=1e-3)  # the handwritten line is wrong


def test_causal_masking_sends_no_gradient_to_later_inputs():
    model = Attention(D, H, C, seed=4)
    rng = np.random.default_rng(5)
    x, y = batch(rng, 6, 2, "cross_entropy", "all", "ids")
    trace = forward(model.params, x)
    _, ds = cross_entropy(output_scores(model.params, trace, "all"), y)
    for t in range(6):
        only = np.zeros_like(ds)
        only[t] = ds[t]  # the loss of step t alone
        _, de = backward(model.params, trace, only)
        assert np.all(de[:, t + 1 :] == 0.0)  # exactly zero for every later position
        assert np.all(np.linalg.norm(de[:, : t + 1], axis=-1) > 0)


def test_the_last_loss_reaches_every_position_in_one_hop():
    """No chain of Jacobians: at T = 200 the first input still gets a gradient of the same
    order as the last (an RNN's would have vanished)."""
    model = Attention(6, 16, 4, seed=0)
    rng = np.random.default_rng(6)
    out = model.loss_and_grads(rng.integers(0, 6, (200, 8)), rng.integers(0, 4, 8), loss_at="last")
    assert out.dx_norms[0] > 1e-4 * out.dx_norms[-1]


def test_bad_input_is_a_named_value_error():
    model = Attention(D, H, C)
    with pytest.raises(ValueError, match="inputs: expected ids in"):
        model.loss_and_grads(np.full((3, 2), D), np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="targets: expected int class ids"):
        model.loss_and_grads(np.zeros((3, 2), dtype=int), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="loss_at: expected one of"):
        model.scores(np.zeros((3, 2), dtype=int), loss_at="first")
    model.params["W_q"] = np.zeros((H, H + 1))
    with pytest.raises(ValueError, match=r"params\['W_q'\]"):
        model.loss_and_grads(np.zeros((3, 2), dtype=int), np.zeros((3, 2), dtype=int))
