"""The one page a person opens: every figure and table of an experiment, with captions.

Written as <out>/<experiment>.html (out: the report folder, reports/ by default), next to
figures/ and tables/, which it links.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..pipeline.store import public
from ..pipeline.verdict import ui_page

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
nav a { margin-left: 1em; } .findings li { margin: 0.3em 0; }
.wide { overflow-x: auto; max-width: 100%; }
.findings li.warn { background: #fde2e2; border-left: 4px solid #c00; padding: 0.3em; }
"""


def inline(text: str) -> str:
    """Escaped text with **bold** marked up."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def render(exp, figures, tables, findings, out: Path, ui: str | None = None) -> Path:
    """Write <out>/<experiment>.html: the header, a failed self-check in red, the findings,
    the runs that did not finish normally, a table of contents, then every figure and table
    with its caption. With `ui` (an MLflow UI's address), run ids link to their run there."""
    name = exp.name
    parts = header(exp)
    failed_checks = [f for f in findings if f.warning and f.text.startswith("SELF-CHECK")]
    if failed_checks:
        parts.append(f"<p class='warn'>{inline(failed_checks[0].text)}</p>")
    parts.append(findings_section(findings, name))
    parts += unfinished(exp.listed)
    parts.append(
        "<nav><b>Contents</b>"
        + "".join(f"<a href='#{f.name}'>{html.escape(f.title)}</a>" for f in figures)
        + "".join(f"<a href='#table-{t.name}'>{html.escape(t.title)}</a>" for t in tables)
        + "</nav>"
    )
    parts += [figure_html(f, name) for f in figures] + [table_html(t, name, ui) for t in tables]
    parts.append("</body></html>")
    path = out / f"{name}.html"
    path.write_text("\n".join(parts))
    return path


def header(exp) -> list[str]:
    """The page's head and title, with how many runs were read and how they ended."""
    name, runs = exp.name, exp.listed
    counts = runs["outcome"].value_counts()
    return [
        f"<!doctype html><html><head><meta charset='utf-8'><title>rnngrad: {name}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>rnngrad report: {html.escape(name)}</h1>",
        f"<p class='meta'>{len(runs)} runs read from {html.escape(public(exp.uri))} — "
        + ", ".join(f"{v} {html.escape(k)}" for k, v in counts.items())
        + f"; {len(exp.runs)} analysed. Regenerate: <code>make report EXPERIMENT="
        + html.escape(name)
        + "</code></p>",
    ]


def findings_section(findings, name: str) -> str:
    """What this sweep shows: a list item per finding, a sub-list of its details."""
    items = []
    for f in findings:
        if f.heading:
            items.append(f"</ul><p><b>{inline(f.text)}</b></p><ul>")
        else:
            sub = "".join(f"<li>{inline(d)}</li>" for d in f.details)
            items.append(
                f"<li{' class=warn' if f.warning else ''}>{inline(f.text)}"
                + (f"<ul>{sub}</ul>" if sub else "")
                + "</li>"
            )
    return (
        "<section class='findings' id='findings'><h2>What this sweep shows</h2><ul>"
        + "".join(items)
        + "</ul><p class='meta'>Every number above is computed from the recorded runs "
        f"(also in <a href='tables/{name}/findings.md'>findings.md</a>).</p></section>"
    )


def unfinished(runs) -> list[str]:
    """A note listing the analysed runs that failed, were killed, still run or diverged."""
    bad = runs[runs["analysed"] & runs["outcome"].isin(["failed", "killed", "running", "diverged"])]
    if not len(bad):
        return []
    items = "".join(
        f"<li>{html.escape(str(r.run_name))}: <b>{r.outcome}</b>"
        + (f" at step {int(r.diverged_at)}" if r.outcome == "diverged" else "")
        + (f" — {html.escape(str(r.error))}" if r.error else "")
        + "</li>"
        for r in bad.itertuples()
    )
    return [
        f"<div class='note'>Runs that did not finish normally ({len(bad)}), counted in "
        f"the tables; figures show diverged runs at their last state:<ul>{items}</ul></div>"
    ]


def figure_html(f, name: str) -> str:
    png, svg = f"figures/{name}/{f.name}.png", f"figures/{name}/{f.name}.svg"
    return (
        f"<figure id='{f.name}'><h2>{html.escape(f.title)}</h2>"
        f"<a href='{svg}'><img src='{png}' alt='{html.escape(f.title)}: "
        f"{html.escape(f.caption)}'></a>"
        f"<figcaption>{html.escape(f.caption)} "
        f"<a href='{png}'>PNG</a> · <a href='{svg}'>SVG</a></figcaption></figure>"
    )


def table_html(t, name: str, ui: str | None = None) -> str:
    links = " · ".join(
        f"<a href='tables/{name}/{t.name}.{ext}'>{ext.upper()}</a>" for ext in ("md", "csv", "tex")
    )
    shown = t.shown.map(lambda v: html.escape(v) if isinstance(v, str) else v)
    shown.columns = [html.escape(str(c)) for c in shown.columns]
    if ui and "run_id" in shown and "experiment_id" in t.frame:
        shown["run_id"] = [
            f"<a href='{html.escape(ui_page(ui, e, r))}'>{r[:8]}</a>"
            for e, r in zip(t.frame["experiment_id"], t.frame["run_id"], strict=True)
        ]
    return (
        f"<section id='table-{t.name}'><h2>{html.escape(t.title)}</h2>"
        f"<p>{html.escape(t.caption)} {links}</p><div class='wide'>"
        + shown.to_html(index=False, border=0, na_rep="–", escape=False)
        + "</div></section>"
    )
