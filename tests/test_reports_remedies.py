"""The remedies findings (rnngrad/reports/remedies.py): which remedies keep the gradient, which
learn, where the two disagree, computed from known runs; and named remedies folded into one
axis (rnngrad/reports/frames.py `folded`).

Run: .venv/bin/pytest tests/test_reports_remedies.py
"""

import pandas as pd
import pytest
from test_reports import build, train

from rnngrad.reports.frames import folded
from rnngrad.reports.remedies import remedy_sentences

# remedy: (activation, clip, reach at step 0, reach at the end, solved per seed, ‖h_T‖)
KNOWN = {
    "plain SGD": ("tanh", None, -11.0, -14.5, [0, 0, 0], 2.0),
    "leaky": ("tanh", 1.0, -1.3, 0.7, [1, 1, 0], 2.8),
    "skip": ("tanh", 1.0, 3.0, 1.6, [0, 0, 0], 143.0),
    "IRNN": ("relu", 1.0, -0.2, -22.5, [0, 0, 0], 1.1),
    "late": ("tanh", 1.0, -5.0, -6.0, [1, 1, 1], 3.0),
    "Ω": ("tanh", 1.0, -11.0, -1.0, [0, 0, 0], 2.0),
}


def experiment(lengths=(30, 100)):
    runs = []
    for remedy, (act, clip, start, end, solved, state) in KNOWN.items():
        for T in lengths:
            for seed, ok in enumerate(solved):
                runs.append(
                    dict(
                        run_id=f"{remedy}-{T}-{seed}",
                        remedy=remedy,
                        activation=act,
                        clip=clip,
                        T=T,
                        seed=seed,
                        criterion=True,
                        solved=float(ok),
                        outcome="solved" if ok else "finished",
                        state_norm_last=state,
                        log10_ratio_initial=start + seed * 0.1,
                        log10_ratio=end + seed * 0.1,
                    )
                )
    return pd.DataFrame(runs)


def test_keep_learn_and_disagree_are_read_from_the_runs():
    said = remedy_sentences(experiment(), ["remedy", "T"])
    start, end, solved, disagree = said
    assert start.startswith("At initialisation at T = 100")
    assert "at most 2 decades between h_T and h_1" in start
    assert "with skip (3.1), IRNN (-0.1), leaky (-1.2)" in start  # medians over 3 seeds
    assert "it loses more with late (-4.9), plain SGD (-10.9), Ω (-10.9)." in start
    assert "At the end of training at T = 100" in end
    assert "with skip (1.7), leaky (0.8), Ω (-0.9)" in end
    assert solved == (
        "Seeds that solved the task at T = 30, 100 (of 3 each): IRNN 0, 0; late 3, 3; "
        "leaky 2, 2; plain SGD 0, 0; skip 0, 0; Ω 0, 0."
    )
    assert "skip keeps the gradient at initialisation and to the end of training yet" in disagree
    assert "(median ‖h_T‖ at the end 143)" in disagree
    assert "IRNN keeps the gradient at initialisation, loses it in training (-22.4 at the end)" in (
        disagree
    )
    assert "late learns although its gradient at initialisation reaches -4.9" in disagree
    assert "Ω keeps the gradient at the end of training (-0.9), not at initialisation, yet" in (
        disagree
    )
    assert "leaky" not in disagree and "plain SGD" not in disagree  # they agree


def test_one_sentence_group_per_value_of_the_other_axes():
    runs = experiment(lengths=(50,))
    runs = pd.concat([runs.assign(init="smart_tanh"), runs.assign(init="sigmoid")])
    said = remedy_sentences(runs, ["remedy", "init", "T"])
    assert len(said) == 8
    assert said[0].startswith("init = sigmoid: At initialisation at T = 50")
    assert said[4].startswith("init = smart_tanh: At initialisation at T = 50")


def test_settings_a_named_remedy_fixes_are_folded_into_it():
    runs = experiment()
    assert folded(runs, ["remedy", "activation", "clip", "T"]) == ["remedy", "T"]
    grid = pd.DataFrame(
        [dict(activation=a, skip=s, T=t) for a in "xy" for s in (0, 1) for t in (10, 30)]
    )
    assert folded(grid, ["activation", "skip", "T"]) == ["activation", "skip", "T"]  # a grid


def test_a_task_without_a_criterion_says_so():
    said = remedy_sentences(experiment().assign(criterion=False), ["remedy", "T"])
    assert said[-1].startswith("The task has no success criterion")


@pytest.mark.slow
def test_the_remedies_preset_runs_and_its_report_answers_the_question(tmp_path):
    """The preset shrunk (3 remedies, 2 lengths, 1 seed, the debug budget) end to end: the
    report names each remedy once, draws both new figures and says which keep, which learn."""
    proc = train(
        tmp_path,
        "experiment=remedies",
        "+remedy=plain,irnn,leaky",
        "task.T=10,20",
        "train.seed=0",
        experiment="remedies",
    )
    assert proc.returncode == 0, proc.stderr
    out = build(tmp_path, tmp_path / "out", "remedies")
    figures = out / "figures" / "remedies"
    assert (figures / "success_length.png").exists() and (figures / "reach_learning.png").exists()
    found = (out / "tables" / "remedies" / "findings.md").read_text()
    assert "- Remedies:" in found and "At initialisation at T = 20" in found
    for remedy in ("plain SGD", "IRNN", "leaky α = 0.1"):
        assert f"**{remedy}** (2 runs" in found, remedy
    assert "inactive fraction (relu units with f' = 0)" in found  # the IRNN's state sentence


def test_uneven_runs_are_counted_k_of_n_and_a_missing_reach_is_said():
    runs = experiment()
    runs = runs[~((runs["remedy"] == "late") & (runs["seed"] == 2))]  # a run missing
    runs.loc[runs["remedy"] == "skip", "log10_ratio"] = float("nan")
    _, end, solved, _ = remedy_sentences(runs, ["remedy", "T"])
    assert "late 2 of 2, 2 of 2" in solved and "leaky 2 of 3, 2 of 3" in solved
    assert "runs differ in number" in solved
    assert end.endswith("; not recorded for skip.")
