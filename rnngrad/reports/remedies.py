"""What a sweep over named remedies shows (the `remedy` axis of the remedies and pascanu2013
presets): which remedies keep the gradient, which let the network learn, and where the two
disagree. Every number is computed from the recorded runs; the sentences are per group of the
study's other axes (e.g. per initialisation), at the group's longest sequence.

The gradient's reach of a run is log10 (‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖) on the probe batch (the
profile's `log10_ratio`), at initialisation (step 0) and at the run's last profile. A remedy
*keeps* the gradient where the median reach over seeds is at least KEEP decades; it *learns*
where at least half of its seeds solved the task (as the figure of success against length
counts them: outcome_figures.judged).
"""

from __future__ import annotations

import pandas as pd

from rnngrad.reports.axes import LENGTHS, SEED, groups, labelled, text
from rnngrad.reports.outcome_figures import REACH, judged
from rnngrad.reports.wording import num

REMEDY = "remedy"
KEEP = -2.0  # decades: ‖∂ℓ_T/∂h_1‖ at least 1 % of ‖∂ℓ_T/∂h_T‖


def remedy_sentences(runs: pd.DataFrame, axes: list[str]) -> list[str]:
    """The sentences of a study whose axes include `remedy`, per group of its other axes."""
    length = next((a for a in LENGTHS if a in axes), None)
    others = [a for a in axes if a not in (REMEDY, length, SEED)]
    succeeded = judged(runs)["succeeded"]
    runs = runs.assign(start=runs.get(REACH), end=runs.get("log10_ratio"), succeeded=succeeded)
    out = []
    for key, group in groups(runs, others):
        prefix = f"{labelled(zip(others, key, strict=True))}: " if others else ""
        longest = group[group[length] == group[length].max()] if length else group
        where = f" at {length} = {text(longest[length].iloc[0])}" if length else ""
        out += [prefix + s for s in group_sentences(group, longest, where)]
    return out


def group_sentences(runs: pd.DataFrame, longest: pd.DataFrame, where: str) -> list[str]:
    per = longest.groupby(REMEDY, sort=False)
    start, end = per["start"].median(), per["end"].median()
    out = [
        kept_sentence(start, f"At initialisation{where}"),
        kept_sentence(end, f"At the end of training{where}"),
    ]
    if longest["succeeded"].isna().all():
        return [*out, "The task has no success criterion: nothing here says which remedy learns."]
    learns = per["succeeded"].agg(lambda s: (s == 1).sum() * 2 >= len(s))
    out.append(solved_sentence(runs))
    out.append(disagreement(start >= KEEP, end >= KEEP, learns, start, end, per, where))
    return out


def solved_sentence(runs: pd.DataFrame) -> str:
    """ "Seeds that solved the task at T = 30, 60, 100 (of 4 each): IRNN 4, 0, 0; ..." (k of n
    for each where remedies ran unequally often)."""
    length = next((c for c in LENGTHS if c in runs), None)
    keys = [REMEDY, length] if length else [REMEDY]
    counts = runs.groupby(keys, sort=True)["succeeded"].agg(["sum", "size"])
    even = counts["size"].nunique() == 1
    said = [
        str(int(k)) if even else f"{int(k)} of {n}"
        for k, n in zip(counts["sum"], counts["size"], strict=True)
    ]
    per_remedy = pd.Series(said, index=counts.index).groupby(level=0, sort=False)
    listed = "; ".join(f"{r} {', '.join(c.tolist())}" for r, c in per_remedy)
    of = f"of {counts['size'].iloc[0]} each" if even else "runs differ in number"
    lengths = sorted(runs[length].unique()) if length else []
    where = f" at {length} = {', '.join(text(v) for v in lengths)}" if length else ""
    return f"Seeds that solved the task{where} ({of}): {listed}."


def kept_sentence(reach: pd.Series, when: str) -> str:
    """Which remedies keep the gradient (median reach >= KEEP; growth counts as kept)."""
    kept = reach[reach >= KEEP].sort_values(ascending=False)
    lost = reach[reach < KEEP].sort_values(ascending=False)
    unknown = reach[reach.isna()]
    said = (
        f"{when}, the gradient loses at most {-KEEP:g} decades between h_T and h_1 (median "
        "log10 ‖∂ℓ_T/∂h_1‖ / ‖∂ℓ_T/∂h_T‖ over seeds; above 0 it grows) with "
        + (listing(kept) if len(kept) else "no remedy")
    )
    said += f"; it loses more with {listing(lost)}" if len(lost) else ""
    said += f"; not recorded for {', '.join(map(str, unknown.index))}" if len(unknown) else ""
    return said + "."


def listing(reach: pd.Series) -> str:
    return ", ".join(f"{r} ({num(v)})" for r, v in reach.items())


def disagreement(keeps_start, keeps_end, learns, start, end, per, where: str) -> str:
    """Where reach and learning disagree: kept but not learned, or learned though lost."""
    state = per["state_norm_last"].median() if "state_norm_last" in per.obj else None
    parts = []
    for r in learns.index:
        if learns[r] and not keeps_start[r]:
            parts.append(
                f"{r} learns although its gradient at initialisation reaches {num(start[r])}"
            )
        elif not learns[r] and (keeps_start[r] or keeps_end[r]):
            kept = {
                (True, True): "at initialisation and to the end of training",
                (
                    True,
                    False,
                ): f"at initialisation, loses it in training ({num(end[r])} at the end),",
                (False, True): f"at the end of training ({num(end[r])}), not at initialisation,",
            }[(bool(keeps_start[r]), bool(keeps_end[r]))]
            size = f" (median ‖h_T‖ at the end {num(state[r])})" if state is not None else ""
            parts.append(f"{r} keeps the gradient {kept} yet does not learn{size}")
    if not parts:
        return f"Reach and learning agree for every remedy{where}."
    return f"Where they disagree{where}: " + "; ".join(parts) + "."
