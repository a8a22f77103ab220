"""Which axis of a study goes to which channel of a figure (a row or column of panels, a
colour, a line style, an x or y axis), and the figures an axis left over splits it into."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rnngrad.reports.axes import file_suffix, groups, labelled, name


@dataclass
class Layout:
    """Which axis goes to which channel of a figure (row, col, hue, style, x, y); `split` are
    the axes left over: one figure per combination of their values."""

    slots: dict[str, str]
    split: list[str]

    def get(self, slot: str) -> str | None:
        return self.slots.get(slot)

    @property
    def used(self) -> list[str]:
        return list(self.slots.values())

    def caption(self, style: str = "line style") -> str:
        """ "Rows: activation; columns: skip; colour: hidden size H." (`style` names what the
        style slot draws: a line style, or a marker)."""
        words = {"row": "rows", "col": "columns", "hue": "colour", "style": style}
        shown = "; ".join(
            f"{w}: {name(self.slots[s])}" for s, w in words.items() if s in self.slots
        )
        return f"{shown[0].upper()}{shown[1:]}." if shown else ""


def plan(
    axes: list[str],
    slots: list[str],
    prefer: dict[str, tuple] | None = None,
    facets: list[str] = (),
) -> Layout:
    """Assign axes to the figure's slots: `facets` (e.g. axes the baseline depends on) to the
    row and column slots first, then each slot's preferred axes, then the rest in order."""
    prefer = prefer or {}
    left = list(axes)
    chosen: dict[str, str] = {}
    for axis in facets:
        slot = next((s for s in ("row", "col") if s in slots and s not in chosen), None)
        if slot and axis in left:
            chosen[slot] = axis
            left.remove(axis)
    for slot in slots:
        if slot in chosen:
            continue
        pick = next((a for a in prefer.get(slot, ()) if a in left), None)
        if pick:
            chosen[slot] = pick
            left.remove(pick)
    for slot in slots:
        if slot not in chosen and left:
            chosen[slot] = left.pop(0)
    return Layout({s: chosen[s] for s in slots if s in chosen}, left)


def parts(runs: pd.DataFrame, split: list[str]):
    """(suffix, label, runs) per combination of the split axes ('' and all runs if none)."""
    if not split:
        yield "", "", runs
        return
    for key, group in groups(runs, split):
        pairs = list(zip(split, key, strict=True))
        yield file_suffix(pairs), labelled(pairs), group
