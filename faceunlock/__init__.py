"""faceunlock: walk up to your computer and be let in by your face, and nobody else."""

__version__ = "0.1.0"

from faceunlock.cpu import prepare_environment as _prepare_environment

_prepare_environment()  # OpenMP's wait policy is read once, when torch loads: set it before any module imports torch
