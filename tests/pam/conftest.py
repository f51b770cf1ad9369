"""Fixtures for the PAM tests: the built module, throwaway PAM services and accounts, always cleaned up."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pam.pamhelp import Account, PamService, build_module, need_root_and_tools, short_tmpdir


@pytest.fixture(scope="session")
def pam_module() -> Path:
    need_root_and_tools()
    return build_module()


@pytest.fixture
def pam_service(pam_module: Path) -> Iterator[Callable[[list[str]], PamService]]:
    """make(lines) → a PamService under /etc/pam.d; every one made is removed at teardown, whatever happened."""
    made: list[PamService] = []

    def make(lines: list[str]) -> PamService:
        made.append(PamService(lines))
        return made[-1]

    try:
        yield make
    finally:
        for s in made:
            s.close()


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = short_tmpdir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    a = Account()
    try:
        yield a
    finally:
        a.close()
