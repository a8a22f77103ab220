"""A sweep's job configs, as Hydra composes them, at a fraction of the cost (the sweeper's,
and the worker pool's for each job it runs)."""

from __future__ import annotations

import copy

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict


class Composer:
    """A sweep's job configs, as Hydra composes them, at a fraction of the cost.

    Hydra composes a config in two steps: the defaults list that its config-group overrides
    choose (task=adding, +remedy=irnn), which costs ~0.1 s, then its value overrides applied
    in order (model.hidden_size=128). The jobs of a sweep mostly share their groups, so the
    first step is done once per distinct set of group overrides and kept; each job then gets
    a copy with its own values applied by the function Hydra applies them with
    (tests/test_pipeline.py compares every preset's every job with Hydra's own composition).
    `job_config` is the job's config (the sweeper's, to validate and hash it); `sweep_config`
    equals what Hydra's `load_sweep_config` returns, its hydra node too (a worker's, to run
    the job). With `hydra.searchpath` set, which can add config groups that only Hydra's
    own composition finds, every job is composed by Hydra in full."""

    def __init__(self, loader, master: DictConfig, parser: OverridesParser) -> None:
        self.loader, self.master, self.parser = loader, master, parser
        self.searchpath = bool(OmegaConf.select(master, "hydra.searchpath"))
        self.with_hydra: dict[tuple[str, ...], DictConfig] = {}  # by group overrides
        self.without_hydra: dict[tuple[str, ...], DictConfig] = {}

    def composing(self, override) -> bool:
        """Whether an override takes part in the first step: a config group's choice, as
        Hydra tells them (a dict value is a value, even on a group's key), and any hydra.*
        key."""
        key = override.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")) or override.package:
            return True
        return self.loader.repository.group_exists(key) and not isinstance(override.value(), dict)

    def composed(self, job: list[str], hydra: bool) -> tuple[DictConfig, list]:
        """(the job's config, with the hydra node or without; its parsed overrides)."""
        parsed = self.parser.parse_overrides(list(job))
        if self.searchpath or any(o.key_or_group == "hydra.searchpath" for o in parsed):
            return self.hydras(job, hydra), parsed  # Hydra's, in full
        split = [(o, self.composing(o)) for o in parsed]
        groups = tuple(o.input_line for o, composing in split if composing)
        kept = self.with_hydra if hydra else self.without_hydra
        if groups not in kept:
            kept[groups] = self.hydras(groups, hydra)
        cfg = copy.deepcopy(kept[groups])
        values = [o for o, composing in split if not composing]
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        return cfg, parsed

    def hydras(self, overrides, hydra: bool) -> DictConfig:
        """Hydra's own composition of `overrides`, with its hydra node or without."""
        cfg = self.loader.load_sweep_config(self.master, list(overrides))
        if not hydra:
            with open_dict(cfg):
                del cfg["hydra"]
        return cfg

    def job_config(self, job: list[str]) -> DictConfig:
        """The job's config, without Hydra's own node."""
        return self.composed(job, hydra=False)[0]

    def sweep_config(self, job: list[str]) -> DictConfig:
        """What Hydra's `load_sweep_config(master, job)` returns: the job's config and the
        hydra node that says how it was made (its overrides, its output folder's name)."""
        cfg, parsed = self.composed(job, hydra=True)
        task = [o for o in parsed if not o.is_hydra_override()]
        naming = cfg.hydra.job.config.override_dirname
        cfg.hydra.overrides.task = [o.input_line for o in task]  # all of them, in their order
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task,
            kv_sep=naming.kv_sep,
            item_sep=naming.item_sep,
            exclude_keys=naming.exclude_keys,
        )
        OmegaConf.copy_cache(from_config=self.master, to_config=cfg)
        return cfg
