"""Bundled face networks that ship with the repository and work offline."""
