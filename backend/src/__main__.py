"""``python -m factmem``: the command-line interface."""

from factmem.cli import main

raise SystemExit(main())
