"""The inbound loader's pure parts: counting interchanges in a file, refusing non-regular paths, the
payment identity key and the poison line (names, never values)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from claimflow.db import models as m
from claimflow.services import inbound

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures"
DENIAL = FIXTURES / "835" / "denial_with_rarc.835"


def _count(path: Path) -> int:
    return inbound._count_interchanges(path, path.read_bytes()[:4096])


def test_one_interchange_per_fixture() -> None:
    for path in sorted((FIXTURES / "835").iterdir()) + sorted((FIXTURES / "999").iterdir()):
        assert _count(path) == 1, path.name


def test_two_interchanges_are_counted_with_or_without_line_breaks(tmp_path: Path) -> None:
    data = DENIAL.read_bytes()
    joined = tmp_path / "two.835"
    joined.write_bytes(data + data)
    assert _count(joined) == 2
    crlf = tmp_path / "crlf.835"
    crlf.write_bytes(data.replace(b"~\n", b"~\r\n") * 3)
    assert _count(crlf) == 3


def test_isa_inside_a_value_is_not_an_interchange(tmp_path: Path) -> None:
    path = tmp_path / "lisa.835"
    path.write_bytes(DENIAL.read_bytes().replace(b"NM1*QC*1*DOE*JOHN", b"NM1*QC*1*DOE*LISA*ISA"))
    assert _count(path) == 1


def test_bare_and_empty_files_have_no_interchange(tmp_path: Path) -> None:
    bare = tmp_path / "bare.835"
    bare.write_bytes(b"ST*835*0001~BPR*I*80*C~SE*3*0001~")
    assert _count(bare) == 0
    empty = tmp_path / "empty.835"
    empty.write_bytes(b"")
    assert _count(empty) == 0


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(
        inbound.InboundFileRefused, match=r"^pipe: is a FIFO \(named pipe\), not a regular file$"
    ):
        inbound.sha256_of(fifo)  # would block for ever if it opened the FIFO
    with pytest.raises(inbound.InboundFileRefused, match=r"is a directory"):
        inbound.sha256_of(tmp_path)


def test_identity_key_prefers_trn03_then_the_payer_id() -> None:
    key = inbound._PaymentIdentity.key
    assert key(SimpleNamespace(trace_originator="1512345678", payer_id="ACME01", trace_number=" EFT1 ")) == (
        "1512345678",
        "EFT1",
    )
    assert key(SimpleNamespace(trace_originator="", payer_id="ACME01", trace_number="EFT1")) == (
        "ACME01",
        "EFT1",
    )
    assert key(SimpleNamespace(trace_originator="", payer_id="", trace_number="")) == (None, None)


def test_poison_line_names_table_column_and_segment_never_the_value() -> None:
    table = m.Base.metadata.tables["claim_payments"]
    secret = "DOE JOHN 1980-01-01 " * 5
    rows = [
        {"segment_no": 19, "patient_control_number": "SUN-1", "paid": Decimal("1.00")},
        {"segment_no": 30, "patient_control_number": secret, "paid": Decimal("1.00")},
    ]
    cause = ValueError(f"value too long: {secret}")
    column, segment = inbound._locate(table, rows, cause)
    assert (column, segment) == ("patient_control_number", 30)
    line = inbound._poison_line("x.835", inbound._StoreFailed("claim_payments", column, segment, cause))
    assert line == (
        "x.835: the database refused this file (ValueError) in claim_payments.patient_control_number "
        "at segment 30; nothing from this file was stored"
    )
    assert "DOE" not in line


def test_misfit_values() -> None:
    table = m.Base.metadata.tables["claim_payments"]
    assert inbound._misfit(table, "paid", Decimal("1000000000000.00"))
    assert not inbound._misfit(table, "paid", Decimal("999999999999.99"))
    assert inbound._misfit(table, "remittance_id", 1 << 63)
    assert inbound._misfit(table, "patient_control_number", "A\x00B")
    assert not inbound._misfit(table, "patient_control_number", "SUN-000131")


def test_a_live_writers_temporary_file_is_kept_and_a_dead_ones_removed(tmp_path: Path) -> None:
    import fcntl

    dest = tmp_path / "ab" / "abcdef"
    dest.parent.mkdir()
    live = dest.with_name(".abcdef.1111.tmp")
    dead = dest.with_name(".abcdef.2222.tmp")
    other = dest.with_name(".other.3333.tmp")
    for p in (live, dead, other):
        p.write_bytes(b"partial")
    with live.open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        inbound._archive(DENIAL, dest)
        assert live.exists() and not dead.exists() and other.exists()
    assert dest.read_bytes() == DENIAL.read_bytes()
