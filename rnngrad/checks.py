"""Argument checks for the engine's public functions.

Every failure is a ValueError that names the argument, what was expected and what was
given, so that no bare NumPy error (an IndexError from a bad id, a matmul shape mismatch)
ever escapes the API. A bad constructor or setting argument (of a model, a task, the
training Settings) is a BadValue, which also carries the parameter's name, the value and
what is allowed, so that a caller can attribute it without reading the message.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "relu")
LOSSES = ("cross_entropy", "mse")
LOSS_AT = ("all", "last")
DTYPES = ("float64", "float32")


class BadValue(ValueError):
    """A parameter's value is not allowed: str(err) is "<name>: <allowed>; got <value!r>"."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        super().__init__(f"{name}: {allowed}; got {value!r}")
        self.name, self.value, self.allowed = name, value, allowed


def integer_at_least(name: str, value: object, minimum: int, why: str = "") -> int:
    """An integer parameter >= `minimum` (bool is not one); `why` explains the bound."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        because = f" ({why})" if why else ""
        raise BadValue(name, value, f"expected an integer >= {minimum}{because}")
    return int(value)


def choice(name: str, value: object, allowed: Collection[str]) -> str:
    """Return `value` if it is one of `allowed`, else raise naming `name`."""
    if not isinstance(value, str) or value not in allowed:
        raise BadValue(name, value, f"expected one of {', '.join(map(repr, allowed))}")
    return value


def positive_int(name: str, value: object) -> int:
    return integer_at_least(name, value, 1)


def positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise BadValue(name, value, "expected a positive number")
    if not np.isfinite(value) or value <= 0:
        raise BadValue(name, value, "expected a positive finite number")
    return float(value)


def non_negative_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise BadValue(name, value, "expected a number >= 0")
    if not np.isfinite(value) or value < 0:
        raise BadValue(name, value, "expected a finite number >= 0")
    return float(value)


def leak(value: object, skip: bool) -> float:
    """The leak α of leaky-integrator units: 0 < α <= 1, and 1 with the skip connection."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise BadValue("leak", value, "expected a number in (0, 1]")
    if not 0 < value <= 1:
        raise BadValue("leak", value, "expected a number in (0, 1] (1: no leak)")
    if value != 1 and skip:
        raise BadValue(
            "leak",
            value,
            "expected 1 with skip=True (a leak < 1 and the skip "
            "connection are two different units; choose one)",
        )
    return float(value)


def fraction(name: str, value: object) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, float | int) or not 0 < value < 1:
        raise BadValue(name, value, "expected a number in (0, 1)")
    return float(value)


def boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise BadValue(name, value, "expected True or False")
    return bool(value)


