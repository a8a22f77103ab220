"""The figures of what the runs achieved: the fraction of seeds that solved the task at each
sequence length, with 95 % Wilson score intervals (`success_length`, the form of Pascanu et
al. 2013's temporal-order figure), and each run's final primary metric against how far its
gradient reached before any update (`reach_learning`).

In both, a colour is a *variant*: one combination of every setting the study varies but the
sequence length and the seed (only seeds are pooled, never variants). The task, and the
settings along which the no-learning baseline differs, are made panels. Every value comes
from the run record: the `solved` metric and the outcome, step 0's log10_ratio, the last
evaluation's primary metric and step 0's baseline (rnngrad.reports.artifacts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import seaborn as sns
from scipy.stats import binomtest

from rnngrad.reports import baselines
from rnngrad.reports.axes import LENGTHS, SEED, groups, listing, name, runs_per_key, text
from rnngrad.reports.frames import MODEL, Study, restrict
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.learning_figures import by_metric
from rnngrad.reports.plot import Figure, draw_baselines, points, scatter, tail, title_suffix

CONFIDENCE = 0.95
BARS = {"err_kws": {"linewidth": 1.2}, "capsize": 0.04, "linewidth": 1.4, "markersize": 5}
VARIANT = "variant"  # the hue column: the run's variant as text (replaces the model label)
REACH = "log10_ratio_initial"  # step 0's log10 ‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖ (artifacts)
REACH_WORDS = (
    "how far the gradient reached before any update: log10(‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖), the "
    "long-range gradient at the first step over that at the loss step, on the probe batch at "
    "step 0 (0: as large at h_1 as at h_T; −6: a millionth of it; above 0: larger)"
)


def wilson(outcomes: pd.Series) -> tuple[float, float]:
    """The 95 % Wilson score interval of the fraction of 1s among 0/1 outcomes."""
    found = binomtest(int(outcomes.sum()), len(outcomes))
    ci = found.proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def judged(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs whose task has a success criterion (they recorded `solved`), with `succeeded`:
    1 if their last evaluation met it or they stopped early as solved, else 0 (a diverged
    run's last evaluation has no `solved`: 0)."""
    runs = runs[runs["criterion"].eq(True)] if "criterion" in runs else runs.iloc[0:0]
    hit = runs["solved"].eq(1) | runs["outcome"].eq("solved") if "solved" in runs else False
    return runs.assign(succeeded=pd.Series(hit, index=runs.index).astype(float))


def length_of(study: Study) -> str | None:
    """The sequence length: the length axis the study varies (T, delay), else the one its
    runs share (T, delay or the sequence's length)."""
    runs = study.runs
    varied = next((a for a in LENGTHS if a in study.axes), None)
    return varied or next(
        (a for a in (*LENGTHS, "seq_len") if a in runs and runs[a].notna().any()), None
    )


@dataclass
class Drawing:
    """How a study's runs are drawn in both figures: panels, a colour per variant (`kinds`:
    the axes a variant is made of), the length; `data`: the runs with their variant."""

    study: Study
    layout: Layout
    kinds: list[str]
    colours: dict
    length: str
    data: pd.DataFrame

    @property
    def options(self) -> dict:
        """seaborn's keywords: the colour per variant, a larger panel when there is one."""
        one = not (self.layout.get("row") or self.layout.get("col"))
        size = {"height": 3.6, "aspect": 1.6} if one else {}
        return (
            {"hue_order": list(self.colours), "palette": self.colours} | size
            if self.kinds
            else size
        )

    def channels(self, style: str) -> str:
        """What the panels, colours and markers encode, and what a variant is."""
        said = self.layout.caption(style)
        if self.kinds:
            said += (
                f" Variants: {' × '.join(name(a) for a in self.kinds)} (every setting varied "
                f"here but {name(self.length)} and the seed)."
            )
        return said


def drawing(study: Study, length: str, apart: list[str], marker: bool) -> Drawing:
    """Panels for the task and the axes in `apart` (beyond two, one figure each), colour for
    the variant, and with `marker` the style slot for a length that varies."""
    facets = [a for a in study.axes if a == "task" or a in apart]
    panels = plan(facets, ["col", "row"])
    kinds = [a for a in study.axes if a not in facets and a != length]
    slots = {**panels.slots, **({"hue": VARIANT} if kinds else {})}
    if marker and length in study.axes:
        slots["style"] = length
    data, colours = variants(study.runs, kinds)
    return Drawing(study, Layout(slots, panels.split), kinds, colours, length, data)


