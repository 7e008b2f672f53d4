"""`python -m simulator` is the `sresim` command."""

from .cli import main

raise SystemExit(main())