def as_array(name: str, value: object) -> np.ndarray:
    if value is None or np.ma.isMaskedArray(value):
        what = "None" if value is None else "a masked array (its mask would be ignored)"
        raise ValueError(f"{name}: expected an int or float array; got {what}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged lists and the like
        raise ValueError(f"{name}: expected an array; got {type(value).__name__} ({err})") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected an int or float array; got dtype {array.dtype}")
    return array


def shape_str(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def expect_shape(name: str, array: np.ndarray, expected: tuple, what: str) -> None:
    """`expected` may hold None for a free dimension (at least 1)."""
    ok = array.ndim == len(expected) and all(
        (e is None and d >= 1) or d == e for d, e in zip(array.shape, expected, strict=True)
    )
    if not ok:
        want = shape_str(tuple("?" if e is None else e for e in expected))
        raise ValueError(
            f"{name}: expected {what} of shape {want}; got shape {shape_str(array.shape)}"
        )


def finite_as(name: str, array: np.ndarray, dtype: str) -> np.ndarray:
    """`array` cast to `dtype`, checked finite after the cast (1e300 is inf in float32)."""
    with np.errstate(over="ignore"):
        cast = array.astype(dtype, copy=False)
    if not np.isfinite(cast).all():
        bad = np.argwhere(~np.isfinite(cast))[0]
        raise ValueError(
            f"{name}: expected finite {dtype} values; got {array[tuple(bad)]} "
            f"at index {tuple(bad.tolist())}"
        )
    return cast


def float_arrays(name: str, arrays: object, writable: bool = False) -> dict[str, np.ndarray]:
    """A dict of real floating-point ndarrays (writable ones, if asked)."""
    if not isinstance(arrays, dict):
        raise ValueError(f"{name}: expected a dict of float arrays; got {type(arrays).__name__}")
    for key, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            kind = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"{name}[{key!r}]: expected a float ndarray; got {kind}")
        if writable and not a.flags.writeable:
            raise ValueError(f"{name}[{key!r}]: expected a writable array; got a read-only one")
    return arrays


def grads_of(params: object, grads: object, writable: bool = False) -> None:
    """Raise ValueError unless `grads` are float arrays (writable ones, if asked) with the
    keys and shapes of `params`, themselves writable float arrays."""
    float_arrays("params", params, writable=True)
    float_arrays("grads", grads, writable=writable)
    if set(params) != set(grads):
        raise ValueError(
            f"grads: expected the keys of params {sorted(params)}; got {sorted(grads)}"
        )
    for name, p in params.items():
        if np.shape(grads[name]) != np.shape(p):
            raise ValueError(
                f"grads[{name!r}]: expected shape {np.shape(p)}; got {np.shape(grads[name])}"
            )


def expect_ids(name: str, ids: np.ndarray, upper: int) -> None:
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= upper:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name}: expected ids in [0, {upper}); got {bad}")


def param_dict(params: object, shapes: dict[str, tuple], dtype: str) -> dict[str, np.ndarray]:
    """A model's parameter dict checked against its shapes, finite, cast to `dtype`."""
    if not isinstance(params, dict) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, dict) else type(params)
        raise ValueError(f"params: expected a dict with keys {list(shapes)}; got {got}")
    out = {}
    for name, shape in shapes.items():
        p = as_array(f"params[{name!r}]", params[name])
        expect_shape(f"params[{name!r}]", p, shape, "an array")
        out[name] = finite_as(f"params[{name!r}]", p, dtype)
    return out


def batch_inputs(inputs: object, input_size: int, dtype: str) -> np.ndarray:
    """Model inputs: int token ids (T, B) in [0, D), or finite floats (T, B, D)."""
    x = as_array("inputs", inputs)
    if x.dtype.kind in "iu":
        expect_shape("inputs", x, (None, None), "int token ids (T, B)")
        expect_ids("inputs", x, input_size)
        return x.astype(np.intp, copy=False)
    expect_shape("inputs", x, (None, None, input_size), "floats (T, B, D)")
    return finite_as("inputs", x, dtype)


def batch_targets(
    targets: object, tb: tuple[int, int], output_size: int, loss: str, loss_at: str, dtype: str
) -> np.ndarray:
    """Targets for `loss` at `loss_at`: int class ids (T, B) / (B,), or floats (T, B, C) /
    (B, C), for a batch of T steps and B sequences."""
    y = as_array("targets", targets)
    lead = tb if loss_at == "all" else tb[1:]
    if loss == "cross_entropy":
        if y.dtype.kind not in "iu":
            raise ValueError(
                f"targets: expected int class ids for loss='cross_entropy'; got dtype {y.dtype}"
            )
        expect_shape("targets", y, lead, f"class ids (loss_at={loss_at!r})")
        expect_ids("targets", y, output_size)
        return y.astype(np.intp, copy=False)
    expect_shape("targets", y, (*lead, output_size), f"floats (loss_at={loss_at!r})")
    return finite_as("targets", y, dtype)


def batch(
    inputs, targets, input_size: int, output_size: int, loss: str, loss_at: str, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of one batch, checked and cast, for any of the engine's models."""
    choice("loss", loss, LOSSES)
    choice("loss_at", loss_at, LOSS_AT)
    x = batch_inputs(inputs, input_size, dtype)
    return x, batch_targets(targets, x.shape[:2], output_size, loss, loss_at, dtype)
