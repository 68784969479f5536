"""The work queues' settings (``CLAIMFLOW_WORKLIST_*``): shared by the nightly ``build_worklist`` task, the
276 claim-status requests (which claims have waited too long) and the ``claimflow worklist`` command."""

from __future__ import annotations

from typing import Any


def worklist_config() -> Any:
    """The :class:`adjudication.worklist.WorklistConfig` from ``CLAIMFLOW_WORKLIST_*`` settings."""
    from pydantic_settings import BaseSettings, SettingsConfigDict

    from adjudication.worklist import WorklistConfig

    class WorklistSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CLAIMFLOW_WORKLIST_", env_file=".env", extra="ignore")

        filing_days_commercial: int = 90
        filing_days_medicaid: int = 180
        filing_days_medicare: int = 365
        filing_days_default: int = 90
        no_277ca_days: int = 14
        no_835_days: int = 45
        refund_days: int = 60
        auth_expiring_days: int = 14

    s = WorklistSettings()
    return WorklistConfig(
        filing_days={
            "commercial": s.filing_days_commercial,
            "medicaid": s.filing_days_medicaid,
            "medicare": s.filing_days_medicare,
        },
        default_filing_days=s.filing_days_default,
        no_277ca_days=s.no_277ca_days,
        no_835_days=s.no_835_days,
        refund_days=s.refund_days,
        auth_expiring_days=s.auth_expiring_days,
    )
