"""The import contracts in pyproject.toml cover every core module (a new one left out would go unchecked),
and they hold (lint-imports, the same check scripts/test.sh runs)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINGS = {"gui", "train", "service", "cli"}


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_core_module_is_in_the_core_contract():
    core = next(c for c in _contracts() if c["name"].startswith("The core imports no wing"))
    listed = set(core["source_modules"])
    pkg = ROOT / "faceunlock"
    present = {f"faceunlock.{p.stem}" for p in pkg.glob("*.py") if p.stem not in ("__init__", "__main__")}
    present |= {f"faceunlock.{p.name}" for p in pkg.iterdir() if (p / "__init__.py").is_file() and p.name not in WINGS}
    assert present - listed == set(), "add these core modules to the import-linter contract in pyproject.toml"
    assert listed - present == set(), "the contract names modules that no longer exist"
    assert set(core["forbidden_modules"]) >= {f"faceunlock.{w}" for w in WINGS} | {"PySide6"}


def test_the_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "broken" in r.stdout and "0 broken" in r.stdout
