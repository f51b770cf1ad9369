"""faceunlock: walk up to your computer and be let in by your face, and nobody else."""

__version__ = "0.1.0"
