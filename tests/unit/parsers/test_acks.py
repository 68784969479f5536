"""999 (005010X231A1), 277CA (005010X214) and TA1 parsers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from edi.errors import X12ParseError
from parsers import ta1
from parsers import x277ca_005010x214 as x277
from parsers import x999_005010x231a1 as x999
from parsers.records import (
    ClaimStatus,
    FunctionalGroupAck,
    InterchangeAck,
    LevelStatus,
    Status,
    TransactionSetAck,
)
from tests.unit.parsers.conftest import fixture


def test_999_accepted() -> None:
    recs = list(x999.parse(fixture("999/accepted.999")))
    sets = [r for r in recs if isinstance(r, TransactionSetAck)]
    assert [(s.set_control_number, s.status, s.accepted) for s in sets] == [
        ("0001", "A", True),
        ("0002", "A", True),
    ]
    group = recs[-1]
    assert isinstance(group, FunctionalGroupAck)
    assert (group.group_control_number, group.status, group.accepted) == ("1001", "A", True)
    assert (group.sets_included, group.sets_received, group.sets_accepted, group.set_acks) == (2, 2, 2, 2)
    assert (sets[0].isa13, sets[0].gs06, sets[0].st02, sets[0].segment_no) == ("000000201", "201", "0001", 5)


def test_999_rejected_with_ik3_ik4_and_context() -> None:
    recs = list(x999.parse(fixture("999/rejected_ik3_ik4.999")))
    ack = recs[0]
    assert isinstance(ack, TransactionSetAck)
    assert (ack.group_control_number, ack.set_control_number, ack.functional_id) == ("1002", "0001", "HC")
    assert (ack.status, ack.accepted, ack.syntax_errors) == ("R", False, ("5",))
    assert ack.implementation_reference == "005010X222A1"
    e1, e2 = ack.errors
    assert (e1.segment_id, e1.position, e1.loop_id, e1.error_code) == ("NM1", 8, "2010", "8")
    assert e1.patient_control_number == "SUN-000123"
    (el1,) = e1.elements
    assert (el1.position, el1.component_position, el1.data_element_reference, el1.error_code) == (
        9,
        None,
        "67",
        "7",
    )
    assert el1.bad_value == "XYZ12345" and "XYZ12345" not in repr(el1) and "XYZ12345" not in repr(ack)
    assert e2.patient_control_number == "SUN-000124"
    (el2,) = e2.elements
    assert (el2.position, el2.component_position) == (5, 1)
    (ctx,) = el2.contexts
    assert (ctx.name, ctx.segment_id, ctx.segment_position, ctx.element_position) == (
        "SITUATIONAL TRIGGER",
        "CLM",
        22,
        "5:3",
    )
    group = recs[1]
    assert isinstance(group, FunctionalGroupAck) and group.status == "R" and not group.accepted


def test_999_partially_accepted() -> None:
    recs = list(x999.parse(fixture("999/partially_accepted.999")))
    sets = [r for r in recs if isinstance(r, TransactionSetAck)]
    assert [(s.status, s.accepted) for s in sets] == [("A", True), ("E", True), ("R", False)]
    assert sets[1].errors[0].error_code == "I9" and not sets[1].errors[0].elements
    group = recs[-1]
    assert isinstance(group, FunctionalGroupAck) and group.status == "P" and group.accepted


@pytest.mark.parametrize(
    ("find", "replace", "message"),
    [
        ("IK5*R*5", "IK5*Q*5", r"\(IK5\): IK501 is not A, E, M, R, W or X"),
        ("AK9*R*1*1*0", "AK9*R*1*X*0", r"\(AK9\): AK903 is not a number"),
        ("IK5*R*5~\n", "", r"\(AK9\): AK9 before IK5 of transaction set 0001"),
        ("IK3*NM1*8*2010*8~\n", "", r"segment 6 \(CTX\): CTX without IK3 or IK4 before it"),
        ("ST*999*0001*005010X231A1", "ST*835*0001*005010X231A1", r"ST01 835 in a 999 file"),
    ],
)
def test_999_errors(find: str, replace: str, message: str) -> None:
    text = fixture("999/rejected_ik3_ik4.999").read_text()
    assert find in text
    bad = text.replace(find, replace)
    delta = text.count("~") - bad.count("~")
    bad = bad.replace("SE*13*0001", f"SE*{13 - delta}*0001")
    with pytest.raises(X12ParseError, match=message):
        list(x999.parse(bad.encode()))


def test_277ca_claims_batch_and_provider_levels() -> None:
    recs = list(x277.parse(fixture("277ca/accepted_and_rejected.277"), file_sha256="ab"))
    assert [type(r).__name__ for r in recs] == ["LevelStatus", "LevelStatus", "ClaimStatus", "ClaimStatus"]
    batch, provider, ok, bad = recs
    assert isinstance(batch, LevelStatus) and isinstance(provider, LevelStatus)
    assert (batch.loop, batch.trace_number, batch.accepted) == ("2200B", "BATCH20260114A", True)
    assert batch.statuses == (Status("A1", "19", "PR", "", "STC01"),)
    assert (batch.accepted_quantity, batch.rejected_quantity) == (Decimal(1), Decimal(1))
    assert (batch.accepted_amount, batch.rejected_amount) == (Decimal(450), Decimal(125))
    assert (provider.loop, provider.trace_number, provider.accepted) == ("2200C", "PRV0000301", True)
    assert provider.status_date is None
    assert provider.entity is not None and provider.entity.id == "1234567893"
    assert list(provider.references) == [("TJ", "371234567")]

    assert isinstance(ok, ClaimStatus) and isinstance(bad, ClaimStatus)
    assert (ok.file_sha256, ok.isa13, ok.gs06, ok.st02) == ("ab", "000000301", "301", "0001")
    assert (ok.patient_control_number, ok.accepted, ok.category, ok.status_code) == (
        "SUN-000123",
        True,
        "A2",
        "20",
    )
    assert ok.payer_claim_control_number == "ACM26015000123" and ok.clearinghouse_trace == "CF20260114000123"
    assert ok.charge == Decimal(450) and ok.status_date == dt.date(2026, 1, 15)
    assert ok.service_date_from == ok.service_date_to == dt.date(2026, 1, 5)
    assert ok.batch_trace == "BATCH20260114A" and ok.provider_trace == "PRV0000301"
    assert ok.payer is not None and ok.payer.id == "ACME01"
    assert ok.patient is not None and "DOE" not in repr(ok)

    assert (bad.patient_control_number, bad.accepted, bad.category) == ("SUN-000124", False, "A7")
    assert [s.element for s in bad.statuses] == ["STC01", "STC10"]
    assert bad.statuses[1] == Status("A7", "454", "IL", "", "STC10")
    assert (bad.service_date_from, bad.service_date_to) == (dt.date(2026, 1, 6), dt.date(2026, 1, 7))
    (line,) = bad.lines
    assert (line.procedure_code, line.charge, line.units, line.control_number) == (
        "99213",
        Decimal(125),
        Decimal(1),
        "SUN-000124-1",
    )
    assert line.statuses == (Status("A7", "453", "IL", "", "STC01"),)
    assert line.service_date_from == dt.date(2026, 1, 6)


def test_277ca_verdicts() -> None:
    s = lambda c: Status(c, "", "", "", "STC01")  # noqa: E731
    assert x277.verdict([s("A1")]) is True
    assert x277.verdict([s("A5")]) is True
    assert x277.verdict([s("A2"), s("A7")]) is False
    assert all(x277.verdict([s(c)]) is False for c in ("A3", "A4", "A6", "A7", "A8"))
    assert x277.verdict([s("A0")]) is None and x277.verdict([]) is None


def test_277_x212_is_refused() -> None:
    text = fixture("277ca/accepted_and_rejected.277").read_text().replace("X214", "X212")
    with pytest.raises(X12ParseError, match=r"segment 3 \(ST\): 277 005010X212 .* is not a 277CA"):
        list(x277.parse(text.encode()))


def test_277_bad_date() -> None:
    text = (
        fixture("277ca/accepted_and_rejected.277")
        .read_text()
        .replace("DTP*472*D8*20260105", "DTP*472*D8*20261340")
    )
    with pytest.raises(X12ParseError, match=r"\(DTP\): DTP03 is not a valid calendar date"):
        list(x277.parse(text.encode()))


def test_ta1() -> None:
    (rej,) = ta1.parse(fixture("ta1/rejected.ta1"))
    assert rej == InterchangeAck(
        None, "000000401", None, None, 2, "000001001", dt.date(2026, 1, 14), "2359", "R", "022", False
    )
    acc = list(ta1.parse(fixture("ta1/accepted.ta1")))
    assert [(a.ack_code, a.accepted, a.note_code) for a in acc] == [("A", True, "000"), ("E", True, "019")]


def test_ta1_errors() -> None:
    text = fixture("ta1/rejected.ta1").read_text()
    with pytest.raises(X12ParseError, match=r"\(TA1\): TA104 is not A, E or R"):
        list(ta1.parse(text.replace("*R*022", "*Q*022").encode()))
    # IEA01 = 1 in a TA1-only interchange (the TA1 counted as a group) is accepted: tests/hostile/test_hostile_acks.py
    with pytest.raises(
        X12ParseError, match=r"\(IEA\): IEA01 says 2 functional groups, counted 0 \(and 1 TA1\)"
    ):
        list(ta1.parse(text.replace("IEA*0", "IEA*2").encode()))
