"""`python experiments/train.py --help`: the presets with their question and number of runs,
the config groups with their options, and where to find every key. Read from conf/ and the
engine's registries, without starting Hydra (Hydra's own help: --hydra-help)."""

from __future__ import annotations

import math
import shutil
import textwrap
from pathlib import Path

import yaml

from ..tasks import TASKS
from .config import MODELS


def preset(path: Path) -> tuple[str, int]:
    """(its question, its number of runs). A preset's header is its command, a line "#", then
    a paragraph that opens with the question it answers: the paragraph up to its first "?".
    The runs: the product of its sweep axes' value counts."""
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    after = header[header.index("#") + 1 :] if "#" in header else []
    paragraph = " ".join(line[1:].strip() for line in after)
    question = paragraph[: paragraph.index("?") + 1] if "?" in paragraph else ""
    params = (yaml.safe_load(path.read_text()) or {}).get("hydra", {}).get("sweeper", {})
    axes = (params.get("params") or {}).values()
    return question, math.prod(len(str(v).split(",")) for v in axes)


def groups(conf: Path) -> dict[str, list[str]]:
    """Each config group a user chooses from, with its options."""

    def names(folder: str) -> list[str]:
        return sorted(p.stem for p in (conf / folder).glob("*.yaml"))

    return {
        "task": sorted(TASKS),
        "model": [*MODELS, *names("model")],
        "cluster": names("cluster"),
        "debug": names("debug"),
        "+remedy": names("remedy"),
        "+pascanu/init": names("pascanu/init"),
        "+pascanu/method": names("pascanu/method"),
    }


def text(conf: Path) -> str:
    width = min(100, shutil.get_terminal_size((100, 20)).columns)
    out = [
        "usage: python experiments/train.py [-m] [experiment=PRESET] [GROUP=OPTION] [KEY=VALUE ...]",
        "",
        "  -m              a sweep: the preset's grid (a value on the command line replaces that",
        "                  key's values in it; a,b,c sweeps a key); without -m, one run",
        "",
        "presets (experiment=NAME; vanishing is the default, `make sweep`):",
    ]
    for path in sorted((conf / "experiment").glob("*.yaml")):
        question, runs = preset(path)
        head = f"  {path.stem:<17}{runs:>3} runs  "
        body = textwrap.wrap(question, width - len(head)) or [""]
        out.append(head + body[0])
        out += [" " * len(head) + line for line in body[1:]]
    out += ["", "config groups (GROUP=OPTION):"]
    for group, options in groups(conf).items():
        out += textwrap.wrap(
            ", ".join(options), width, initial_indent=f"  {group:<17}", subsequent_indent=" " * 19
        )
    out += [
        "",
        "every key and its value for a run:   python experiments/train.py --cfg job [...]",
        "where runs go, what they record:     docs/pipeline.md",
        "Hydra's own help:                    python experiments/train.py --hydra-help",
    ]
    return "\n".join(out)
