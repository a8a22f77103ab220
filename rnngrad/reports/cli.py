"""Regenerate every figure, table and the page of one experiment from the MLflow store.

    rnngrad-report --experiment vanishing [--tracking-uri URI] [--out DIR]
                   [--only figures|tables]
    python -m rnngrad.reports ...       python reports/build.py ...       make report

Reads the store only (never retrains); writes <out>/figures/<experiment>/,
<out>/tables/<experiment>/ (with findings.md, what the sweep shows) and
<out>/<experiment>.html, where <out> is the project's reports/ folder unless --out says
otherwise. A report already built from the same runs, code and options is not built again
(rnngrad.reports.fresh; --force builds it anyway). Running it twice gives the same files;
runs added by a later sweep appear;
failed, killed and diverged runs are shown and counted; a failed self-check is a WARNING;
an empty or missing experiment gives a message and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnngrad.pipeline.store import PROJECT_ROOT, public
from rnngrad.reports import fresh
from rnngrad.reports.attach import attach
from rnngrad.reports.load import NoRuns, load, read

OUT = PROJECT_ROOT / "reports"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rnngrad-report", description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="vanishing", help="MLflow experiment name")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="store to read (default: $MLFLOW_TRACKING_URI, else mlflow.db)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder for figures/, tables/")
    parser.add_argument(
        "--ui",
        default=None,
        help="an MLflow UI's address (make report gives make ui's): the page links run ids to "
        "it; a tracking server is its own UI",
    )
    parser.add_argument(
        "--attach",
        action="store_true",
        help="also upload the report to the experiment's latest sweep run (make sweep does)",
    )
    parser.add_argument(
        "--only", choices=("figures", "tables"), default=None, help="just these (no page)"
    )
    parser.add_argument(
        "--force", action="store_true", help="build it even if it is up to date with the store"
    )
    return parser.parse_args(argv)


def write(exp, out: Path, only: str | None, ui: str | None = None) -> tuple[list[Path], list]:
    """Write what `only` asks for (everything if None). Returns the paths and the findings."""
    # plotting is imported here, once there is something to draw: an up-to-date report is
    # answered without seaborn and matplotlib
    from rnngrad.reports import findings, gallery, page, tables

    written, built_figures, built_tables = [], [], []
    if only in (None, "figures"):
        built_figures = gallery.build(exp)
        written += gallery.save(built_figures, out / "figures" / exp.name)
    items = findings.findings(exp)
    if only in (None, "tables"):
        built_tables = tables.build(exp)
        folder = out / "tables" / exp.name
        written += tables.save(built_tables, folder)
        (folder / "findings.md").write_text(findings.markdown(exp, items))
        written.append(folder / "findings.md")
    if only is None:
        written.append(page.render(exp, built_figures, built_tables, items, out, ui))
    return written, items


def main(argv: list[str] | None = None) -> int:
    """Build the report unless it is up to date; print what was read and written, warnings
    and notes. Returns the exit status: 1 when the store or the experiment is missing or has
    no runs."""
    args = parse(argv)
    start = time.perf_counter()
    try:
        found = read(args.experiment, args.tracking_uri)
    except NoRuns as err:
        print(f"report: {err}", file=sys.stderr)
        return 1
    uri, client, runs = found
    server = uri.startswith(("http://", "https://"))
    ui = public(uri).rstrip("/") if server else args.ui  # a server is its own UI
    digest = fresh.fingerprint(runs, f"store={public(uri)} ui={ui}")
    page = args.out / f"{args.experiment}.html"
    if args.only is None and not args.force and fresh.up_to_date(args.out, args.experiment, digest):
        print(
            f"report '{args.experiment}': up to date with its {len(runs)} runs, not built again "
            f"(checked in {time.perf_counter() - start:.2f} s; --force builds it)"
        )
    else:
        exp = load(args.experiment, args.tracking_uri, found=found)
        loaded = time.perf_counter() - start
        written, items = write(exp, args.out, args.only, ui)
        counts = ", ".join(f"{v} {k}" for k, v in exp.listed["outcome"].value_counts().items())
        print(
            f"report '{exp.name}': {len(exp.listed)} runs ({counts}; {len(exp.runs)} analysed) "
            f"read in {loaded:.1f} s; wrote {len(written)} files in "
            f"{time.perf_counter() - start:.1f} s"
        )
        for item in items:
            if item.warning:
                print(f"WARNING: {item.text}")
        for note in exp.notes:
            print(f"note: {note}")
        if args.only is not None:
            return 0
        fresh.mark(args.out, args.experiment, digest)
    if args.attach:
        said = attach(client, args.experiment, args.out, digest)
        print(f"attached to the latest sweep's run: {said}")
    print(f"open {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
