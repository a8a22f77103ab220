"""The README's quick-start snippet runs and prints exactly what the README says it prints.

Run: .venv/bin/pytest tests/test_readme.py
"""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_prints_what_the_readme_shows():
    text = README.read_text()
    match = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S)
    assert match, "README lost its quick-start snippet and its printed output"
    code, expected = match.groups()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "README.md", "exec"), {})
    assert buffer.getvalue() == expected
