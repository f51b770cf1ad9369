"""The `fine-tune` command line: every flag documented, torch not imported to build it, torchrun-safe names."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from faceunlock.cli import fine_tune
from tests.train.conftest import REPO


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    fine_tune.add_parser(p.add_subparsers(dest="command"))
    return p._subparsers._group_actions[0].choices["fine-tune"]


def test_every_flag_has_help_and_run_is_the_handler() -> None:
    ft = parser()
    for action in ft._actions:
        if action.dest != "help":
            assert action.help, action.dest
    assert "--people-per-batch" in ft.format_help()  # help strings must also format (no stray %-specs)
    args = ft.parse_args(["data", "--out", "o"])
    assert args.func is fine_tune.run
    cfg = fine_tune.config_from_args(args)
    assert (cfg.base, cfg.train_layers, cfg.mining, cfg.p, cfg.k) == ("auto", "head", "semi-hard", 8, 4)


def test_flags_survive_torchrun_argument_parsing() -> None:
    """torchrun's parser sees the script's flags too: a prefix of one of its options (--p, --monitor) breaks it."""
    from torch.distributed.run import get_args_parser

    opts = [o for a in parser()._actions for o in a.option_strings if o.startswith("--")]
    tr = get_args_parser()
    for o in opts:
        ns = tr.parse_args(["--nproc_per_node", "2", "-m", "faceunlock", "fine-tune", o, "1"])
        assert ns.training_script_args[-2:] == [o, "1"], o


def test_building_the_parser_does_not_import_torch() -> None:
    code = ("import sys, argparse; from faceunlock.cli import fine_tune; p = argparse.ArgumentParser(); "
            "fine_tune.add_parser(p.add_subparsers()); print('torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_impossible_numbers_are_rejected_before_loading_anything() -> None:
    for bad in (
        ["--images-per-person", "1"],
        ["--val-fraction", "1.5"],
        ["--target-far", "0"],
        ["--margin", "-1"],
    ):
        with pytest.raises(ValueError):
            fine_tune.check_args(parser().parse_args(["d", "--out", "o", *bad]))
