"""The tasks: batches in the engine's formats, labels that match hand-checked sequences,
determinism, the documented no-learning baselines, clear errors for bad parameters, and
learnability (a small tanh RNN trained with SGD beats the baseline), which proves that task
and engine fit together.

Run: .venv/bin/pytest tests/test_tasks.py
"""

import inspect
import math

import numpy as np
import pytest

from rnngrad import RNN, clip_grad_norm, sgd_step
from rnngrad.checks import BadValue
from rnngrad.tasks import TASKS, make_task, streams
from rnngrad.tasks.digits import load_images
from rnngrad.tasks.text import load_corpus

CASES = [
    ("temporal_order", dict(T=10), 10),
    ("temporal_order", dict(T=57), 57),
    ("adding", dict(T=10), 10),
    ("adding", dict(T=33), 33),
    ("permutation", dict(T=2), 2),
    ("permutation", dict(T=40), 40),
    ("copy_memory", dict(T=1), 21),
    ("copy_memory", dict(T=30), 50),
    ("digits", dict(mode="row"), 8),
    ("digits", dict(mode="pixel", delay=5), 69),
    ("digits", dict(mode="permuted", delay=2), 66),
    ("text", dict(T=1), 1),
    ("text", dict(T=25), 25),
]


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name,params,seq_len", CASES)
@pytest.mark.parametrize("batch_size", [1, 7])
def test_batches_have_the_engines_formats(name, params, seq_len, batch_size):
    task = make_task(name, **params)
    x, y = task.batch(rng(), batch_size)
    assert task.seq_len == seq_len
    if x.ndim == 2:  # token ids
        assert x.shape == (seq_len, batch_size) and x.dtype.kind == "i"
        assert 0 <= x.min() and x.max() < task.input_size
    else:
        assert x.shape == (seq_len, batch_size, task.input_size) and x.dtype == np.float64
    lead = (seq_len, batch_size) if task.loss_at == "all" else (batch_size,)
    if task.loss == "cross_entropy":
        assert y.shape == lead and y.dtype.kind == "i"
        assert 0 <= y.min() and y.max() < task.output_size
    else:
        assert y.shape == (*lead, task.output_size) and y.dtype == np.float64
    rnn = RNN(task.input_size, 4, task.output_size)  # the engine accepts the batch as it is
    out = rnn.loss_and_grads(x, y, loss=task.loss, loss_at=task.loss_at)
    assert np.isfinite(out.loss) and out.dh_norms.shape == (seq_len,)
    assert set(task.metrics(out.scores, y)) == set(task.baseline())


@pytest.mark.parametrize("T", [10, 19, 20, 100])
def test_temporal_order_positions_and_labels(T):
    task = make_task("temporal_order", T=T)
    x, y = task.batch(rng(1), 500)
    tenth, half = T // 10, T // 2
    for b in range(500):
        marked = np.flatnonzero(x[:, b] < 2)  # A = 0, B = 1; distractors are 2..5
        assert len(marked) == 2
        p0, p1 = marked
        assert tenth <= p0 < 2 * tenth and half <= p1 < half + tenth
        assert y[b] == x[p0, b] + 2 * x[p1, b]
    assert set(np.unique(x[x >= 2])) == {2, 3, 4, 5}
    assert set(np.unique(y)) == {0, 1, 2, 3}


@pytest.mark.parametrize("T", [10, 50])
def test_adding_target_is_the_mean_of_the_marked_values(T):
    task = make_task("adding", T=T)
    x, y = task.batch(rng(2), 300)
    for b in range(300):
        p0, p1 = np.flatnonzero(x[:, b, 0])
        assert 0 <= p0 < T // 10 <= p1 < T // 2
        assert y[b, 0] == pytest.approx((x[p0, b, 1] + x[p1, b, 1]) / 2, abs=1e-15)
    assert set(np.unique(x[:, :, 0])) == {0.0, 1.0}
    assert 0 <= x[:, :, 1].min() and x[:, :, 1].max() < 1


def test_permutation_target_is_the_first_symbol():
    x, y = make_task("permutation", T=30).batch(rng(3), 400)
    np.testing.assert_array_equal(y, x[0])
    assert set(np.unique(y)) == {0, 1}
    assert x[1:].min() >= 2 and x[1:].max() == 99


