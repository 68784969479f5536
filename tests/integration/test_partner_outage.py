"""The clearinghouse is down for a whole night: the upload fails clearly after bounded retries, the next
night sends what was held back, and nothing is sent twice — also when a run died between uploading a file
and recording it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from claimflow.db import models as m
from claimflow.sandbox.seed import seed_practice
from claimflow.sandbox.server import SandboxServer
from claimflow.services import pipeline
from claimflow.settings import get_settings
from sftp.connect import open_sftp
from sftp.errors import TransientTransferError
from sftp.keys import generate_ed25519

PARTNER = "sandbox"


def _upload_all(ids: list[int], profile) -> list[dict]:  # type: ignore[no-untyped-def]
    with open_sftp(profile) as client:
        return [pipeline.upload_file(i, client, profile) for i in ids]


def test_outage_night_then_catch_up_without_duplicates(claimflow_env: Engine, tmp_path: Path) -> None:
    """On both backends (``claimflow_env`` points the settings at SQLite, then PostgreSQL)."""
    engine = claimflow_env
    seed_practice(engine, patients=20, claims=40, seed=5, as_of=dt.date.today() - dt.timedelta(days=1))
    key = generate_ed25519(tmp_path / "client_key")
    server = SandboxServer(tmp_path / "ch", authorized_keys={PARTNER: key.public_line}).start()
    profile = server.profile(
        PARTNER,
        private_key_path=str(key.private_path),
        isa_receiver_id=get_settings().receiver_id,
        connect_timeout=2.0,
        retry_initial_delay=0.1,
        retry_max_delay=0.5,
        retry_max_total=3.0,
    )
    server.stop()  # the partner is down all night

    night1 = pipeline.scrub_and_batch(run_id="night1")
    assert night1["files_written"] > 0
    started = time.monotonic()
    with pytest.raises(TransientTransferError) as failure:
        _upload_all(night1["interchange_ids"], profile)
    assert time.monotonic() - started < 30, "retries are bounded"
    assert "127.0.0.1" in str(failure.value) or "sandbox" in str(failure.value)
    with engine.connect() as conn:
        statuses = set(conn.execute(select(m.Interchange.status)).scalars())
    assert statuses == {"generated"}  # nothing marked sent

    server.start()  # the next night the partner is back (same host key)
    profile = profile.with_overrides(port=server.port)
    night2 = pipeline.scrub_and_batch(run_id="night2")
    assert night2["claims_in"] == 0 and night2["carried_over"] == len(night1["interchange_ids"])
    assert night2["interchange_ids"] == night1["interchange_ids"]
    results = _upload_all(night2["interchange_ids"], profile)
    assert not any(r["already_present"] for r in results)
    inbound = server.mailbox(PARTNER) / "inbound"
    sent = sorted(p.name for p in inbound.iterdir() if not p.name.startswith("."))
    assert len(sent) == len(night1["interchange_ids"])

    # A run that uploaded a file and died before recording it: the next run must not send it again.
    first = night2["interchange_ids"][0]
    with engine.begin() as conn:
        conn.execute(
            m.Interchange.__table__.update().where(m.Interchange.id == first).values(status="validated")
        )
    night3 = pipeline.scrub_and_batch(run_id="night3")
    assert night3["interchange_ids"] == [first]
    again = _upload_all(night3["interchange_ids"], profile)
    assert again[0]["already_present"] is True
    assert sorted(p.name for p in inbound.iterdir() if not p.name.startswith(".")) == sent
    server.stop()
