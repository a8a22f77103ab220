"""Regenerate every figure, table and the page of one experiment from the MLflow store.

    python reports/build.py --experiment vanishing [--tracking-uri URI] [--out reports]
                            [--only figures|tables]
    make report [EXPERIMENT=vanishing]

Reads the store only (never retrains); writes reports/figures/<experiment>/,
reports/tables/<experiment>/ (with findings.md, what the sweep shows) and
reports/<experiment>.html. Running it twice gives the same files; runs added by a later
sweep appear; failed, killed and diverged runs are shown and counted; a failed self-check
is a WARNING; an empty or missing experiment gives a message and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnngrad.pipeline.tracking import PROJECT_ROOT
from rnngrad.reports import findings as finds
from rnngrad.reports import gallery as figs
from rnngrad.reports import page
from rnngrad.reports import tables as tabs
from rnngrad.reports.load import NoRuns, load

OUT = PROJECT_ROOT / "reports"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="vanishing", help="MLflow experiment name")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="store to read (default: $MLFLOW_TRACKING_URI, else mlflow.db)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder for figures/, tables/")
    parser.add_argument(
        "--only", choices=("figures", "tables"), default=None, help="just these (no page)"
    )
    args = parser.parse_args(argv)
    only = args.only
    start = time.perf_counter()
    try:
        exp = load(args.experiment, args.tracking_uri)
    except NoRuns as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    loaded = time.perf_counter() - start
    written, built_figs, built_tabs = [], [], []
    if only in (None, "figures"):
        built_figs = figs.build(exp)
        written += figs.save(built_figs, args.out / "figures" / exp.name)
    items = finds.findings(exp)
    if only in (None, "tables"):
        built_tabs = tabs.build(exp)
        folder = args.out / "tables" / exp.name
        written += tabs.save(built_tabs, folder)
        (folder / "findings.md").write_text(finds.markdown(exp, items))
        written.append(folder / "findings.md")
    if only is None:
        written.append(page.render(exp, built_figs, built_tabs, items, args.out))
    counts = ", ".join(f"{v} {k}" for k, v in exp.listed["outcome"].value_counts().items())
    print(
        f"report '{exp.name}': {len(exp.listed)} runs ({counts}; {len(exp.runs)} analysed) read "
        f"in {loaded:.1f} s; wrote {len(written)} files in {time.perf_counter() - start:.1f} s"
    )
    for item in items:
        if item.warning:
            print(f"WARNING: {item.text}")
    for note in exp.notes:
        print(f"note: {note}")
    if only is None:
        print(f"open {written[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
