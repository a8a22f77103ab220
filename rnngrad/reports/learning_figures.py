"""The learning figures of a study: validation loss and the task's primary metric over
training, and the final metric against the sequence length, each with the no-learning
baseline its runs recorded (per panel; axes along which it differs are facets)."""

from __future__ import annotations

import seaborn as sns

from rnngrad.reports import frames
from rnngrad.reports.plot import (
    BASELINE_STYLE,
    MODEL_COLOURS,
    MODEL_ORDER,
    PALETTE,
    PREFER,
    Figure,
    averaged,
    baseline_caption,
    display,
    draw_baselines,
    lines,
    panels,
    tail,
    title_suffix,
)

X_AXES = (*frames.LENGTHS, "recurrent_scale", "clip", "lr", "hidden_size")  # final metric against


def primary(runs) -> tuple[str | None, bool]:
    """The recorded primary metric of these runs (one task's) and whether higher is better."""
    metrics = runs["metric"].dropna().unique()
    if len(metrics) != 1:
        return None, True
    return str(metrics[0]), bool(runs["higher_is_better"].iloc[0])


def by_metric(study: frames.Study):
    """(study, metric) pairs: runs of tasks with different primary metrics never share a plot."""
    if study.runs["metric"].nunique() <= 1:
        yield study, primary(study.runs)[0]
        return
    for metric, runs in study.runs.groupby("metric"):
        sub = frames.restrict(study, runs)
        sub.split_by = {**study.split_by, "metric": metric}
        yield sub, metric


def learning_figures(exp, study: frames.Study) -> list[Figure]:
    """Validation loss and the primary metric over training, baseline per panel."""
    out = []
    for sub_study, metric in by_metric(study):
        if metric is None:
            continue
        runs = sub_study.runs
        for what, key in (("loss", "valid_loss"), (metric, f"valid_{metric}")):
            base = f"baseline_{'loss' if what == 'loss' else metric}"
            facets = frames.baseline_axes(runs, base, sub_study.axes)
            layout = frames.plan(sub_study.axes, ["row", "col", "hue", "style"], PREFER, facets)
            data = exp.history[exp.history["metric"] == key].merge(runs, on="run_id")
            for suffix, part, sub in frames.parts(data, layout.split):
                shown = sub.drop_duplicates("run_id")
                g = lines(sub, "step", "value", layout)
                drawn = draw_baselines(g, shown, layout, base)
                g.set_axis_labels("training step", f"validation {what}")
                g.figure.suptitle(
                    f"Learning: validation {what} over training" + title_suffix(sub_study, part),
                    y=1.02,
                )
                caption = (
                    f"Validation {what} on each run's fixed validation set over training. "
                    f"{baseline_caption(drawn)} The baseline is what a model that learned "
                    "nothing scores on the same validation sets (recorded by each run); lines "
                    f"on it have not learned the long-range dependency. {layout.caption()} "
                    f"{averaged(shown, layout)} {tail(sub_study, part)}"
                )
                name = f"learning_{what}{sub_study.suffix}{suffix}"
                out.append(
                    Figure(
                        name,
                        f"Learning curves ({what}){title_suffix(sub_study, part)}",
                        g.figure,
                        caption,
                    )
                )
    return out


