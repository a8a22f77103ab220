"""Check the command line before Hydra starts: a bad key, type or option fails in one line.

Hydra would report these itself, over several lines and without saying what is allowed.
This parses the overrides and composes the config once with Hydra's compose API (a key or
type the schema does not have fails here), then hands over. The values themselves are
checked where they are built, once: job by job by the sweeper, or by a single run's job
(rnngrad.pipeline.config.build).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from .errors import one_line

PASS_THROUGH = (
    "--help",
    "-h",
    "--hydra-help",
    "--info",
    "-i",
    "--cfg",
    "-c",
    "--resolve",
    "--package",
    "-p",
    "--shell-completion",
    "-sc",
    "--version",
    "--run",
    "-r",
)


def preflight(conf_dir: Path, argv: list[str]) -> None:
    if any(a.split("=")[0] in PASS_THROUGH for a in argv):
        return  # Hydra's own informational modes
    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
        if not multirun and len(fixed) < len(overrides):
            raise ValueError("a sweep (a,b or range) needs -m/--multirun")
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            compose("config", overrides=fixed)
    except Exception as err:
        print(f"bad configuration: {one_line(err)}", file=sys.stderr, flush=True)
        sys.exit(2)
