from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from edi.control_numbers import (
    BlockControlNumberSource,
    ControlKind,
    ControlNumberSource,
    InMemoryControlNumbers,
    take_transactions,
)
from edi.delimiters import Delimiters
from edi.envelope import (
    ISA_LENGTH,
    EnvelopeWriter,
    check_delimiters,
    format_st02,
    gs_segment,
    isa_segment,
)
from edi.errors import X12WriteError

from .conftest import PARTIES, segments

CREATED = dt.datetime(2024, 1, 5, 7, 3)


def test_isa_is_fixed_width_with_every_field_in_place() -> None:
    isa = isa_segment(PARTIES, 417, CREATED)
    assert len(isa) == ISA_LENGTH == 106
    assert isa == (
        "ISA*00*          *00*          *ZZ*CLAIMFLOW      *ZZ*CLEARINGHOUSE  *240105*0703*^*00501*000000417*0*T*:~"
    )
    f = isa[:-1].split("*")
    assert len(f) == 17
    assert [len(x) for x in f[1:]] == [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1]
    assert f[9] == "240105" and f[10] == "0703"  # ISA09 YYMMDD, ISA10 HHMM
    assert f[11] == "^" and f[12] == "00501" and f[13] == "000000417"
    assert f[14] == "0" and f[15] == "T" and f[16] == ":"


def test_isa_reflects_parties_and_delimiters() -> None:
    parties = dataclasses.replace(
        PARTIES, usage="P", ack_requested="1", sender_qualifier="30", sender_id="371234567"
    )
    d = Delimiters(element="|", component=">", repetition="`", segment="\\")
    isa = isa_segment(parties, 999_999_999, CREATED, d)
    assert len(isa) == 106
    assert isa[3] == "|" and isa[-2] == ">" and isa[-1] == "\\" and isa[82] == "`"
    f = isa[:-1].split("|")
    assert (
        f[5] == "30" and f[6] == "371234567      " and f[13] == "999999999" and f[14] == "1" and f[15] == "P"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"sender_id": "X" * 16},
        {"receiver_id": ""},
        {"sender_qualifier": "QQ"},
        {"usage": "X"},
        {"ack_requested": "2"},
        {"sender_id": "CLAIM*FLOW"},
    ],
)
def test_isa_refuses_bad_parties(change: dict[str, str]) -> None:
    with pytest.raises(X12WriteError, match=r"^ISA\d\d: "):
        isa_segment(dataclasses.replace(PARTIES, **change), 1, CREATED)


@pytest.mark.parametrize("n", [0, 1_000_000_000])
def test_control_number_range(n: int) -> None:
    with pytest.raises(X12WriteError):
        isa_segment(PARTIES, n, CREATED)
    with pytest.raises(X12WriteError):
        format_st02(n)


def test_delimiters_must_be_distinct_non_alphanumeric() -> None:
    check_delimiters(Delimiters())
    for bad in (
        Delimiters(element=":"),
        Delimiters(segment="A"),
        Delimiters(component=" "),
        Delimiters(element="**"),
    ):
        with pytest.raises(X12WriteError):
            check_delimiters(bad)


def test_gs_and_st02_format() -> None:
    assert gs_segment("HC", "SENDER", "RECEIVER", CREATED, 418, "005010X222A1") == (
        "GS*HC*SENDER*RECEIVER*20240105*0703*418*X*005010X222A1~"
    )
    assert format_st02(7) == "0007"
    assert format_st02(123456789) == "123456789"
    with pytest.raises(X12WriteError, match="GS02"):
        gs_segment("HC", "S", "RECEIVER", CREATED, 1, "005010X222A1")


def _two_groups_three_sets() -> str:
    w = EnvelopeWriter(PARTIES, 417, CREATED)
    w.begin_group("HC", "005010X222A1", 418)
    assert w.begin_transaction("837", 1, "005010X222A1") == "0001"
    w.add("BHT*0019*00*X*20240105*0703*CH~NM1*41*2*A*****46*B~", 2)
    assert w.end_transaction() == 4  # ST + 2 + SE
    assert w.begin_transaction("837", 2, "005010X222A1") == "0002"
    w.add("BHT*0019*00*Y*20240105*0703*CH~", 1)
    assert w.end_transaction() == 3
    assert w.end_group() == 2
    w.begin_group("HC", "005010X223A2", 419, sender="OTHERSENDER")
    w.begin_transaction("837", 3, "005010X223A2")
    w.add("BHT*0019*00*Z*20240105*0703*CH~", 1)
    w.end_transaction()
    assert w.end_group() == 1
    assert w.end_interchange() == 2
    return w.text()


