"""A sweep's job configs, as Hydra composes them, at a fraction of the cost (the sweeper's)."""

from __future__ import annotations

import copy

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, open_dict


class Composer:
    """A sweep's job configs, as Hydra composes them, at a fraction of the cost.

    Hydra composes a config in two steps: the defaults list that its config-group overrides
    choose (task=adding, +remedy=irnn), which costs ~0.1 s, then its value overrides applied
    in order (model.hidden_size=128). The jobs of a sweep mostly share their groups, so the
    first step is done once per distinct set of group overrides and kept; each job then gets
    a copy with its own values applied by the function Hydra applies them with
    (tests/test_pipeline.py compares every preset's every job with Hydra's own composition)."""

    def __init__(self, loader, master: DictConfig, parser: OverridesParser) -> None:
        self.loader, self.master, self.parser = loader, master, parser
        self.composed: dict[tuple[str, ...], DictConfig] = {}  # by group overrides

    def composing(self, override) -> bool:
        """Whether an override takes part in the first step: a config group's choice, as
        Hydra tells them (a dict value is a value, even on a group's key), and any hydra.*
        key, which only the hydra node (dropped) holds."""
        key = override.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")) or override.package:
            return True
        return self.loader.repository.group_exists(key) and not isinstance(override.value(), dict)

    def __call__(self, job: list[str]) -> DictConfig:
        parsed = self.parser.parse_overrides(list(job))
        group = [self.composing(o) for o in parsed]
        groups = tuple(o.input_line for o, g in zip(parsed, group, strict=True) if g)
        if groups not in self.composed:
            cfg = self.loader.load_sweep_config(self.master, list(groups))
            with open_dict(cfg):
                del cfg["hydra"]
            self.composed[groups] = cfg
        cfg = copy.deepcopy(self.composed[groups])
        values = [o for o, g in zip(parsed, group, strict=True) if not g]
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        return cfg
