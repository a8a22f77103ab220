"""Check the command line before Hydra starts: a bad key, type or option fails in one line.

Hydra would report these itself, over several lines and without saying what is allowed.
This parses the overrides and composes the config once with Hydra's compose API (a key or
type the schema does not have fails here). A single run's config is also built here
(rnngrad.pipeline.config.build: every value checked, nothing written yet), and the plan is
kept for its job; a sweep's jobs are built by the sweeper. Then it hands over to Hydra.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import open_dict

from .config import build, remember
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
            cfg = compose("config", overrides=fixed)
        if not multirun:
            with open_dict(cfg):
                cfg.pop("hydra", None)
            remember(build(cfg))
    except Exception as err:
        print(f"bad configuration: {one_line(err)}", file=sys.stderr, flush=True)
        sys.exit(2)
