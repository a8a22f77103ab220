"""What this sweep shows: short sentences whose every number is computed from the recorded
runs (the same frames as the figures and tables), written at the top of the report page and
as findings.md beside the tables.

For the whole experiment: the self-check, runs that did not finish or diverged, tasks
without a success criterion, the notes of the loader, and runs set apart because they differ
in what no sweep varied. Then per study and per model variant, the sentences of
rnngrad.reports.sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from rnngrad.reports.axes import name
from rnngrad.reports.frames import MODEL, Study, studies, usable
from rnngrad.reports.remedies import REMEDY, remedy_sentences
from rnngrad.reports.sentences import running_sum, variant_sentences
from rnngrad.reports.wording import covers, num


@dataclass
class Finding:
    text: str
    warning: bool = False
    heading: bool = False
    details: list[str] = field(default_factory=list)  # one sentence each, listed under it


def selfcheck(exp) -> list[Finding]:
    """That the self-check passed in every run, with its largest numbers; or a warning."""
    runs = exp.runs
    failed = runs[runs["selfcheck"].str.startswith("FAILED")]
    checked = runs[runs["selfcheck"].str.startswith(("passed", "FAILED"))]
    if len(failed):
        return [selfcheck_failed(failed, len(checked))]
    if checked.empty:
        return []
    hist = exp.history
    err = hist.loc[hist["metric"] == "selfcheck_rel_err", "value"]
    ratio = hist.loc[hist["metric"] == "selfcheck_bound_ratio", "value"]
    text = (
        f"Self-check passed in all {len(checked)} runs: at every recorded profile the "
        f"engine's own backward ({checked_what(checked)}) agreed with an independent "
        "log-space computation of it"
        + (f" (largest relative difference {num(err.max())})" if len(err) else "")
    )
    if len(ratio):
        text += (
            ", and no example's gradient grew in one step back by more than Pascanu's bound "
            f"allows (largest factor/bound {num(ratio.max())})"
        )
    return [Finding(text + ".")]


def selfcheck_failed(failed: pd.DataFrame, checked: int) -> Finding:
    names = "; ".join(f"{r.run_name}: {r.selfcheck}" for r in failed.head(5).itertuples())
    more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
    return Finding(
        f"SELF-CHECK FAILED in {len(failed)} of {checked} runs: the engine's backward "
        "disagrees with the log-space reference, or an example's gradient broke Pascanu's "
        f"bound. Nothing below can be trusted for these runs. {names}{more}",
        warning=True,
    )


def checked_what(runs: pd.DataFrame) -> str:
    models = set(runs["model"])
    rnn, attention = "∂J/∂h_t and ∂J/∂θ", "∂J/∂e_t"
    if models == {"attention"}:
        return attention
    return f"RNN: {rnn}; attention: {attention}" if "attention" in models else rnn


def outcomes(exp) -> list[Finding]:
    """Runs that did not finish (a warning) and runs that diverged."""
    out = []
    listed = exp.listed[exp.listed["analysed"]]
    bad = listed[listed["outcome"].isin(["failed", "killed", "running"])]
    if len(bad):
        out.append(
            Finding(
                f"{len(bad)} run(s) did not finish ({', '.join(sorted(set(bad['outcome'])))}): "
                "they have no profile and are left out of every figure and sentence below "
                "(the runs table lists them).",
                warning=True,
            )
        )
    diverged = exp.runs[exp.runs["outcome"] == "diverged"]
    if len(diverged):
        out.append(
            Finding(
                f"{len(diverged)} run(s) diverged; they are shown at their last state before "
                "diverging."
            )
        )
    return out


def criteria(exp) -> list[Finding]:
    """Tasks without a success criterion (their runs recorded no `solved`): the figure of
    success against length leaves their runs out, or is not drawn."""
    runs = usable(exp.runs)
    if runs.empty or "task" not in runs:
        return []
    has = runs.get("criterion", pd.Series(False, index=runs.index)).eq(True)
    lacking = sorted({str(t) for t in runs.loc[~has, "task"]})
    if not lacking:
        return []
    one = len(lacking) == 1
    said = (
        f"The task{'' if one else 's'} {', '.join(lacking)} ha{'s' if one else 've'} no "
        "success criterion: "
        + (
            f"{'its' if one else 'their'} runs are not in the figure of success against length."
            if has.any()
            else "the report draws no figure of success against length."
        )
    )
    return [Finding(said)]


def study_findings(exp, study: Study) -> list[Finding]:
    """A heading for a study set apart, then a finding per model variant with its sentences."""
    runs = usable(study.runs)
    out = []
    if study.label:
        out.append(Finding(f"Runs with {study.label} ({covers(runs, study.axes)}):", heading=True))
    if REMEDY in study.axes:  # named remedies: the model's settings vary with the remedy
        out.append(Finding("Remedies:", details=remedy_sentences(runs, study.axes)))
        by, variant_axes = REMEDY, [REMEDY]
    else:
        by, variant_axes = "variant", [a for a in MODEL if a in study.axes]
    rest = [a for a in study.axes if a not in variant_axes]
    groups = runs.groupby(by, sort=True) if variant_axes else [(runs[by].iloc[0], runs)]
    by_variant = {variant: g for variant, g in groups}
    for variant, g in by_variant.items():
        g = g.dropna(subset=["decay_factor"]) if "decay_factor" in g else g
        if g.empty:
            continue
        details = variant_sentences(exp, g, [*rest, *(["model"] if "model" in study.axes else [])])
        plain = by_variant.get(variant.removesuffix(" + skip"))
        if variant.endswith(" + skip") and plain is not None:
            details.append(running_sum(g, plain, variant.removesuffix(" + skip")))
        out.append(
            Finding(f"**{variant}** ({covers(g, rest)}):", details=[d for d in details if d])
        )
    return out


def findings(exp) -> list[Finding]:
    """Every finding of the experiment, in the order the page and findings.md give them."""
    out = selfcheck(exp) + outcomes(exp) + criteria(exp) + [Finding(n) for n in exp.notes]
    found = studies(exp, usable(exp.runs))
    if len(found) > 1:
        apart = sorted({k for s in found for k in s.split_by})
        out.append(
            Finding(
                f"These runs differ in {', '.join(name(k) for k in apart)}, which no sweep "
                "varied: they are never averaged together; each group has figures of its own."
            )
        )
    for study in found:
        out += study_findings(exp, study)
    return out


def markdown(exp, items: list[Finding]) -> str:
    """findings.md: the findings as a Markdown list, with how to regenerate them."""
    lines = [f"# What the '{exp.name}' sweep shows", ""]
    for f in items:
        if f.heading:
            lines += ["", f"**{f.text}**", ""]
        else:
            lines.append(f"- {'**WARNING** ' if f.warning else ''}{f.text}")
            lines += [f"  - {d}" for d in f.details]
    lines += [
        "",
        f"Regenerate: `make report EXPERIMENT={exp.name}` (numbers computed from the runs).",
    ]
    return "\n".join(lines) + "\n"