def test_copy_memory_target_is_blanks_then_the_data():
    T = 7
    x, y = make_task("copy_memory", T=T).batch(rng(4), 50)
    data = x[:10]
    assert data.min() >= 1 and data.max() <= 8
    np.testing.assert_array_equal(x[10 : 10 + T - 1], 0)  # T - 1 blanks
    np.testing.assert_array_equal(x[10 + T - 1], 9)  # the delimiter
    np.testing.assert_array_equal(x[10 + T :], 0)  # 10 blanks
    np.testing.assert_array_equal(y[: T + 10], 0)
    np.testing.assert_array_equal(y[T + 10 :], data)


def test_digits_rows_pixels_permutation_delay_and_split():
    images, labels = load_images()
    assert images.shape == (1797, 64) and images.min() == 0 and images.max() == 1
    row = make_task("digits", mode="row", delay=3)
    x, y = row.validation_set(rng(), 0)
    index = row.split["valid"]
    np.testing.assert_array_equal(x[:8].transpose(1, 0, 2), images[index].reshape(-1, 8, 8))
    np.testing.assert_array_equal(x[8:], 0)  # the delay steps are blank
    np.testing.assert_array_equal(y, labels[index])
    assert len(row.split["train"]) == 1438 and len(row.split["valid"]) == 359
    assert not set(row.split["train"]) & set(row.split["valid"])
    pixel = make_task("digits", mode="pixel")
    xp, _ = pixel.validation_set(rng(), 0)
    np.testing.assert_array_equal(xp[:, :, 0].T, images[index])
    permuted = make_task("digits", mode="permuted")
    xq, _ = permuted.validation_set(rng(), 0)
    np.testing.assert_array_equal(xq[:, :, 0].T, images[index][:, permuted.pixel_order])
    assert not np.array_equal(permuted.pixel_order, np.arange(64))
    xb, _yb = row.batch(rng(5), 64)  # training batches come from the training split only
    train_rows = {tuple(images[i]) for i in row.split["train"]}
    assert all(tuple(xb[:8, b].ravel()) in train_rows for b in range(64))


def test_text_windows_shift_by_one_and_respect_the_split():
    task = make_task("text", T=30)
    corpus = load_corpus()
    assert len(corpus) > 400_000 and task.input_size == len(set(corpus))
    x, y = task.batch(rng(6), 20)
    for b in range(20):
        window = task.decode(x[:, b]) + task.decode(y[-1, b])
        assert window in corpus[: len(task.split["train"])]
        assert task.decode(x[1:, b]) == task.decode(y[:-1, b])
    xv, _yv = task.batch(rng(6), 20, split="valid")
    valid_text = corpus[len(task.split["train"]) :]
    assert all(task.decode(xv[:, b]) in valid_text for b in range(20))


@pytest.mark.parametrize("name,params,seq_len", CASES)
def test_same_seed_same_batch_and_streams_are_independent(name, params, seq_len):
    task = make_task(name, **params)
    a, b, c = task.batch(rng(9), 16), task.batch(rng(9), 16), task.batch(rng(10), 16)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(u, v) for u, v in zip(a, c, strict=True))
    train, valid = streams(0)
    t, v = task.batch(train, 16), task.batch(valid, 16)
    assert not all(np.array_equal(p, q) for p, q in zip(t, v, strict=True))


def uniform_scores(task, batch_size):
    """Equal scores for every class at the last step: a uniform prediction."""
    return np.zeros((batch_size, task.output_size))


@pytest.mark.parametrize("name", ["temporal_order", "digits"])
def test_uniform_prediction_scores_the_classification_baseline(name):
    task = make_task(name)
    _x, y = task.validation_set(rng(11), 4000)
    got, base = task.metrics(uniform_scores(task, len(y)), y), task.baseline()
    assert got["loss"] == pytest.approx(base["loss"], rel=1e-12)  # ln 4, ln 10
    assert got["accuracy"] == pytest.approx(base["accuracy"], abs=0.04)  # argmax = class 0


def test_predicting_the_mean_scores_the_adding_baseline():
    task = make_task("adding", T=20)
    _, y = task.batch(rng(12), 40_000)
    got = task.metrics(np.full_like(y, 0.5), y)
    assert got["mse"] == pytest.approx(1 / 24, rel=0.02)  # sd of the estimate ~0.5 %
    assert got["error"] == pytest.approx(0.36, abs=0.01)


def test_guessing_between_the_two_bits_scores_the_permutation_baseline():
    task = make_task("permutation", T=5)
    _, y = task.batch(rng(13), 4000)
    scores = np.full((4000, 100), -50.0)
    scores[:, :2] = 0.0
    got = task.metrics(scores, y)
    assert got["loss"] == pytest.approx(math.log(2), rel=1e-9)
    assert got["accuracy"] == pytest.approx(0.5, abs=0.03)


