"""The figures that compare models, drawn for a study with attention runs: the gradient
reaching each step's input (`input_gradient`) and the final primary metric per sequence
length (`model_metric`), one colour per model variant (RNNs, attention)."""

from __future__ import annotations

import pandas as pd

from rnngrad.reports import baselines
from rnngrad.reports.axes import LENGTHS, name, seeds
from rnngrad.reports.frames import Study, beside_models
from rnngrad.reports.layout import Layout, parts, plan
from rnngrad.reports.learning_figures import with_final_metric
from rnngrad.reports.plot import (
    MODEL_COLOURS,
    Figure,
    draw_baselines,
    lines,
    models_in,
    points,
    tail,
    title_suffix,
)
from rnngrad.reports.profile_figures import DISTANCE, LOG_NOTE, at_step

MODEL_HUE = {"hue": "variant", "palette": MODEL_COLOURS}  # one colour per model variant


def input_gradient(exp, study: Study) -> list[Figure]:
    """The gradient reaching each step's input, one line per model (RNN variants, attention)."""
    data = at_step(exp, "final").dropna(subset=["log10_dx"]).merge(study.runs, on="run_id")
    if data.empty:
        return []
    layout = plan(beside_models(study), ["row", "col"], {"row": ("task",), "col": LENGTHS})
    order = models_in(data)
    return [
        input_gradient_figure(sub, study, layout, order, suffix, part)
        for suffix, part, sub in parts(data, layout.split)
    ]


def input_gradient_figure(
    sub: pd.DataFrame, study: Study, layout: Layout, order: list[str], suffix: str, part: str
) -> Figure:
    g = lines(
        sub,
        "distance",
        "log10_dx",
        layout,
        **MODEL_HUE,
        hue_order=order,
        height=2.6,
        aspect=1.2,
        facet_kws={"sharex": False},
    )
    g.set_axis_labels(DISTANCE, "log10 ‖∂J/∂(W_e x_t)‖, attention ‖∂J/∂e_t‖")
    g.figure.suptitle(
        "Gradient reaching each step's input: RNN variants against attention"
        + title_suffix(study, part),
        y=1.02,
    )
    runs = sub.drop_duplicates("run_id")
    caption = (
        "The gradient reaching the input of each step at the end of training, "
        "‖∂J/∂(W_e x_t)‖ for the RNNs and ‖∂J/∂e_t‖ for attention "
        f"({LOG_NOTE}), against the distance from the loss step. In an RNN it passes "
        "T − t Jacobians; in attention, one softmax. Colour: model. "
        f"{layout.caption()} Lines: "
        f"{seeds(runs, [*layout.used, 'variant'], 'line', 'the band')}. {tail(study, part)}"
    )
    title = f"RNN against attention: gradient at the inputs{title_suffix(study, part)}"
    return Figure(f"input_gradient{study.suffix}{suffix}", title, g.figure, caption)


def final_metric(exp, study: Study) -> list[Figure]:
    """RNN against attention: the final primary metric of each model at each length."""
    out = []
    for sub_study, metric, x, runs in with_final_metric(study, LENGTHS):
        rest = [a for a in beside_models(sub_study) if a != x]
        facets = baselines.axes_apart(runs, f"baseline_{metric}", rest)
        layout = plan(rest, ["col", "row"], {"col": ("task",)}, facets)
        order = models_in(runs)
        for suffix, part, sub in parts(runs, layout.split):
            shown = {"metric": metric, "x": x, "order": order}
            out.append(model_metric_figure(sub, sub_study, layout, suffix, part, **shown))
    return out


def model_metric_figure(
    sub: pd.DataFrame,
    study: Study,
    layout: Layout,
    suffix: str,
    part: str,
    *,
    metric: str,
    x: str,
    order: list[str],
) -> Figure:
    """The final `metric` of each model (colours in `order`) at each value of `x`."""
    g = points(
        sub,
        x,
        f"valid_{metric}",
        layout,
        **MODEL_HUE,
        hue_order=order,
        height=3.0,
        aspect=1.2,
        dodge=0.3,
        margin_titles=False,
    )
    drawn = draw_baselines(g, sub, layout, f"baseline_{metric}")
    g.set_axis_labels(f"{name(x)} (steps)", f"final validation {metric}")
    g.figure.suptitle(
        f"Final {metric} of each model against {name(x)}" + title_suffix(study, part), y=1.03
    )
    caption = (
        f"Final validation {metric} of each model at each {name(x)} (points: "
        f"{seeds(sub, [x, 'variant', *layout.used], 'point', 'the bars')}). "
        f"{baselines.caption(drawn)} Colour: model. {layout.caption()} {tail(study, part)}"
    )
    title = f"Final {metric} per model{title_suffix(study, part)}"
    return Figure(f"model_metric{study.suffix}{suffix}", title, g.figure, caption)