def variants(runs: pd.DataFrame, kinds: list[str]) -> tuple[pd.DataFrame, dict]:
    """The runs with their variant as text in VARIANT ("rnn tanh + skip, hidden size H = 32":
    the model's label where a model setting varies, then the other axes), and a colour per
    variant, in the axes' sorted order."""
    model = any(a in MODEL for a in kinds)
    rest = [a for a in kinds if a not in MODEL]

    def label(row) -> str:
        bits = [str(row["variant"])] if model else []
        return ", ".join(bits + [f"{name(a)} = {text(row[a])}" for a in rest])

    labels = runs.apply(label, axis=1) if kinds and len(runs) else pd.Series("", index=runs.index)
    order = list(dict.fromkeys(labels[g.index[0]] for _, g in groups(runs, kinds) if len(g)))
    palette = sns.color_palette("colorblind" if len(order) <= 10 else "husl", len(order))
    return runs.assign(**{VARIANT: labels}), dict(zip(order, palette, strict=True))


def success_length(exp, study: Study) -> list[Figure]:
    """The fraction of seeds that solved the task at each length, 95 % Wilson intervals."""
    runs = judged(study.runs)
    if runs.empty:
        return []  # no criterion: the findings say so (rnngrad.reports.findings.criteria)
    sub = restrict(study, runs)
    length = length_of(sub)
    if length is None:
        return []
    d = drawing(sub, length, [], marker=False)
    return [
        success_figure(d, part_runs, suffix, part)
        for suffix, part, part_runs in parts(d.data, d.layout.split)
    ]


def success_figure(d: Drawing, data: pd.DataFrame, suffix: str, part: str) -> Figure:
    spread = min(0.7, 0.1 * (len(d.colours) - 1)) if d.kinds else False
    g = points(
        data, d.length, "succeeded", d.layout, errorbar=wilson, dodge=spread, **BARS, **d.options
    )
    for ax in g.axes.flat:
        ax.set_ylim(-0.04, 1.04)
    g.set_axis_labels(f"{name(d.length)} (steps)", "fraction of seeds that solved the task")
    title = f"Success against {name(d.length)}{title_suffix(d.study, part)}"
    g.figure.suptitle(title, y=1.02)
    _, _, n = runs_per_key(data, [d.length, *d.layout.used])
    caption = (
        f"The fraction of seeds that solved the task at each {name(d.length)} (the form of "
        "Pascanu et al. 2013's temporal-order figure): a run counts as solved when its last "
        "evaluation met the task's success criterion on its validation set (a run stops "
        "early when it does); a diverged run counts as not solved. Points: n = "
        f"{n} seeds per point ({listing(data, SEED)}); bars: 95 % Wilson score intervals "
        f"of that fraction. {d.channels('line style')} {tail(d.study, part)}"
    )
    return Figure(f"success_length{d.study.suffix}{suffix}", title, g.figure, caption)


def reach_learning(exp, study: Study) -> list[Figure]:
    """Each run's final primary metric against step 0's log10 ratio, baseline per panel."""
    out = []
    for sub, metric in by_metric(study):
        if metric is None or f"valid_{metric}" not in sub.runs or REACH not in sub.runs:
            continue
        apart = baselines.axes_apart(sub.runs, f"baseline_{metric}", sub.axes)
        d = drawing(sub, length_of(sub), apart, marker=True)
        for suffix, part, part_runs in parts(d.data, d.layout.split):
            out += reach_figure(d, part_runs, metric, suffix, part)
    return out


def reach_figure(d: Drawing, runs: pd.DataFrame, metric: str, suffix: str, part: str) -> list:
    """[the figure], or [] when no run has both a finite reach and a final metric."""
    y = f"valid_{metric}"
    shown = runs[np.isfinite(runs[REACH]) & runs[y].notna()]
    if shown.empty:
        return []
    g = scatter(shown, REACH, y, d.layout, s=40, alpha=0.85, **d.options)
    drawn = draw_baselines(g, runs, d.layout, f"baseline_{metric}")
    g.set_axis_labels("log10(‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖) at step 0", f"final validation {metric}")
    g.figure.suptitle(
        f"Final {metric} against the gradient's reach at step 0{title_suffix(d.study, part)}",
        y=1.02,
    )
    caption = (
        f"One point per run ({len(shown)} runs, not averaged; {listing(shown, SEED)}): x is "
        f"{REACH_WORDS}; y is the run's final validation {metric} (its last evaluation). "
        f"{baselines.caption(drawn)} {d.channels('marker')} "
        f"{left_out(runs, metric)}{tail(d.study, part)}"
    )
    title = f"Reach against learning{title_suffix(d.study, part)}"
    return [Figure(f"reach_learning{d.study.suffix}{suffix}", title, g.figure, caption)]


def left_out(runs: pd.DataFrame, metric: str) -> str:
    """How many runs the reach figure cannot place, and why ("" if none)."""
    bad = ~np.isfinite(runs[REACH])
    missing = runs[f"valid_{metric}"].isna() & ~bad
    said = ""
    if bad.any():
        said += (
            f"Not shown: {int(bad.sum())} run(s) whose log10 ratio at step 0 is not finite "
            "(−∞: no gradient reached h_1 at all; or none recorded). "
        )
    if missing.any():
        said += (
            f"Not shown: {int(missing.sum())} run(s) with no final validation {metric} "
            "(a diverged run's last evaluation has none). "
        )
    return said