def test_the_memoryless_strategy_scores_the_copy_memory_baseline():
    T = 15
    task = make_task("copy_memory", T=T)
    _, y = task.batch(rng(14), 2000)
    scores = np.full((T + 20, 2000, 10), -60.0)
    scores[: T + 10, :, 0] = 0.0  # certain of a blank
    scores[T + 10 :, :, 1:9] = 0.0  # then uniform over the 8 data symbols
    got, base = task.metrics(scores, y), task.baseline()
    assert got["loss"] == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-9)
    assert base["loss"] == pytest.approx(got["loss"], rel=1e-9)
    assert got["accuracy"] == pytest.approx(base["accuracy"], abs=0.01)
    assert got["sequence_accuracy"] == 0.0


def test_the_text_baseline_is_scored_on_the_validation_text():
    """The unigram model of the training text, scored where the metrics are scored: on
    validation windows (exactly, given their targets) and on the whole validation text."""
    task = make_task("text", T=100)
    counts = np.bincount(task.split["train"], minlength=task.output_size)
    assert counts.min() > 0  # every character occurs in the training text: no log 0
    logp = np.log(counts / counts.sum())
    _x, y = task.validation_set(rng(15), 200)
    got = task.metrics(np.broadcast_to(logp, (*y.shape, task.output_size)), y)
    scored = task.baseline(y)
    assert scored["bpc"] == pytest.approx(got["bpc"], rel=1e-12)
    assert scored["accuracy"] == pytest.approx(got["accuracy"], rel=1e-12)  # argmax is unique
    whole = task.baseline()
    valid = task.split["valid"][1:]
    assert whole["bpc"] == pytest.approx(-logp[valid].mean() / math.log(2), rel=1e-12)
    train_entropy = -(counts / counts.sum() * logp).sum() / math.log(2)
    assert abs(whole["bpc"] - train_entropy) > 0.01  # not the training text's entropy
    assert whole["accuracy"] > (counts / counts.sum()).max() + 0.05  # nor its frequencies


@pytest.mark.parametrize("name", ["temporal_order", "permutation", "copy_memory", "digits"])
def test_a_baseline_that_does_not_depend_on_the_data_is_the_same_on_any_targets(name):
    task = make_task(name)
    _x, y = task.validation_set(rng(16), 64)
    assert task.baseline(y) == task.baseline()


def test_the_adding_baseline_on_given_targets_is_the_mean_prediction_scored_there():
    task = make_task("adding", T=20)
    _, y = task.validation_set(rng(17), 300)
    assert task.baseline(y) == task.metrics(np.full_like(y, 0.5), y)
    assert task.baseline(y)["mse"] != task.baseline()["mse"]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_names_its_primary_metric_and_its_direction(name):
    task = make_task(name)
    assert task.metric in task.baseline()
    assert isinstance(task.higher_is_better, bool)


