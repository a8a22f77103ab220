"""What the console and the MLflow UI say of a run's outcome, and where to find it.

The gradient regime of a profile, by one stated rule on its long-range ratio
r = log10(‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖) (rnngrad.profile's `log10_ratio`):

    vanishing   r < -2   what reaches h_1 from the last step's loss is under 1 % of its value there
    exploding   r > +2   over 100 times its value there
    stable      otherwise

(−2 is also the threshold the remedies report uses for a gradient that is kept; a gradient
that is exactly zero at h_1, r = −inf, is vanishing). The rule is applied to
the profile at initialisation (step 0) and to the final one.
"""

from __future__ import annotations

import math

from .record import VIEW_KEY
from .store import PROJECT_ROOT, public

DECADES = 2.0  # |r| ≤ 2: stable
REGIMES = ("vanishing", "stable", "exploding")
UI_PORT = 5000
UI = f"http://127.0.0.1:{UI_PORT}"  # where `make ui` serves the project's SQLite store


def ui_page(
    address: str, experiment_id: str, run_id: str | None = None, by_gradient: bool = False
) -> str:
    """An experiment's runs table (or one run) in the MLflow UI at `address`, in its "Model
    training" view: without the parameter, a browser that has not chosen a view opens a run
    in the GenAI one, which lists it under "Evaluation runs". `by_gradient`: the table as a
    sweep shares it (record.VIEW_TAG: flat, the most vanished first, with the regime)."""
    run = f"/{run_id}" if run_id else ""
    view = f"viewStateShareKey={VIEW_KEY}&" if by_gradient else ""
    return f"{address}/#/experiments/{experiment_id}/runs{run}?{view}workflowType=machine_learning"


def regime(log10_ratio: float | None) -> str | None:
    """The regime of a profile whose long-range log10 ratio is `log10_ratio` (None: none
    recorded, or NaN; -inf is a gradient that is exactly zero at h_1: vanishing)."""
    if log10_ratio is None or math.isnan(log10_ratio):
        return None
    if log10_ratio < -DECADES:
        return "vanishing"
    return "exploding" if log10_ratio > DECADES else "stable"


def power(log10_value: float) -> str:
    """10^-64, 10^-1.3, 10^0.4: the exponent to the nearest unit once it has two digits;
    0 for an exactly zero gradient (log10 = -inf)."""
    if math.isinf(log10_value):
        return "0" if log10_value < 0 else "inf"
    return f"10^{log10_value:.0f}" if abs(log10_value) >= 10 else f"10^{log10_value:.1f}"


def describe(final: dict, metric: str, baseline: dict, seq_len: int) -> str:
    """The headline of a run, in one line: "gradient at t = 1 (99 steps back): 10^-64 of its
    loss-step value (vanishing), fitted ×0.229 per step, first under 10^-6 at 9 steps back;
    accuracy 0.271, baseline 0.25". `final`: its last evaluation's scalars (rnngrad.profile's
    summaries of the long-range profile: log10_ratio, which the regime is of; decay_factor,
    the slope of a line fitted to the whole profile; fall_1e6, the first distance at which it
    is under 10^-6 of its loss-step value, left out when it never is); `baseline`: the step-0
    scalars (baseline_<metric>); `seq_len`: the number of steps the profile spans."""
    parts = []
    ratio = final.get("log10_ratio")
    found = regime(ratio)
    if found:
        gradient = (
            f"gradient at t = 1 ({seq_len - 1} steps back): {power(ratio)} of its loss-step "
            f"value ({found})"
        )
        factor = final.get("decay_factor")
        if factor is not None and math.isfinite(factor):
            gradient += f", fitted ×{factor:#.3g} per step"  # ×1.00, not ×1
        fall = final.get("fall_1e6")
        if fall is not None and math.isfinite(fall):
            gradient += f", first under 10^-6 at {fall:.0f} steps back"
        parts.append(gradient)
    value = final.get(f"valid_{metric}")
    if value is not None and math.isfinite(value):
        score = f"{metric} {value:.3g}"
        base = baseline.get(f"baseline_{metric}")
        if base is not None and math.isfinite(base):
            score += f", baseline {base:.3g}"
        parts.append(score)
    return "; ".join(parts)


def ui_address(uri: str) -> str:
    """The MLflow UI that shows the store at `uri`: a tracking server serves its own (shown
    without credentials); a SQLite store is shown by `make ui`."""
    return public(uri).rstrip("/") if uri.startswith(("http://", "https://")) else UI


def where(uri: str, experiment: str, experiment_id: str, run_id: str | None = None) -> list[str]:
    """How to see a run (or, without `run_id`, a sweep's experiment: its runs table by
    gradient) and build the experiment's report: `make ui` and `make report` for the project's
    own store, the commands themselves for any other."""
    page = ui_page(ui_address(uri), experiment_id, run_id, by_gradient=run_id is None)
    if uri == f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}":
        return [f"browse: make ui, then {page}", f"report: make report EXPERIMENT={experiment}"]
    report = f"report: rnngrad-report --experiment {experiment} --tracking-uri {public(uri)}"
    if uri.startswith(("http://", "https://")):
        return [f"browse: {page}", report]
    serve = f"mlflow ui --backend-store-uri {public(uri)}"
    return [f"browse: {serve}, then {page}", report]