def test_envelope_counts() -> None:
    segs = segments(_two_groups_three_sets())
    assert segs[1] == "GS*HC*CLAIMFLOW*CLEARINGHOUSE*20240105*0703*418*X*005010X222A1"
    assert segs[2] == "ST*837*0001*005010X222A1"
    assert segs[5] == "SE*4*0001"
    assert segs[6] == "ST*837*0002*005010X222A1"
    assert segs[8] == "SE*3*0002"
    assert segs[9] == "GE*2*418"
    assert segs[10].startswith("GS*HC*OTHERSENDER*CLEARINGHOUSE*")
    assert segs[13] == "SE*3*0003"
    assert segs[14] == "GE*1*419"
    assert segs[15] == "IEA*2*000000417"
    assert len(segs) == 16


def test_envelope_uses_gs_ids_from_parties() -> None:
    parties = dataclasses.replace(PARTIES, gs_sender="GSSEND", gs_receiver="GSRECV")
    w = EnvelopeWriter(parties, 1, CREATED)
    w.begin_group("HC", "005010X222A1", 1)
    assert w.text().endswith("GS*HC*GSSEND*GSRECV*20240105*0703*1*X*005010X222A1~")


def test_envelope_translates_to_partner_delimiters_and_streams() -> None:
    chunks: list[str] = []
    d = Delimiters(element="|", component=">", repetition="`", segment="\\")
    w = EnvelopeWriter(PARTIES, 5, CREATED, d, newline=True, emit=chunks.append)
    w.begin_group("HC", "005010X222A1", 6)
    w.begin_transaction("837", 7, "005010X222A1")
    w.add("SV1*HC:99213*1~", 1)
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    text = "".join(chunks)
    assert w.text() == ""  # streamed, not kept
    lines = text.split("\n")
    assert lines[0].startswith("ISA|00|") and lines[0].endswith("|>\\")
    assert "SV1|HC>99213|1\\" in lines
    assert lines[-2] == "IEA|1|000000005\\"


def test_envelope_state_errors() -> None:
    w = EnvelopeWriter(PARTIES, 1, CREATED)
    with pytest.raises(X12WriteError):
        w.begin_transaction("837", 1, "005010X222A1")
    with pytest.raises(X12WriteError):
        w.end_interchange()  # no group yet
    w.begin_group("HC", "005010X222A1", 1)
    with pytest.raises(X12WriteError):
        w.end_group()  # empty group
    with pytest.raises(X12WriteError):
        w.add("LX*1~", 1)
    w.begin_transaction("837", 1, "005010X222A1")
    with pytest.raises(X12WriteError):
        w.end_group()
    with pytest.raises(X12WriteError):
        w.begin_group("HC", "005010X222A1", 2)


def test_in_memory_control_numbers() -> None:
    c = InMemoryControlNumbers(interchange=417, group=418, transaction=999_999_998)
    assert isinstance(c, ControlNumberSource)
    assert isinstance(c, BlockControlNumberSource)
    assert c.next_interchange() == 417
    assert c.next_interchange() == 418
    assert c.next_group() == 418
    assert c.next_transaction() == 999_999_998
    assert c.next_transaction() == 999_999_999
    assert c.next_transaction() == 1  # wraps
    assert c.reserve(ControlKind.TRANSACTION, 3) == range(2, 5)
    assert c.reserve("group", 2) == range(419, 421)
    assert c.peek("transaction") == 5
    with pytest.raises(ValueError):
        c.reserve("transaction", 0)
    with pytest.raises(ValueError):
        InMemoryControlNumbers(interchange=0)


def test_reserve_never_straddles_the_limit() -> None:
    c = InMemoryControlNumbers(transaction=999_999_998)
    assert c.reserve("transaction", 5) == range(1, 6)


def test_take_transactions_with_and_without_reserve() -> None:
    class Plain:
        def __init__(self) -> None:
            self.n = 0

        def next_interchange(self) -> int:
            return 1

        def next_group(self) -> int:
            return 1

        def next_transaction(self) -> int:
            self.n += 1
            return self.n

    p = Plain()
    assert isinstance(p, ControlNumberSource) and not isinstance(p, BlockControlNumberSource)
    assert take_transactions(p, 3) == [1, 2, 3]
    assert take_transactions(InMemoryControlNumbers(transaction=10), 2) == [10, 11]
    assert take_transactions(p, 0) == []
