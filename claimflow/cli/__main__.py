"""``python -m claimflow.cli …`` — the same as the ``claimflow`` command."""

from __future__ import annotations

from claimflow.cli import main

raise SystemExit(main())
