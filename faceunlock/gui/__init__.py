"""The Qt wing (PySide6, the optional `faceunlock[gui]` extra): main window, enrolment wizard, lock screen.

Depends on the core only; the core, `train/` and `service/` never import it (import-linter contracts in
pyproject.toml).
"""
