"""Fine-tune settings have one source of defaults: the CLI's flags, the API and the benchmarks agree."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

from faceunlock.cli import fine_tune as cli
from faceunlock.train.config import FineTuneConfig


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["fine-tune", *argv])


def test_flags_default_to_the_config_fields():
    args = _parse("people", "--out", "o")
    cfg = cli.config_from_args(args)
    api = FineTuneConfig(data=cfg.data, out=cfg.out)
    assert cfg == api  # every default the CLI applies is the API's default
    with_default = [f.name for f in fields(FineTuneConfig) if f.default is not MISSING]
    assert all(hasattr(args, n) or n == "progress" for n in with_default), "a config field without a flag"


def test_l2_sp_default_depends_on_the_base_in_both_paths():
    api = FineTuneConfig(data=None, out=None)  # type: ignore[arg-type]
    assert api.resolved_l2_sp(base_untrained=False) == 0.3
    assert api.resolved_l2_sp(base_untrained=True) == 0.0
    cfg = cli.config_from_args(_parse("people", "--out", "o", "--l2-sp", "0.1"))
    assert cfg.resolved_l2_sp(base_untrained=False) == 0.1


def test_flags_reach_the_config():
    cfg = cli.config_from_args(_parse("people", "--out", "o", "--people-per-batch", "5", "--images-per-person",
                                      "3", "--metric", "tar", "--no-progress", "--val", "v"))  # fmt: skip
    assert (cfg.p, cfg.k, cfg.monitor, cfg.progress, cfg.val.name) == (5, 3, "tar", False, "v")