def final_metric_figure(exp, study: frames.Study) -> list[Figure]:
    """The final primary metric against the sequence length, the baseline drawn per x."""
    out = []
    for sub_study, metric in by_metric(study):
        x = next((a for a in X_AXES if a in sub_study.axes), None)
        key, base = f"valid_{metric}", f"baseline_{metric}"
        runs = sub_study.runs
        if metric is None or x is None or key not in runs or runs[key].isna().all():
            continue
        rest = [a for a in sub_study.axes if a != x]
        facets = [a for a in frames.baseline_axes(runs, base, sub_study.axes) if a != x]
        layout = frames.plan(rest, ["row", "col", "hue"], PREFER, facets)
        for suffix, part, sub in frames.parts(runs.dropna(subset=[key]), layout.split):
            shown, named = display(sub, layout)
            hue = named.get("hue")
            g = sns.catplot(
                data=shown,
                x=x,
                y=key,
                row=named.get("row"),
                col=named.get("col"),
                hue=hue,
                kind="point",
                errorbar=("pi", 100),
                palette=PALETTE if hue else None,
                height=2.8,
                aspect=1.35,
                dodge=0.2 if hue else False,
                margin_titles=True,
            )
            drawn = []
            for ax, inside in panels(g, sub, layout):
                per_x = inside.groupby(x)[base].mean() if base in inside else None
                if per_x is None or per_x.isna().all():
                    continue
                positions = range(len(per_x))  # catplot puts the x levels at 0, 1, ...
                ax.plot(list(positions), per_x.values, marker="_", ms=14, **BASELINE_STYLE)
                values = {f"{b:.3g}" for b in per_x}
                drawn.append(
                    values.pop()
                    if len(values) == 1
                    else ", ".join(
                        f"{frames.name(x)} = {frames.text(v)}: {b:.3g}" for v, b in per_x.items()
                    )
                )
            unit = " (steps)" if x in frames.LENGTHS else ""
            g.set_axis_labels(f"{frames.name(x)}{unit}", f"final validation {metric}")
            g.figure.suptitle(
                f"Final validation {metric} against {frames.name(x)}"
                + title_suffix(sub_study, part),
                y=1.02,
            )
            baseline = (
                "Dashed red: the no-learning baseline at each "
                + frames.name(x)
                + " (the mean of the runs' recorded baselines: "
                + "; ".join(dict.fromkeys(drawn))
                + ")."
                if drawn
                else "No baseline was recorded for these runs."
            )
            caption = (
                f"Final validation {metric} of each configuration against {frames.name(x)} "
                f"(points: {frames.seeds(sub, [x, *layout.used], 'point', 'the bars')}). "
                f"{baseline} {layout.caption()} {tail(sub_study, part)}"
            )
            name = f"final_metric{sub_study.suffix}{suffix}"
            out.append(
                Figure(
                    name,
                    f"Final {metric} against {frames.name(x)}{title_suffix(sub_study, part)}",
                    g.figure,
                    caption,
                )
            )
    return out


def model_metric(exp, study: frames.Study) -> list[Figure]:
    """RNN against attention: the final primary metric of each model at each length."""
    out = []
    for sub_study, metric in by_metric(study):
        x = next((a for a in frames.LENGTHS if a in sub_study.axes), None)
        key, base = f"valid_{metric}", f"baseline_{metric}"
        runs = (
            sub_study.runs.dropna(subset=[key])
            if key in sub_study.runs
            else sub_study.runs.iloc[0:0]
        )
        if metric is None or x is None or runs.empty:
            continue
        rest = [a for a in frames.beside_models(sub_study) if a != x]
        facets = frames.baseline_axes(runs, base, rest)
        layout = frames.plan(rest, ["col", "row"], {"col": ("task",)}, facets)
        order = [m for m in MODEL_ORDER if m in set(runs["variant"])]
        for suffix, part, sub in frames.parts(runs, layout.split):
            shown, named = display(sub, layout)
            g = sns.catplot(
                data=shown,
                x=x,
                y=key,
                col=named.get("col"),
                row=named.get("row"),
                hue="variant",
                hue_order=order,
                palette=MODEL_COLOURS,
                kind="point",
                errorbar=("pi", 100),
                height=3.0,
                aspect=1.2,
                dodge=0.3,
            )
            drawn = draw_baselines(g, sub, layout, base)
            g.set_axis_labels(f"{frames.name(x)} (steps)", f"final validation {metric}")
            g.figure.suptitle(
                f"Final {metric} of each model against {frames.name(x)}"
                + title_suffix(sub_study, part),
                y=1.03,
            )
            caption = (
                f"Final validation {metric} of each model at each {frames.name(x)} (points: "
                f"{frames.seeds(sub, [x, 'variant', *layout.used], 'point', 'the bars')}). "
                f"{baseline_caption(drawn)} Colour: model. {layout.caption()} {tail(sub_study, part)}"
            )
            name = f"model_metric{sub_study.suffix}{suffix}"
            out.append(
                Figure(
                    name,
                    f"Final {metric} per model{title_suffix(sub_study, part)}",
                    g.figure,
                    caption,
                )
            )
    return out


BUILDERS = [learning_figures, final_metric_figure]
