"""What the README and docs/ say is what the project does:
- the README is a short front door, and every page it links to exists;
- the quick-start snippet runs and prints exactly what the README says it prints, and the
  end of make sweep's output it shows is what the sweep prints (tested with the sweep below);
- the bad configurations shown in docs/pipeline.md get exactly the line shown there;
- the text task's baseline quoted in the tasks table (docs/tasks.md) is the one the task
  computes;
- the findings quoted for the `vanishing` sweep (docs/reports.md) are what that sweep finds:
  the test runs the whole sweep exactly as `make sweep` does (48 runs, ~2 minutes on 2 cores),
  builds its report and compares every sentence and number with the quoted block, and the
  README's figure (docs/vanishing_profile.png) with the figure that report draws.

Run: .venv/bin/pytest tests/test_readme.py
"""

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from rnngrad.pipeline.verdict import where
from rnngrad.reports.cli import main as cli
from rnngrad.tasks import make_task

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def test_the_readme_is_short_and_its_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    pages = [README, *DOCS.glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_quick_start_prints_what_the_readme_shows():
    text = README.read_text()
    match = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S)
    assert match, "README lost its quick-start snippet and its printed output"
    code, expected = match.groups()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "README.md", "exec"), {})
    assert buffer.getvalue() == expected


def test_the_text_baseline_in_the_tasks_table_is_the_tasks():
    tasks = (DOCS / "tasks.md").read_text()
    row = next(line for line in tasks.splitlines() if line.startswith("| `text`"))
    base = make_task("text").baseline()
    assert f"{base['bpc']:.2f} bits/char" in row
    assert f"accuracy {100 * base['accuracy']:.1f} %" in row


def test_the_refusals_in_the_pipeline_page_are_what_the_commands_print(tmp_path):
    """docs/pipeline.md shows bad configurations and the one line each gets: each command is
    run as written (its store pointed into tmp_path), and prints exactly that line."""
    text = (DOCS / "pipeline.md").read_text()
    block = re.search(r"<!-- refusals:.*?-->\n```\n(.*?)```\n<!-- /refusals -->", text, re.S)
    assert block, "docs/pipeline.md lost its refusals"
    lines = block.group(1).splitlines()
    pairs = list(zip(lines[::2], lines[1::2], strict=True))
    assert len(pairs) >= 8
    elsewhere = [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", f"hydra.run.dir={tmp_path}/run"]
    for command, said in pairs:
        assert command.startswith("$ python experiments/train.py "), command
        arguments = shlex.split(command.removeprefix("$ python experiments/train.py "))
        proc = subprocess.run(
            [sys.executable, str(ROOT / "experiments" / "train.py"), *arguments, *elsewhere],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, (command, proc.stderr)
        assert proc.stderr.strip() == said, command
    assert not (tmp_path / "mlflow.db").exists()


def console_block() -> list[str]:
    """The last lines make sweep prints, as the README's quick start shows them."""
    text = README.read_text()
    block = re.search(r"<!-- console: make sweep -->\n```\n(.*?)```", text, re.S)
    assert block, "the README lost the end of make sweep's output"
    return block.group(1).splitlines()


def quoted_findings() -> list[str]:
    text = (DOCS / "reports.md").read_text()
    block = re.search(r"<!-- findings: vanishing -->\n(.*?)<!-- /findings -->", text, re.S)
    assert block, "docs/reports.md lost its quoted findings"
    return [line for line in block.group(1).splitlines() if line.lstrip().startswith("- ")]


def same(quoted: str, found: str) -> bool:
    """The same sentence with the same numbers (to 2 %; numbers below 1e-6, such as the
    self-check's rounding-level differences, need only both be below 1e-6)."""
    if NUMBER.sub("#", quoted) != NUMBER.sub("#", found):
        return False
    for a, b in zip(NUMBER.findall(quoted), NUMBER.findall(found), strict=True):
        a, b = float(a), float(b)
        if not (abs(a - b) <= 0.02 * max(abs(a), abs(b)) or max(abs(a), abs(b)) < 1e-6):
            return False
    return True


def test_the_quoted_findings_compare_sentences_and_numbers():
    line = "- **rnn tanh** (12 runs). It shrinks by 0.57–1 per step (bound 1.58–2.27)."
    assert same(line, line.replace("0.57", "0.575"))
    assert not same(line, line.replace("0.57", "0.6"))
    assert not same(line, line.replace("shrinks", "grows"))
    assert same("- difference 1.7e-12.", "- difference 2.2e-12.")


@pytest.mark.slow
def test_the_quoted_findings_are_what_the_vanishing_sweep_finds(tmp_path):
    quoted = quoted_findings()
    assert len(quoted) >= 25  # the self-check, and the four variants with their sentences
    sweep = [
        sys.executable,
        str(ROOT / "experiments" / "train.py"),
        "-m",  # the vanishing preset, as make sweep runs it
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"tracking.artifact_root={tmp_path}/art",
        f"hydra.sweep.dir={tmp_path}/multirun",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(sweep, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # the README's quick start shows how make sweep ends: the same summary and regimes
    shown = console_block()
    printed = proc.stdout.splitlines()
    assert shown[0] in printed and shown[1] in printed, (shown[:2], printed[-6:])
    assert re.fullmatch(
        r"recorded: experiment 'vanishing' \(id (\S+)\), sweep run \S+, of sqlite:///\S+/mlflow\.db",
        shown[2],
    )
    eid = shown[2].split("(id ")[1].split(")")[0]
    assert shown[3:] == where(f"sqlite:///{ROOT / 'mlflow.db'}", "vanishing", eid)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert cli(["--experiment", "vanishing", "--tracking-uri", uri, "--out", str(tmp_path)]) == 0
    found = (tmp_path / "tables" / "vanishing" / "findings.md").read_text().splitlines()
    found = [line for line in found if line.lstrip().startswith("- ")]
    assert len(found) == len(quoted)
    for q, f in zip(quoted, found, strict=True):
        assert same(q, f), f"docs/reports.md says:\n{q}\nthe sweep finds:\n{f}"
    # the README's figure is this sweep's profile_initial.png
    shown = matplotlib.image.imread(ROOT / "docs" / "vanishing_profile.png")
    rebuilt = matplotlib.image.imread(tmp_path / "figures" / "vanishing" / "profile_initial.png")
    assert shown.shape == rebuilt.shape and abs(shown - rebuilt).mean() < 0.01
