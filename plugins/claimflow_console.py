"""Airflow plugins_folder entry for the claimflow RCM console (``AIRFLOW__CORE__PLUGINS_FOLDER`` points
at this folder). The plugin itself lives in ``claimflow.console.plugin``; see docs/CONSOLE.md."""

from __future__ import annotations

from claimflow.console.plugin import ClaimflowConsolePlugin

__all__ = ["ClaimflowConsolePlugin"]
