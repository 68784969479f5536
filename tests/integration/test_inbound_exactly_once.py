"""Posted exactly once, whatever partners send — SQLite and PostgreSQL.

A payment's identity is the payer (TRN03, else the N1*PR id) + TRN02. Resends under a new ISA13, files that
mix new and already-loaded interchanges or payments, envelope-less ST..SE files, poison values the
database refuses, unique-index races between loaders: each ends ``duplicate`` or ``quarantined`` with one
line, stores nothing twice, and the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.services import inbound
from claimflow.services.inbound import LoadOutcome, load_interchange, receive_file
from claimflow.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DENIAL = FIXTURES / "835" / "denial_with_rarc.835"
SEVERAL = FIXTURES / "835" / "several_payers.835"
ACK_999 = FIXTURES / "999" / "accepted.999"
STORED = [
    m.Remittance,
    m.ClaimPayment,
    m.ServiceLinePayment,
    m.Adjustment,
    m.RemarkCode,
    m.ProviderAdjustment,
    m.Acknowledgment,
    m.AcknowledgmentError,
    m.ClaimStatusRecord,
    m.BalanceException,
]


# ---- helpers: edit X12 the way a partner's resend would ------------------------------------------------


def _split(data: bytes) -> tuple[str, str, list[str]]:
    text = data.decode()
    sep, term = text[3], text[105]
    return sep, term, [s.strip("\r\n") for s in text.split(term) if s.strip("\r\n")]


def _join(term: str, segs: list[str]) -> bytes:
    end = term if term in "\r\n" else term + "\n"
    return "".join(s + end for s in segs).encode()


def _edit(data: bytes, seg_id: str, index: int, value: str, occurrence: int = 0) -> bytes:
    """Set element ``index`` of the ``occurrence``-th ``seg_id`` segment."""
    sep, term, segs = _split(data)
    seen = 0
    for i, seg in enumerate(segs):
        el = seg.split(sep)
        if el[0] == seg_id:
            if seen == occurrence:
                el[index] = value
                segs[i] = sep.join(el)
                return _join(term, segs)
            seen += 1
    raise AssertionError(f"no {seg_id} #{occurrence}")


def with_isa13(data: bytes, control: int) -> bytes:
    """The same content under a new interchange control number (ISA13 and IEA02)."""
    number = f"{control:09d}"
    return _edit(_edit(data, "ISA", 13, number), "IEA", 2, number)


def bare_st_se(data: bytes) -> bytes:
    """The ST..SE part of a file, without ISA/GS envelope."""
    sep, term, segs = _split(data)
    return _join(term, [s for s in segs if s.split(sep)[0] not in ("ISA", "GS", "GE", "IEA")])


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", data_dir=tmp_path / "data")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _load(engine: Engine, path: Path, settings: Settings) -> LoadOutcome:
    interchange_id, _new = receive_file(engine, path, partner="sandbox", settings=settings)
    return load_interchange(engine, interchange_id, actor="test", settings=settings)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in STORED
        }


def _paid(engine: Engine) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(m.ClaimPayment.paid), 0))).scalar_one()


def _status(engine: Engine, interchange_id: int | None) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(m.Interchange.status, m.Interchange.error).where(m.Interchange.id == interchange_id)
        ).one()
    return row.status, row.error


# ---- payment identity ---------------------------------------------------------------------------------


def test_resend_under_a_new_isa13_is_a_duplicate(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = _load(engine, DENIAL, settings)
    assert first.status == "loaded"
    before, paid = _counts(engine), _paid(engine)
    resent = _write(tmp_path, "resent.835", with_isa13(DENIAL.read_bytes(), 777))
    outcome = _load(engine, resent, settings)
    assert outcome.status == "duplicate"
    assert f"interchange {first.interchange_id}" in (outcome.error or "")
    assert _status(engine, outcome.interchange_id) == ("duplicate", outcome.error)
    assert _counts(engine) == before and _paid(engine) == paid
    # a third copy with yet another ISA13 and a changed payee block: still the same payment
    again = _write(tmp_path, "again.835", _edit(with_isa13(DENIAL.read_bytes(), 778), "REF", 2, "OTHER", 0))
    assert _load(engine, again, settings).status == "duplicate"
    assert _paid(engine) == paid


def test_several_payments_all_repeated_is_a_duplicate_and_a_mix_is_quarantined(
    engine: Engine, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    assert _load(engine, SEVERAL, settings).status == "loaded"
    before, paid = _counts(engine), _paid(engine)
    all_old = _write(tmp_path, "all_old.835", with_isa13(SEVERAL.read_bytes(), 901))
    assert _load(engine, all_old, settings).status == "duplicate"
    # the second payment gets a new trace number: one new payment, two already loaded
    mixed = _write(
        tmp_path, "mixed.835", _edit(with_isa13(SEVERAL.read_bytes(), 902), "TRN", 2, "NEWTRACE1", 1)
    )
    outcome = _load(engine, mixed, settings)
    assert outcome.status == "quarantined"
    assert outcome.error and outcome.error.startswith("mixed.835: ")
    assert "2 of 3 payments were already loaded" in outcome.error
    assert "NEWTRACE1" not in outcome.error
    assert _counts(engine) == before and _paid(engine) == paid


def test_the_same_trace_number_from_another_payer_is_a_new_payment(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert _load(engine, DENIAL, settings).status == "loaded"
    data = with_isa13(DENIAL.read_bytes(), 555)
    data = _edit(_edit(data, "TRN", 3, "1999999999"), "N1", 4, "OTHERPAYER", 0)
    other = _write(tmp_path, "other_payer.835", data)
    assert _load(engine, other, settings).status == "loaded"
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Remittance.trace_payer, m.Remittance.trace_number).order_by(m.Remittance.id)
        ).all()
    assert [tuple(r) for r in rows] == [("1512345678", "EFT0000102"), ("1999999999", "EFT0000102")]


def test_a_payment_repeated_inside_one_file_is_quarantined(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    sep, _term, segs = _split(SEVERAL.read_bytes())
    first_trn = next(s.split(sep) for s in segs if s.startswith("TRN" + sep))
    data = _edit(SEVERAL.read_bytes(), "TRN", 2, first_trn[2], 1)
    data = _edit(data, "TRN", 3, first_trn[3], 1)
    outcome = _load(engine, _write(tmp_path, "twice.835", data), settings)
    assert outcome.status == "quarantined"
    assert "repeats the payment identity" in (outcome.error or "")
    assert sum(_counts(engine).values()) == 0


def test_a_remittance_without_trn02_is_refused(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    outcome = _load(
        engine, _write(tmp_path, "notrace.835", _edit(DENIAL.read_bytes(), "TRN", 2, "")), settings
    )
    assert outcome.status == "quarantined"
    assert "no TRN02 trace number" in (outcome.error or "")
    assert sum(_counts(engine).values()) == 0


# ---- envelopes: one interchange per file, never none --------------------------------------------------


@pytest.mark.parametrize("order", ["new_then_loaded", "loaded_then_new"])
def test_a_file_with_two_interchanges_is_refused(engine: Engine, tmp_path: Path, order: str) -> None:
    settings = _settings(tmp_path)
    assert _load(engine, DENIAL, settings).status == "loaded"
    before = _counts(engine)
    new = with_isa13(_edit(DENIAL.read_bytes(), "TRN", 2, "EFT9999999"), 880)
    parts = [new, DENIAL.read_bytes()] if order == "new_then_loaded" else [DENIAL.read_bytes(), new]
    outcome = _load(engine, _write(tmp_path, f"{order}.835", b"".join(parts)), settings)
    assert outcome.status == "quarantined", outcome
    assert "holds 2 interchanges" in (outcome.error or "")
    assert _counts(engine) == before


@pytest.mark.parametrize("extra", [b"", b"\n"])
def test_an_envelope_less_st_se_file_is_refused_by_load(engine: Engine, tmp_path: Path, extra: bytes) -> None:
    settings = _settings(tmp_path)
    path = _write(tmp_path, "bare.835", bare_st_se(DENIAL.read_bytes()) + extra)
    outcome = _load(engine, path, settings)
    assert outcome.status == "quarantined"
    assert (
        outcome.error == "bare.835: no ISA/GS envelope: no sender identity to deduplicate by; not loaded "
        "(claimflow parse can still read it)"
    )
    assert sum(_counts(engine).values()) == 0
    # parse still reads it
    from parsers import parse_file

    assert any(type(r).__name__ == "ClaimPayment" for r in parse_file(path))


# ---- poison values: rolled back, quarantined with one line, the batch goes on ------------------------


POISON = Decimal("123456789012345678901.00")  # fits no NUMERIC(14,2), no SQLite integer of cents


def test_a_value_the_database_refuses_is_quarantined_without_the_value(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    real_add = inbound.BulkWriter.add

    def poisoned(self: inbound.BulkWriter, table: str, row: dict[str, Any]) -> int:
        if table == "claim_payments" and row.get("patient_control_number") == "SUN-000131":
            row = {**row, "paid": POISON}
        return real_add(self, table, row)

    monkeypatch.setattr(inbound.BulkWriter, "add", poisoned)
    caplog.set_level(logging.DEBUG)
    outcome = _load(engine, DENIAL, settings)
    assert outcome.status == "quarantined"
    error = outcome.error or ""
    assert error.startswith("denial_with_rarc.835: the database refused this file (")
    assert "in claim_payments.paid" in error and "at segment 30" in error, error
    assert "\n" not in error
    for text in (error, caplog.text):
        assert "123456789012345678901" not in text and "Traceback" not in text
    assert sum(_counts(engine).values()) == 0
    assert _status(engine, outcome.interchange_id) == ("quarantined", error)
    monkeypatch.setattr(inbound.BulkWriter, "add", real_add)
    assert _load(engine, SEVERAL, settings).status == "loaded"  # the next file loads
    assert (
        load_interchange(
            engine,
            outcome.interchange_id or 0,
            actor="test",  # and it is not retried for ever
            settings=settings,
        ).status
        == "quarantined"
    )


def test_an_oversized_amount_in_a_real_file_never_leaves_it_received(engine: Engine, tmp_path: Path) -> None:
    """Whoever catches it (the parser or the loader's backstop), the file ends quarantined in one line."""
    settings = _settings(tmp_path)
    data = _edit(DENIAL.read_bytes(), "CLP", 3, "123456789012345678901", 1)
    outcome = _load(engine, _write(tmp_path, "huge.835", data), settings)
    assert outcome.status == "quarantined"
    assert (
        outcome.error
        and outcome.error.startswith("huge.835: ")
        and "123456789012345678901" not in outcome.error
    )
    assert sum(_counts(engine).values()) == 0
    assert _load(engine, SEVERAL, settings).status == "loaded"


def test_a_transient_database_error_leaves_the_file_received_for_the_next_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    settings = _settings(tmp_path)

    def lost(self: inbound.BulkWriter) -> None:
        raise inbound._StoreFailed("remittances", None, None, OperationalError("COPY", {}, Exception("gone")))

    monkeypatch.setattr(inbound.BulkWriter, "flush", lost)
    interchange_id, _ = receive_file(engine, DENIAL, settings=settings)
    with pytest.raises(OperationalError):
        load_interchange(engine, interchange_id, actor="test", settings=settings)
    assert _status(engine, interchange_id)[0] == "received"
    monkeypatch.undo()
    assert load_interchange(engine, interchange_id, actor="test", settings=settings).status == "loaded"


# ---- races: the unique indexes are the backstop, and losing a race ends duplicate ----------------------


def test_identity_race_ends_duplicate_not_integrity_error(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The application check misses (as when another loader commits between our check and our insert):
    the unique index refuses the second copy, and the loser looks again and ends duplicate."""
    settings = _settings(tmp_path)
    first = _load(engine, DENIAL, settings)
    real = inbound._PaymentIdentity.earlier
    misses = {"n": 0}

    def blind_once(self: inbound._PaymentIdentity, trace: str, payers: set[str]) -> int | None:
        if misses["n"] == 0:
            misses["n"] += 1
            return None
        return real(self, trace, payers)

    monkeypatch.setattr(inbound._PaymentIdentity, "earlier", blind_once)
    outcome = _load(engine, _write(tmp_path, "raced.835", with_isa13(DENIAL.read_bytes(), 4242)), settings)
    assert misses["n"] == 1
    assert outcome.status == "duplicate", outcome
    assert f"interchange {first.interchange_id}" in (outcome.error or "")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.Remittance)).scalar_one() == 1


def test_sender_isa13_race_ends_duplicate_not_integrity_error(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    first = _load(engine, ACK_999, settings)
    real = inbound._duplicate_of
    calls = {"n": 0}

    def blind_once(conn: Any, interchange_id: int, env: dict[str, str | None]) -> int | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(conn, interchange_id, env)

    monkeypatch.setattr(inbound, "_duplicate_of", blind_once)
    outcome = _load(engine, _write(tmp_path, "resent.999", ACK_999.read_bytes() + b"\n"), settings)
    assert outcome.status == "duplicate", outcome
    assert f"interchange {first.interchange_id}" in (outcome.error or "")
    with engine.connect() as conn:
        assert conn.execute(
            select(func.count()).select_from(m.Acknowledgment)
        ).scalar_one() == _counts_after_one(engine)


def _counts_after_one(engine: Engine) -> int:
    with engine.connect() as conn:
        first_id = conn.execute(select(func.min(m.Interchange.id))).scalar_one()
        return conn.execute(
            select(func.count())
            .select_from(m.Acknowledgment)
            .where(m.Acknowledgment.interchange_id == first_id)
        ).scalar_one()


def test_two_loaders_racing_on_one_payment_store_it_once(engine: Engine, tmp_path: Path) -> None:
    """Two threads, two files (different ISA13, same payment), started together: one loaded, one
    duplicate, no exception, the payment stored once."""
    settings = _settings(tmp_path)
    files = [_write(tmp_path, f"race{i}.835", with_isa13(DENIAL.read_bytes(), 600 + i)) for i in range(2)]
    ids = [receive_file(engine, p, settings=settings)[0] for p in files]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = load_interchange(engine, ids[i], actor=f"t{i}", settings=settings).status
        except Exception as exc:  # reported below
            results[i] = repr(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ["duplicate", "loaded"], results
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.Remittance)).scalar_one() == 1
    assert _paid(engine) == Decimal("80.00")


def test_two_receivers_of_one_file_never_share_a_temporary_file(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def run() -> None:
        barrier.wait()
        try:
            iid, _new = receive_file(engine, SEVERAL, settings=settings)
            results.append(load_interchange(engine, iid, actor="t", settings=settings).status)
        except Exception as exc:  # reported below
            results.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ["already_loaded"] * 3 + ["loaded"], results
    sha = hashlib.sha256(SEVERAL.read_bytes()).hexdigest()
    folder = settings.archive_dir / sha[:2]
    assert [p.name for p in folder.iterdir()] == [sha]  # no temporary file left behind


# ---- the archive: repaired when wrong, never blocked by a stale temporary file -------------------------


def test_a_damaged_archive_copy_is_rewritten(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    sha = hashlib.sha256(DENIAL.read_bytes()).hexdigest()
    dest = settings.archive_dir / sha[:2] / sha
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"ISA*garbage")  # a partial copy from an older loader
    (dest.parent / f".{sha}.tmp").write_bytes(b"partial")  # and the old fixed-name temporary file
    (dest.parent / f".{sha}.0123456789abcdef.tmp").write_bytes(b"")  # a writer killed after creating its own
    assert _load(engine, DENIAL, settings).status == "loaded"
    assert dest.read_bytes() == DENIAL.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == [sha]  # the dead writers' temporary files are gone


# ---- REF*F8 ---------------------------------------------------------------------------------------------


def test_ref_f8_is_stored_on_the_claim_payment(engine: Engine, tmp_path: Path) -> None:
    from parsers import parse_file
    from parsers.records import ClaimPayment

    path = FIXTURES / "835" / "reversal_and_correction.835"
    assert _load(engine, path, _settings(tmp_path)).status == "loaded"
    expected = {
        (r.segment_no, r.original_reference_number) for r in parse_file(path) if isinstance(r, ClaimPayment)
    }
    with engine.connect() as conn:
        stored = {
            (s, o)
            for s, o in conn.execute(
                select(m.ClaimPayment.segment_no, m.ClaimPayment.original_reference_number)
            )
        }
    assert stored == expected
    assert any(o is not None for _s, o in stored)


# ---- where operators look: the run report --------------------------------------------------------------


def test_run_report_lists_duplicate_and_quarantined_files_of_the_day(engine: Engine, tmp_path: Path) -> None:
    import datetime as dt

    from adjudication.report import render_run_report

    settings = _settings(tmp_path)
    first = _load(engine, DENIAL, settings)
    dup = _load(engine, _write(tmp_path, "resent_copy.835", with_isa13(DENIAL.read_bytes(), 321)), settings)
    bad = _load(engine, FIXTURES / "malformed" / "wrong_se_count.835", settings)
    assert (first.status, dup.status, bad.status) == ("loaded", "duplicate", "quarantined")
    with engine.connect() as conn:
        day = (
            conn.execute(select(m.Interchange.created_at).where(m.Interchange.id == dup.interchange_id))
            .scalar_one()
            .date()
        )
    page = render_run_report(engine, day, tmp_path / "report.html").read_text()
    section = page.split("Inbound files not stored: duplicates and quarantined (2)")[1].split("<h2>")[0]
    assert "resent_copy.835" in section and "wrong_se_count.835" in section
    assert f"interchange {first.interchange_id}" in section
    assert "denial_with_rarc.835" not in section  # the loaded one is not listed
    other_day = render_run_report(engine, day - dt.timedelta(days=1), tmp_path / "before.html").read_text()
    assert "duplicates and quarantined (0)" in other_day


def test_a_connection_lost_during_copy_is_transient(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's own OperationalError (what COPY raises, unwrapped) leaves the file received too."""
    import sqlite3

    import psycopg
    from sqlalchemy.exc import OperationalError

    settings = _settings(tmp_path)
    raw = (
        psycopg.OperationalError("server closed the connection")
        if engine.dialect.name == "postgresql"
        else sqlite3.OperationalError("database is locked")
    )

    def lost(self: inbound.BulkWriter) -> None:
        raise inbound._StoreFailed("remittances", None, None, raw)

    monkeypatch.setattr(inbound.BulkWriter, "flush", lost)
    interchange_id, _ = receive_file(engine, DENIAL, settings=settings)
    with pytest.raises(OperationalError):
        load_interchange(engine, interchange_id, actor="test", settings=settings)
    assert _status(engine, interchange_id)[0] == "received"