BAD = [
    (lambda: make_task("temporal_order", T=9), "T: expected an integer >= 10"),
    (lambda: make_task("adding", T=5), "T: expected an integer >= 10"),
    (lambda: make_task("permutation", T=1), "T: expected an integer >= 2"),
    (lambda: make_task("copy_memory", T=0), "T: expected an integer >= 1"),
    (lambda: make_task("text", T=10**7), "T: expected at most"),
    (lambda: make_task("digits", delay=-1), "delay: expected an integer >= 0"),
    (
        lambda: make_task("digits", mode="column"),
        "mode: expected one of 'row', 'pixel', 'permuted'",
    ),
    (
        lambda: make_task("digits", valid_fraction=1.5),
        "valid_fraction: expected a number in (0, 1)",
    ),
    (lambda: make_task("mnist"), "task: expected one of 'temporal_order', 'adding'"),
    (
        lambda: make_task("permutation", length=5),
        "length: not a parameter of task 'permutation' (its parameters: T)",
    ),
    (lambda: make_task("permutation").batch(rng(), 0), "batch_size: expected an integer >= 1"),
    (lambda: make_task("permutation").batch(rng(), 4, split="test"), "split: expected one of"),
    (lambda: make_task("permutation").batch(0, 4), "rng: expected a np.random.Generator"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_parameters_raise_a_clear_value_error(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


BAD_VALUES = [  # (task, parameters, the parameter named, the exact message)
    (
        "temporal_order",
        dict(T=9),
        "T",
        "T: expected an integer >= 10 (positions need ⌊0.1T⌋ >= 1); got 9",
    ),
    ("adding", dict(T=10.0), "T", "T: expected an integer >= 10 (p0 needs ⌊0.1T⌋ >= 1); got 10.0"),
    (
        "permutation",
        dict(T=True),
        "T",
        "T: expected an integer >= 2 (the bit and at least one distractor); got True",
    ),
    (
        "copy_memory",
        dict(T=-3),
        "T",
        "T: expected an integer >= 1 (the delay before the delimiter); got -3",
    ),
    ("text", dict(T=10**7), "T", None),
    (
        "text",
        dict(valid_fraction=0),
        "valid_fraction",
        "valid_fraction: expected a number in (0, 1); got 0",
    ),
    (
        "digits",
        dict(mode="column"),
        "mode",
        "mode: expected one of 'row', 'pixel', 'permuted'; got 'column'",
    ),
    ("digits", dict(delay=-1), "delay", None),
    ("digits", dict(valid_fraction=1.5), "valid_fraction", None),
    ("digits", dict(split_seed=-1), "split_seed", "split_seed: expected an integer >= 0; got -1"),
    ("digits", dict(permutation_seed=0.5), "permutation_seed", None),
    (
        "permutation",
        dict(length=5),
        "length",
        "length: not a parameter of task 'permutation' (its parameters: T); got 5",
    ),
    (
        "mnist",
        {},
        "task",
        "task: expected one of 'temporal_order', 'adding', 'permutation', 'copy_memory', 'digits', 'text'; got 'mnist'",
    ),
]


@pytest.mark.parametrize("name,params,param,message", BAD_VALUES)
def test_bad_values_name_their_parameter(name, params, param, message):
    """make_task and every task constructor raise BadValue, whose `name` is the parameter (so
    a caller attributes it without reading the message) and `value` what was given."""
    with pytest.raises(BadValue) as err:
        make_task(name, **params)
    assert err.value.name == param
    assert err.value.value == (params[param] if param in params else name)
    assert message is None or str(err.value) == message


def test_every_constructor_parameter_has_a_default():
    """The constructors are the single source of the defaults: the config's task schema is
    generated from them (tests/test_config.py), so each parameter needs one."""
    for name, cls in TASKS.items():
        defaults = {p.name: p.default for p in inspect.signature(cls).parameters.values()}
        assert inspect.Parameter.empty not in defaults.values(), name


def test_the_shipped_digits_are_scikit_learns():
    from sklearn.datasets import load_digits  # installed with mlflow; the package needs it not

    data = load_digits()
    images, labels = load_images()
    np.testing.assert_array_equal(images, data.data / 16.0)
    np.testing.assert_array_equal(labels, data.target)


def test_every_task_documents_itself():
    for cls in TASKS.values():
        assert len(cls.__doc__) > 200  # a prose definition, as in Pascanu's generators


# -- learnability ------------------------------------------------------------------------


def train(task, steps, lr, hidden=32, batch=32, seed=0):
    """Plain SGD with clipping at 1; returns validation metrics before and after."""
    train_rng, valid_rng = streams(seed)
    rnn = RNN(task.input_size, hidden, task.output_size, seed=seed)
    vx, vy = task.validation_set(valid_rng, 500)
    before = task.metrics(rnn.scores(vx, task.loss_at), vy)
    for _ in range(steps):
        x, y = task.batch(train_rng, batch)
        out = rnn.loss_and_grads(x, y, loss=task.loss, loss_at=task.loss_at)
        clip_grad_norm(out.grads, 1.0)
        sgd_step(rnn.params, out.grads, lr)
    return before, task.metrics(rnn.scores(vx, task.loss_at), vy)


def test_learns_temporal_order_at_T_10():
    task = make_task("temporal_order", T=10)
    _, after = train(task, steps=300, lr=0.5)
    assert after["accuracy"] > 0.9 > task.baseline()["accuracy"]


def test_learns_adding_at_T_10():
    task = make_task("adding", T=10)
    _, after = train(task, steps=500, lr=0.5)
    assert after["mse"] < 0.25 * task.baseline()["mse"]
    assert after["error"] < 0.5 * task.baseline()["error"]


def test_learns_digits_row_by_row():
    task = make_task("digits", mode="row")
    _, after = train(task, steps=300, lr=0.5)
    assert after["accuracy"] > 0.8 > task.baseline()["accuracy"]


def test_text_bits_per_character_go_down():
    task = make_task("text", T=20)
    before, after = train(task, steps=300, lr=0.1)
    assert after["bpc"] < task.baseline()["bpc"] - 0.3 < before["bpc"]
