"""The one page a person opens: every figure and table of an experiment, with captions.

Written by reports/build.py as reports/<experiment>.html, next to figures/ and tables/.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } .meta { color: #555; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.92em; color: #333; margin-top: 0.4em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; } .warn { background: #fde2e2; border: 2px solid #c00; padding: 1em;
font-weight: bold; } .note { background: #fff6d6; border: 1px solid #d9b300; padding: 0.6em; }
nav a { margin-right: 1em; }
"""


def render(exp, figures, tables, violations: pd.DataFrame, out: Path) -> Path:
    name = exp.name
    runs = exp.runs
    counts = runs["outcome"].value_counts()
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>rnngrad: {name}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>rnngrad report: {html.escape(name)}</h1>",
        f"<p class='meta'>{len(runs)} runs read from {html.escape(exp.uri)} — "
        + ", ".join(f"{v} {html.escape(k)}" for k, v in counts.items())
        + ". Regenerate: <code>make report EXPERIMENT="
        + html.escape(name)
        + "</code></p>",
    ]
    if not violations.empty:
        parts.append(
            f"<p class='warn'>Pascanu's bound violated {len(violations)} time(s): a "
            "run's gradient grew faster in one step than γ·σ_max(W_r) allows. The bound "
            "is a theorem, so this is a bug in the engine. Runs: "
            + html.escape(", ".join(sorted(violations["run_id"].unique())[:10]))
            + "</p>"
        )
    bad = runs[runs["outcome"].isin(["failed", "killed", "running", "diverged"])]
    if len(bad):
        items = "".join(
            f"<li>{html.escape(str(r.run_name))}: <b>{r.outcome}</b>"
            + (f" at step {int(r.diverged_at)}" if r.outcome == "diverged" else "")
            + (f" — {html.escape(str(r.error))}" if r.error else "")
            + "</li>"
            for r in bad.itertuples()
        )
        parts.append(
            f"<div class='note'>Runs that did not finish normally ({len(bad)}), shown "
            f"and counted in every figure and table:<ul>{items}</ul></div>"
        )
    parts.append(
        "<nav>"
        + "".join(f"<a href='#{f.name}'>{html.escape(f.title)}</a>" for f in figures)
        + "".join(f"<a href='#table-{t.name}'>{html.escape(t.title)}</a>" for t in tables)
        + "</nav>"
    )
    for f in figures:
        png, svg = f"figures/{name}/{f.name}.png", f"figures/{name}/{f.name}.svg"
        parts.append(
            f"<figure id='{f.name}'><h2>{html.escape(f.title)}</h2>"
            f"<a href='{svg}'><img src='{png}' alt='{html.escape(f.title)}'></a>"
            f"<figcaption>{html.escape(f.caption)} "
            f"<a href='{png}'>PNG</a> · <a href='{svg}'>SVG</a></figcaption></figure>"
        )
    for t in tables:
        links = " · ".join(
            f"<a href='tables/{name}/{t.name}.{ext}'>{ext.upper()}</a>"
            for ext in ("md", "csv", "tex")
        )
        parts.append(
            f"<section id='table-{t.name}'><h2>{html.escape(t.title)}</h2>"
            f"<p>{html.escape(t.caption)} {links}</p>"
            + t.shown.to_html(index=False, border=0, na_rep="–")
            + "</section>"
        )
    parts.append("</body></html>")
    path = out / f"{name}.html"
    path.write_text("\n".join(parts))
    return path
