"""Desktop-session integration (autostart at login, ...): plain files and processes, no Qt, so the CLI and
tests can use it without a display."""
