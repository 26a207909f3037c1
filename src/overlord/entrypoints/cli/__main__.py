"""``python -m overlord.entrypoints.cli``: the console script without an installed wrapper."""

from overlord.entrypoints.cli.app import main

raise SystemExit(main())
