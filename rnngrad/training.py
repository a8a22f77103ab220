"""The training loop: plain SGD on fresh batches, with evaluation and gradient profiles.

Pure like the engine: no I/O, no configuration reading. Whoever calls `train` (the
pipeline's MLflow job, a notebook, a test) receives every evaluation through `on_eval`
and decides what to do with it.

Scalars of an evaluation (step 0 is before any update):
    train_loss       mean training loss since the previous evaluation (per step for tasks
                     with the loss at every step, per sequence otherwise, like the task's "loss")
    grad_norm        mean global gradient norm ‖∂J/∂θ‖ since the previous evaluation, before clipping
                     (with vanishing_reg > 0, of ∂J/∂θ + λ ∂Ω/∂θ: the norm that clipping sees)
    omega            mean of Pascanu's regulariser Ω over the same updates (vanishing_reg > 0 only)
    valid_<metric>   the task's metrics on the fixed validation set
    solved           1 if they meet the task's success criterion, else 0 (tasks that have one)
    baseline_<metric> (step 0 only) the same metrics for a model that learned nothing, scored
                     on the same validation set (Task.baseline)
    sigma_max, rho   largest singular value and spectral radius of W_r (RNN only: the model's
    bound            diagnostics()); Pascanu's per-step bound γ σ_max(W_r), plus 1 with skip
and, where a profile is recorded (every `profile_every` steps, which adds an evaluation where
none falls; at step 0 and at the end), on a fixed probe batch (the first `probe_size`
validation sequences; the model's probe, see rnngrad.profile):
    decay_factor, log10_ratio, fall_1e6, fall_1e16   summaries of the long-range profile
    saturation, state_norm_last   saturated fraction of units; mean ‖h_T‖ (RNN only)
    selfcheck_rel_err     largest disagreement of the engine's backward with the reference
    selfcheck_bound_ratio largest per-example per-step factor / Pascanu's bound (RNN only)
    selfcheck_ok          1 if both parts of the self-check passed, else 0 (rnngrad.selfcheck)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import checks
from .functional import joint_norm
from .model import Model
from .optim import sgd_update
from .selfcheck import SelfCheck
from .tasks import Task, streams


@dataclass(frozen=True)
class Settings:
    """How `train` runs; every value is checked here (checks.BadValue names the field)."""

    steps: int = 1000  # SGD updates at most
    batch_size: int = 32  # sequences per update
    lr: float = 0.1  # learning rate
    clip: float | None = None  # global-norm threshold θ, or None: no clipping
    vanishing_reg: float = 0.0  # λ of Pascanu et al.'s regulariser Ω (RNN only; 0: none)
    eval_every: int = 100  # evaluate on the validation set every this many updates
    profile_every: int = 100  # record a gradient profile every this many updates
    valid_size: int = 500  # sequences in the fixed validation set
    probe_size: int = 64  # the first this many validation sequences form the probe batch
    early_stop: bool = True  # stop once the task says it is solved
    seed: int = 0  # the training and validation streams (rnngrad.tasks.streams)

    def __post_init__(self) -> None:
        sizes = ("steps", "batch_size", "eval_every", "profile_every", "valid_size", "probe_size")
        for name in sizes:
            checks.positive_int(name, getattr(self, name))
        checks.positive_float("lr", self.lr)
        checks.non_negative_float("vanishing_reg", self.vanishing_reg)
        if self.clip is not None:
            try:
                checks.positive_float("clip", self.clip)
            except checks.BadValue:
                allowed = "expected a positive number, or None (null in a config) for no clipping"
                raise checks.BadValue("clip", self.clip, allowed) from None
        checks.boolean("early_stop", self.early_stop)
        checks.integer_at_least("seed", self.seed, 0)


@dataclass
class Evaluation:
    step: int
    scalars: dict[str, float]
    log10_total: np.ndarray | None = None  # (T,) profiles, where recorded
    log10_long: np.ndarray | None = None
    log10_dx: np.ndarray | None = None  # the gradient reaching each step's input
    state_norm: np.ndarray | None = None  # (T,) mean ‖h_t‖ (RNN)
    saturation_t: np.ndarray | None = None  # (T,) saturated fraction at step t (RNN)
    check: SelfCheck | None = None  # the self-check of this profile


@dataclass
class Outcome:
    status: str  # "finished" (all steps), "solved" (stopped early) or "diverged"
    steps: int  # updates made
    diverged_at: int | None = None  # the step whose loss, gradient or update was not finite
    final: dict[str, float] = field(default_factory=dict)  # the last evaluation's scalars


def train(
    model: Model,
    task: Task,
    settings: Settings,
    on_eval: Callable[[Evaluation], None] | None = None,
) -> Outcome:
    """Train `model` (an RNN or an Attention model) on `task` with SGD; report every
    evaluation to `on_eval`."""
    train_rng, valid_rng = streams(settings.seed)
    valid = task.validation_set(valid_rng, settings.valid_size)
    probe_batch = task.first_sequences(valid, settings.probe_size)
    per_step = task.seq_len if task.loss_at == "all" else 1
    losses, grad_norms, omegas = [], [], []
    regularised = {"vanishing_reg": settings.vanishing_reg} if settings.vanishing_reg else {}
    last: Evaluation | None = None
    baseline = {f"baseline_{k}": v for k, v in task.baseline(valid[1]).items()}

    def evaluate(step: int, profile: bool) -> Evaluation:
        nonlocal last
        last = _evaluate(model, task, step, valid, probe_batch if profile else None)
        if step == 0:
            last.scalars.update(baseline)
        last.scalars["train_loss"] = float(np.mean(losses)) if losses else np.nan
        last.scalars["grad_norm"] = float(np.mean(grad_norms)) if grad_norms else np.nan
        if regularised:
            last.scalars["omega"] = float(np.mean(omegas)) if omegas else np.nan
        for kept in (losses, grad_norms, omegas):
            kept.clear()
        if on_eval:
            on_eval(last)
        return last

    evaluate(0, profile=True)
    for step in range(1, settings.steps + 1):
        x, y = task.batch(train_rng, settings.batch_size)
        with np.errstate(all="ignore"):  # overflow is an outcome here, checked just below
            out = model.loss_and_grads(x, y, loss=task.loss, loss_at=task.loss_at, **regularised)
            # a non-finite loss updates nothing; sgd_update refuses a non-finite gradient itself
            if np.isfinite(out.loss):
                norm = sgd_update(model.params, out.grads, settings.lr, settings.clip)
            else:
                norm = joint_norm(out.grads.values())  # recorded, not used
        losses.append(out.loss / per_step)
        grad_norms.append(norm)
        if regularised:
            omegas.append(out.omega)
        # the loss, the gradient, or lr·g (the parameters after the update) not finite
        finite = np.isfinite(out.loss) and np.isfinite(norm)
        if not (finite and all(np.isfinite(p).all() for p in model.params.values())):
            scalars = {"train_loss": float(losses[-1]), "grad_norm": float(norm)}
            if on_eval:
                on_eval(Evaluation(step, scalars))
            return Outcome("diverged", step - 1, diverged_at=step, final=scalars)
        done = step == settings.steps
        profile = step % settings.profile_every == 0 or done
        if step % settings.eval_every == 0 or profile:  # a profile is taken at an evaluation
            ev = evaluate(step, profile=profile)
            valid_metrics = {k[6:]: v for k, v in ev.scalars.items() if k.startswith("valid_")}
            if settings.early_stop and task.solved(valid_metrics):
                if ev.log10_long is None:  # the final state always has a profile
                    evaluate(step, profile=True)
                return Outcome("solved", step, final=last.scalars)
    return Outcome("finished", settings.steps, final=last.scalars)


def _evaluate(model: Model, task: Task, step: int, valid, probe_batch) -> Evaluation:
    """Validation metrics, the model's diagnostics and, on the probe batch, its profiles (an
    RNN's over h_t, the attention model's over its input embeddings e_t)."""
    with np.errstate(all="ignore"):
        scores = model.scores(valid[0], loss_at=task.loss_at)
    metrics = task.metrics(scores, valid[1])
    scalars = {f"valid_{k}": v for k, v in metrics.items()}
    if task.has_criterion:
        scalars["solved"] = float(task.solved(metrics))
    scalars.update(model.diagnostics())
    ev = Evaluation(step, scalars)
    if probe_batch is not None:
        with np.errstate(all="ignore"):
            p = model.probe(*probe_batch, task.loss, task.loss_at)
        scalars.update(p.scalars())
        ev.log10_total, ev.log10_long, ev.log10_dx = p.log10_total, p.log10_long, p.log10_dx
        ev.state_norm, ev.saturation_t, ev.check = p.state_norm, p.saturation_t, p.check
    return ev
