"""Run names (rnngrad/pipeline/labels.py): short, leading with what the sweep varies, a named
variant standing for the settings it fixes."""

import itertools

import pytest

from rnngrad.pipeline.labels import override_name, run_names


def test_a_name_holds_what_varies_in_a_fixed_order():
    configs = [
        {"model.activation": a, "model.skip": s, "model.hidden_size": h, "task.T": t,
         "train.seed": seed, "optim.clip": 1.0, "model.recurrent_scale": 1.0}
        for a, s, h, t, seed in itertools.product(
            ["tanh", "sigmoid"], [False, True], [32, 128], [10, 100], [0, 1]
        )
    ]  # fmt: skip
    names = run_names(configs)
    assert names[0] == "tanh T=10 H=32 s0"
    assert "tanh skip T=100 H=128 s1" in names and "sigmoid T=100 H=32 s0" in names
    assert len(set(names)) == len(names)  # every job told apart
    assert run_names(configs[:1]) == ["run"]  # nothing varies


def test_a_named_variant_stands_for_the_settings_it_fixes():
    remedies = {"plain SGD": ("tanh", None), "IRNN": ("relu", 1.0), "leaky": ("tanh", 1.0)}
    configs = [
        {"train.remedy": r, "model.activation": act, "optim.clip": clip, "task.T": t,
         "train.seed": seed}
        for (r, (act, clip)), t, seed in itertools.product(remedies.items(), [30, 60], [0, 1])
    ]  # fmt: skip
    names = run_names(configs)
    assert names[:2] == ["plain SGD T=30 s0", "plain SGD T=30 s1"] and "IRNN T=60 s1" in names


def test_a_key_some_jobs_lack_is_left_out_of_theirs():
    configs = [
        {"model.name": "rnn", "model.activation": "tanh", "task.T": 10},
        {"model.name": "rnn", "model.activation": "sigmoid", "task.T": 10},
        {"model.name": "attention", "task.T": 10},
    ]
    assert run_names(configs) == ["rnn tanh", "rnn sigmoid", "attention"]


def test_a_single_runs_name_is_its_command_line_in_the_same_tokens():
    overrides = ["task=adding", "task.T=50", "model.skip=true", "tracking.uri=x", "debug=default"]
    assert override_name(overrides) == "adding skip T=50"
    assert override_name(["+remedy=irnn", "train.seed=3", "optim.lr=0.01"]) == "irnn lr=0.01 s3"
    where = ["cluster=slurm", "hydra/launcher=basic", "internal.crash_at_step=5", "task.T='20'"]
    assert override_name(where) == "T=20"  # where and how it runs is not what runs


def test_names_that_would_collide_fall_back_to_key_value():
    assert run_names([{"model.skip": True}, {}, {"model.skip": False}]) == [
        "skip=True",
        "skip=(absent)",
        "skip=False",
    ]


@pytest.mark.parametrize("same", [True, False])
def test_the_runs_figure_keeps_every_label_inside_it(same):
    """profile.png: no title, axis label or tick label cut at the figure's edge."""
    import numpy as np

    from rnngrad.pipeline.run_figure import plt, profile_figure

    long_title = "temporal_order T=100 rnn sigmoid + skip H=128 seed=1"
    fig = profile_figure(
        [0, 500, 1000], -np.ones((3, 100)) * 64, np.zeros((3, 100)), long_title, same
    )
    fig.canvas.draw()
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # every drawn artist, in inches
    assert 0 <= drawn.x0 and drawn.x1 <= fig.get_figwidth()
    assert 0 <= drawn.y0 and drawn.y1 <= fig.get_figheight()
    plt.close(fig)
