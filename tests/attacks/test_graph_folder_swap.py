"""Attack: swap the network the daemon runs by writing its compiled-graph folder.

Since decision 023 the unlock path runs ONNX exports of the networks, kept in a cache folder. A graph decides who
gets in exactly like the weights it came from: a user who could write the folder the root daemon reads would
replace the face network with one that maps every face to the owner's descriptor. The daemon keeps its graphs in
its own 0700 state folder, and refuses to start on a graph folder — or a graph file — that anyone but root can
change (the rule it already applied to weight files). Real daemon processes, real graphs, real frames.
"""

from __future__ import annotations

import os
import shutil

import pytest

from faceunlock import runtime
from tests.service.helpers import NOBODY, Daemon, cli, need_root, request, scratch_dir
from tests.shared_data import REAL_MOV


@pytest.fixture
def base():
    need_root()
    with scratch_dir("fu-graphs-") as b:
        yield b


def _daemon(base, graphs):
    env = {runtime.GRAPHS_ENV: str(graphs)}
    return cli("daemon", "--socket", base / "s.sock", "--state-dir", base / "state", "--source", REAL_MOV,
               timeout=240, env=env)  # fmt: skip


def _shared_graphs(dest):
    """The suite's graphs (every network already exported, tests/conftest.py), copied into `dest`."""
    from faceunlock.auth import Engine

    Engine.load("dlib-resnet34")
    shutil.copytree(runtime.graphs_dir(), dest)
    return dest


def test_a_graph_folder_a_user_owns_is_refused(base):
    graphs = _shared_graphs(base / "graphs")
    os.chown(graphs, NOBODY, NOBODY)  # the attacker's folder: they could put any network in it
    r = _daemon(base, graphs)
    assert r.returncode == 2 and "owned by uid 65534" in r.stderr and str(graphs) in r.stderr
    assert not (base / "s.sock").exists()


def test_a_graph_file_a_user_can_write_is_refused(base):
    graphs = _shared_graphs(base / "graphs")
    victim = next(graphs.glob("backbone-*.onnx"))
    victim.chmod(0o666)  # writable by everyone: swappable between two starts
    r = _daemon(base, graphs)
    assert r.returncode == 2 and "writable by group or others" in r.stderr and victim.name in r.stderr


def test_the_daemon_keeps_its_graphs_in_its_own_state_and_answers(base, monkeypatch):
    """The owner's side: with no graph folder named, the daemon exports into state/graphs (0700, root's) and serves."""
    monkeypatch.delenv(runtime.GRAPHS_ENV, raising=False)
    with Daemon(base, REAL_MOV) as d:
        assert request(d.socket, "STATUS 1")[-1].startswith("OK")
    folder = base / "state" / "graphs"
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and folder.stat().st_uid == 0
    assert len(list(folder.glob("*.onnx"))) == 6
