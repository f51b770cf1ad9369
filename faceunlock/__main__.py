"""`python -m faceunlock` → the CLI."""

from faceunlock.cli.main import main

raise SystemExit(main())
