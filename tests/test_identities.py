"""Each identity the original notes derive, checked on its own.

- softmax–cross-entropy: ∂(-log p_y)/∂s = p - onehot(y)
- Lemma 1 of the original notes: v = f(W h) ⇒ dh = Wᵀ(f'(Wh) ∘ dv), dW = (f'(Wh) ∘ dv) hᵀ
- tanh' = 1 - tanh², σ' = σ - σ²
- the backward recurrence ∂J/∂h_{t-1} = W_rᵀ diag(f'(a_t)) ∂J/∂h_t, and with the skip
  connection (W_rᵀ diag(f'(a_t)) + I) ∂J/∂h_t

Where the original notes slip on one of these, docs/derivations.md quotes their line.

Run: .venv/bin/pytest tests/test_identities.py
"""

import numpy as np
import pytest

from rnngrad import RNN
from rnngrad.bptt import backward, forward, output_scores
from rnngrad.functional import activate, activation_grad, cross_entropy, squared_error


def central_diff(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        g[i] = (plus - f(x)) / (2 * eps)
        x[i] = old
    return g


def test_softmax_cross_entropy_gradient_is_p_minus_y():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((5, 7)) * 3
    y = rng.integers(0, 7, size=5)
    _, ds = cross_entropy(s, y)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    onehot = np.eye(7)[y]
    np.testing.assert_allclose(ds, p - onehot, rtol=1e-12, atol=1e-15)
    num = central_diff(lambda z: cross_entropy(z, y)[0], s)
    np.testing.assert_allclose(num, p - onehot, rtol=1e-6, atol=1e-9)


def test_cross_entropy_is_stable_for_large_scores():
    s = np.array([[1000.0, 0.0, -1000.0]])
    loss, ds = cross_entropy(s, np.array([1]))
    assert loss == pytest.approx(1000.0)
    np.testing.assert_allclose(ds, [[1.0, -1.0, 0.0]], atol=1e-300)


def test_squared_error_gradient():
    rng = np.random.default_rng(1)
    s, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss, ds = squared_error(s, y)
    assert loss == pytest.approx(((s - y) ** 2).sum())
    np.testing.assert_allclose(ds, 2 * (s - y))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_lemma_1(activation):
    """v = f(W h) with ℓ = ⟨g, v⟩ (so dv = g): dh = Wᵀ(f'(Wh) ∘ dv), dW = (f'(Wh) ∘ dv) hᵀ."""
    rng = np.random.default_rng(2)
    w, h, dv = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(5)

    def ell(w_, h_):
        return float(dv @ activate(w_ @ h_, activation, out=np.empty(5)))

    fp = activation_grad(w @ h, activation)
    np.testing.assert_allclose(
        central_diff(lambda z: ell(w, z), h.copy()), w.T @ (fp * dv), rtol=1e-7
    )
    np.testing.assert_allclose(
        central_diff(lambda z: ell(z, h), w.copy()), np.outer(fp * dv, h), rtol=1e-7, atol=1e-10
    )


def test_activation_derivative_identities():
    a = np.linspace(-8, 8, 161)
    th = np.tanh(a)
    sg = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(activation_grad(a, "tanh"), 1 - th**2, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(activation_grad(a, "sigmoid"), sg - sg**2, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(activate(a, "sigmoid", out=np.empty_like(a)), sg, rtol=1e-15)
    eps = 1e-6
    for act in ("tanh", "sigmoid"):  # element-wise, so one vectorised central difference
        f_plus = activate(a + eps, act, out=np.empty_like(a))
        f_minus = activate(a - eps, act, out=np.empty_like(a))
        num = (f_plus - f_minus) / (2 * eps)
        np.testing.assert_allclose(
            activation_grad(a, act), num, rtol=1e-7, atol=1e-9
        )  # FD roundoff


def test_saturated_units_keep_their_derivative():
    """1 - tanh² rounds to exactly 0 at |a| = 30; the true value is 4e^{-60} ≈ 3.5e-26."""
    a = np.array([30.0, -30.0])
    assert np.all(1 - np.tanh(a) ** 2 == 0.0)
    np.testing.assert_allclose(activation_grad(a, "tanh"), 4 * np.exp(-60), rtol=1e-12)
    np.testing.assert_allclose(activation_grad(a, "sigmoid"), np.exp(-30), rtol=1e-12)
    assert np.all(activation_grad(np.array([800.0, -800.0]), "tanh") == 0.0)  # no warning, no NaN


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("skip", [False, True])
def test_backward_recurrence(activation, skip):
    """With the loss at the last step only, consecutive ∂J/∂h_t obey the recurrence
    of the original notes (docs/derivations.md §5, §6)."""
    rnn = RNN(3, 6, 2, activation=activation, skip=skip, seed=4, recurrent_scale=1.5)
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 3, size=(7, 2)), rng.integers(0, 2, size=2)
    trace = forward(rnn.params, x, activation, skip)
    _, ds = cross_entropy(output_scores(rnn.params, trace, "last"), y)
    _, dh = backward(rnn.params, trace, ds, activation, skip)
    w_r = rnn.params["W_r"]
    for t in range(7, 1, -1):  # 1-based t; dh[t-1] = ∂J/∂h_t
        for b in range(2):
            jac_t = w_r.T @ np.diag(activation_grad(trace.a[t - 1, b], activation))
            if skip:
                jac_t = jac_t + np.eye(6)
            np.testing.assert_allclose(dh[t - 2, b], jac_t @ dh[t - 1, b], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("offset", [0.0, 800.0, -800.0, 1e5])
def test_cross_entropy_is_exact_far_from_zero(offset):
    """Shifting every score of a row by the same amount changes nothing, even where e^{s}
    overflows or underflows (those rows take the max-shifted path)."""
    rng = np.random.default_rng(3)
    s = rng.standard_normal((6, 5)) * 4
    y = rng.integers(0, 5, size=6)
    base_loss, base_ds = cross_entropy(s, y)
    s_far = s.copy()
    s_far[::2] += offset  # only some rows move: both paths in one call
    loss, ds = cross_entropy(s_far, y)
    assert loss == pytest.approx(base_loss, rel=1e-12 if abs(offset) < 1e4 else 1e-9)
    np.testing.assert_allclose(ds, base_ds, rtol=1e-9, atol=1e-12)


def test_cross_entropy_of_confident_and_far_rows():
    """Cases where a shortcut loses digits (found in review): p_y − 1 for a confident row,
    a single class, and a row whose largest score underflows without the shift."""
    loss, ds = cross_entropy(np.array([[40.0, 0.0, 0.0]]), np.array([0]))
    tiny = 2 * np.exp(-40.0)
    assert ds[0, 0] == pytest.approx(-tiny / (1 + tiny), rel=1e-14) and ds[0, 0] < 0
    assert loss == pytest.approx(np.log1p(tiny), rel=1e-14)
    loss, ds = cross_entropy(np.array([[3.0], [-2.0]]), np.array([0, 0]))  # C = 1
    assert loss == 0.0 and np.all(ds == 0.0)
    loss, ds = cross_entropy(np.array([[-650.0, -750.0]]), np.array([0]))
    np.testing.assert_allclose(ds, [[-np.exp(-100.0), np.exp(-100.0)]], rtol=1e-13)
    assert loss == pytest.approx(np.exp(-100.0), rel=1e-13)


def test_derivatives_and_norms_raise_no_warnings_at_extremes():
    """Overflow is the limit here (f' → 0, ‖inf‖ = inf), never a RuntimeWarning or NaN."""
    import warnings

    from rnngrad.functional import norms

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float64, np.float32):
            a = np.array([0.0, 50.0, -400.0, 800.0], dtype=dtype)
            for act in ("tanh", "sigmoid"):
                fp = activation_grad(a, act)
                assert np.all(np.isfinite(fp)) and np.all(fp[1:] < 1e-20)
        rows = np.array([[np.inf, 1.0], [1e300, 1e300], [3e-200, 4e-200]])
        np.testing.assert_allclose(norms(rows), [np.inf, np.sqrt(2) * 1e300, 5e-200], rtol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_lemma_2(activation):
    """Lemma 2 of the original notes: s = u ∘ f(v) ⇒ du = f(v) ∘ ds, dv = f'(v) ∘ u ∘ ds
    (Corollary 2: f = id)."""
    rng = np.random.default_rng(8)
    u, v, ds = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)

    def ell(u_, v_):
        return float(ds @ (u_ * activate(v_, activation, out=np.empty(5))))

    fv = activate(v, activation, out=np.empty(5))
    np.testing.assert_allclose(central_diff(lambda z: ell(z, v), u.copy()), fv * ds, rtol=1e-8)
    expected = activation_grad(v, activation) * u * ds
    np.testing.assert_allclose(central_diff(lambda z: ell(u, z), v.copy()), expected, rtol=1e-7)
    # Corollary 2, f = identity: ℓ = ⟨ds, u ∘ v⟩
    num_u = central_diff(lambda z: float(ds @ (z * v)), u.copy())
    np.testing.assert_allclose(num_u, v * ds, rtol=1e-8)


def test_input_gradient():
    """As the original notes' backward pass has it: ∂J/∂x_t = W_eᵀ da_t, checked by perturbing
    dense inputs."""
    rnn = RNN(3, 5, 2, seed=6, recurrent_scale=1.3)
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((4, 2, 3)), rng.integers(0, 2, size=(4, 2))
    trace = forward(rnn.params, x, "tanh", False)
    _, ds = cross_entropy(output_scores(rnn.params, trace, "all"), y)

    def total_loss(z):
        return cross_entropy(
            output_scores(rnn.params, forward(rnn.params, z, "tanh", False), "all"), y
        )[0]

    _, dh = backward(rnn.params, trace, ds, "tanh", False)
    da = activation_grad(trace.a, "tanh") * dh  # da_t = f'(a_t) ∘ ∂J/∂h_t
    num = central_diff(total_loss, x.copy())
    np.testing.assert_allclose(num, da @ rnn.params["W_e"], rtol=1e-6, atol=1e-9)
