"""Run the real `faceunlock` CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


def faceunlock(*args: str | Path, home: Path | None = None, env: dict | None = None, timeout: float = 2400,
               stdin: str | None = None) -> Result:
    e = dict(os.environ)
    e.update(env or {})
    cmd = [sys.executable, "-m", "faceunlock"]
    if home is not None:
        cmd += ["--home", str(home)]
    p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=e, timeout=timeout,
                       **({"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}))
    return Result(p.returncode, p.stdout, p.stderr)
