"""Central finite differences, shared by the gradient checks."""

import numpy as np

EPS = 1e-6


def numeric_grad(f, array: np.ndarray, eps: float = EPS) -> np.ndarray:
    """∂f/∂array by central differences, perturbing `array` in place (restored after)."""
    grad = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + eps
        plus = f()
        array[idx] = old - eps
        minus = f()
        array[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def rel_err(num: np.ndarray, ana: np.ndarray) -> float:
    """‖num − ana‖ / max(‖num‖, ‖ana‖): a relative error that ignores tiny entries."""
    scale = max(np.linalg.norm(num), np.linalg.norm(ana), 1e-12)
    return float(np.linalg.norm(num - ana) / scale)
