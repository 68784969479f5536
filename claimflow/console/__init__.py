"""The RCM console: server-rendered pages over claimflow's database (dashboard, work queues, claims, files,
payers), as an Airflow 3 plugin (:mod:`claimflow.console.plugin`) or alone (``claimflow console``).
See docs/CONSOLE.md."""

from __future__ import annotations
