"""The one settings object. Everything configurable comes from environment variables (``CLAIMFLOW_*``)
or a ``.env`` file in the working directory; nothing secret is ever a default in code.

Partner (clearinghouse) connection details live in ``sftp.partner`` profiles, loaded from
``CLAIMFLOW_PARTNER_<NAME>`` variables or Airflow connections, not here.

At rest, everything under ``data_dir`` is private: :func:`prepare_data_dirs` creates (or tightens) the
data folder and its outbox, inbox, archive, quarantine and reports folders as 0700, and
:func:`private_umask` (from :mod:`claimflow.db.at_rest`) makes every file claimflow writes 0600.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from claimflow.db.at_rest import ensure_private_dir, private_umask

__all__ = ["Settings", "get_settings", "prepare_data_dirs", "private_umask", "reset_settings_cache"]


#: A PostgreSQL memory setting as claimflow accepts it (validated here because it is passed to the server as a
#: connection option or a set_config value).
PG_MEMORY_SIZE = r"^[1-9][0-9]*(kB|MB|GB)$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMFLOW_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./claimflow.db",
        description="SQLAlchemy URL of claimflow's own database (never Airflow's metadata database). "
        "PostgreSQL as postgresql+psycopg://user@host:5432/db.",
    )
    data_dir: Path = Field(
        default=Path("./claimflow-data"),
        description="Root for outbox (generated 837s), inbox (fetched files), archive (every file "
        "byte-for-byte by sha256) and quarantine.",
    )
    isa_usage: Literal["T", "P"] = Field(default="T", description="ISA15 for outbound interchanges.")
    default_partner: str = Field(
        default="sandbox", description="Clearinghouse partner used when none is named."
    )
    submitter_name: str = "CLAIMFLOW BILLING"
    submitter_id: str = Field(default="CLAIMFLOW01", description="Submitter ID (1000A NM109, ISA06, GS02).")
    submitter_contact: str = "BILLING OFFICE"
    submitter_phone: str = "5555550100"
    receiver_name: str = "SANDBOX CLEARINGHOUSE"
    receiver_id: str = Field(default="SANDBOXCH", description="Receiver ID (1000B NM109, ISA08, GS03).")
    max_claims_per_st: int = Field(default=5000, ge=1, le=5000)
    max_claims_per_file: int = Field(default=5000, ge=1, description="Claims per interchange (per file).")
    outbound_chunk_claims: int = Field(
        default=50_000,
        ge=1,
        description="Claims loaded, scrubbed and written at a time by claims_submission: bounds its memory "
        "(a 1,000,000-claim night would otherwise hold every claim object at once).",
    )
    outbound_shards: int = Field(
        default=1,
        ge=1,
        le=64,
        description="claims_submission builds its 837s in this many mapped build_batch tasks (claim id modulo "
        "N), so the build spreads over the workers of a CeleryExecutor deployment; 1 on a single machine.",
    )
    pg_batch_work_mem: str = Field(
        default="256MB",
        pattern=PG_MEMORY_SIZE,
        description="PostgreSQL work_mem for the nightly set-based transactions (acknowledgments, posting, "
        "reconciliation, proof, data quality, run report), set for that transaction only: at 1,000,000 claims "
        "their hash joins, aggregates and sorts spill to disk at the server default (4MB). The nightly DAG runs "
        "them one after another (posting and reconciliation also hold advisory locks), each holding a few such "
        "nodes; size it so a few of them fit in memory.",
    )
    pg_jit: bool = Field(
        default=False,
        description="Let PostgreSQL JIT-compile claimflow's statements (its jit setting, per connection). Off: "
        "the nightly statements cross jit_above_cost at 1,000,000 claims and would pay compilation up front "
        "while their time goes to index maintenance and I/O, which JIT does not speed up (its share alone is "
        "not measured; docs/PERFORMANCE.md measures the session sizing as a whole).",
    )
    pg_temp_buffers: str = Field(
        default="256MB",
        pattern=PG_MEMORY_SIZE,
        description="PostgreSQL temp_buffers per connection (set when it opens; a ceiling, allocated as used): "
        "posting and acknowledgments stage a night's rows in temporary tables, which the server default "
        "(8MB) pushes through disk at 1,000,000 claims.",
    )
    carc_file: Path | None = Field(default=None, description="Customer-supplied CARC descriptions CSV.")
    patient_key_salt: str | None = Field(
        default=None,
        description="Secret salt of the analysts' patient keys (CLAIMFLOW_PATIENT_KEY_SALT); see "
        "claimflow.services.analyst. Unset means the public default, which grant-analyst refuses.",
        repr=False,
    )
    timezone: str = "UTC"
    eligibility_fresh_days: int = Field(
        default=30,
        ge=0,
        description="Coverage verified (a 271) within this many days is not asked about again by the nightly "
        "270 batch; older or never verified coverage is asked about, and its claims go out meanwhile.",
    )
    claim_status_days: int | None = Field(
        default=None,
        ge=0,
        description="A claim with no 277CA or no 835 this many days after it was sent gets a nightly 276; "
        "unset: the worklist's CLAIMFLOW_WORKLIST_NO_277CA_DAYS / NO_835_DAYS.",
    )

    @property
    def inquiries_dir(self) -> Path:
        """270/276 files written for the clearinghouse (outside the outbox, which holds 837s only)."""
        return self.data_dir / "inquiries"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        """The folders that hold PHI at rest: all 0700."""
        return (
            self.data_dir,
            self.outbox_dir,
            self.inbox_dir,
            self.archive_dir,
            self.quarantine_dir,
            self.reports_dir,
        )


def prepare_data_dirs(settings: Settings | None = None) -> tuple[Path, ...]:
    """Create the data folders 0700, or tighten existing ones that are open to group or others (one log
    line per folder tightened). Idempotent and cheap; entry points call it before they write anything."""
    settings = settings or get_settings()
    return tuple(ensure_private_dir(d) for d in settings.private_dirs)


@functools.cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget cached settings (tests and the demo change the environment)."""
    get_settings.cache_clear()
