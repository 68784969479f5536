"""edi/inquiry.py: what the 270 and 276 builders share (envelope, BHT, grouping, payer loop)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from edi.claim import InterchangeParties
from edi.errors import X12WriteError
from edi.inquiry import by_payer_and_provider, element
from edi.x270 import Inquiry, build_270
from edi.x276 import StatusInquiry, build_276

PARTIES = InterchangeParties("ZZ", "CLAIMFLOW", "ZZ", "CLEARINGHOUSE")
CREATED = dt.datetime(2026, 3, 2, 9, 30)


def _270(inquiries: list[Inquiry], parties: InterchangeParties = PARTIES) -> str:
    return build_270(
        inquiries,
        parties,
        interchange_control_number=12,
        group_control_number=13,
        transaction_control_number=14,
        created=CREATED,
    )


def _276(inquiries: list[StatusInquiry], parties: InterchangeParties = PARTIES) -> str:
    return build_276(
        inquiries,
        parties,
        interchange_control_number=12,
        group_control_number=13,
        transaction_control_number=14,
        created=CREATED,
        receiver_name="claimflow",
        receiver_id="CF01",
    )


def _inquiry(trace: str, payer: str, npi: str) -> Inquiry:
    return Inquiry(
        trace, f"PLAN {payer}", payer, f"CLINIC {npi}", npi, "DOE", "JANE", "W1", dt.date(1980, 1, 2), "F",
        dt.date(2026, 3, 2),
    )  # fmt: skip


def _status(pcn: str, payer: str) -> StatusInquiry:
    return StatusInquiry(
        pcn, f"PLAN {payer}", payer, "CLINIC", "1234567893", "DOE", "JANE", "W1", dt.date(1980, 1, 2), "X",
        Decimal("150"), dt.date(2026, 2, 1), dt.date(2026, 2, 1),
    )  # fmt: skip


def _segments(text: str) -> list[str]:
    return [s for s in text.split("~") if s]


def test_element_makes_any_text_an_x12_element() -> None:
    assert element(" o'neil*anne:b^c~\r\n ", 60) == "O'NEIL ANNE B C"
    assert element("abcdef", 3) == "ABC"
    assert element(None, 10) == ""


def test_requests_are_grouped_by_payer_then_provider_in_first_seen_order() -> None:
    qs = [_inquiry("A", "2", "9"), _inquiry("B", "1", "9"), _inquiry("C", "2", "8"), _inquiry("D", "2", "9")]
    groups = by_payer_and_provider(qs)
    assert list(groups) == [("2", "PLAN 2"), ("1", "PLAN 1")]
    assert {npi: [q.trace for q in v] for (npi, _), v in groups[("2", "PLAN 2")].items()} == {
        "9": ["A", "D"],
        "8": ["C"],
    }


def test_270_and_276_share_the_header_and_payer_loop() -> None:
    x270 = _segments(_270([_inquiry("T1", "87726", "1234567893")]))
    x276 = _segments(_276([_status("PCN1", "87726")]))
    # GS01 and ST01 name the transaction; BHT01 its purpose; the payer loop is the same in both
    assert x270[1].startswith("GS*HS*") and x276[1].startswith("GS*HR*")
    assert (x270[2], x276[2]) == ("ST*270*0014*005010X279A1", "ST*276*0014*005010X212")
    assert (x270[3], x276[3]) == ("BHT*0022*13*CF12*20260302*0930", "BHT*0010*13*CS12*20260302*0930")
    assert x270[4:6] == x276[4:6] == ["HL*1**20*1", "NM1*PR*2*PLAN 87726*****PI*87726"]
    for segs in (x270, x276):
        se = next(s for s in segs if s.startswith("SE*"))
        assert int(se.split("*")[1]) == segs.index(se) - 1  # ST through SE
    assert "DMG*D8*19800102*U" in x276  # a gender other than F or M is sent as unknown


def test_an_envelope_error_comes_before_an_empty_request_error() -> None:
    with pytest.raises(X12WriteError, match="270: no inquiries"):
        _270([])
    with pytest.raises(X12WriteError, match="276: no claims"):
        _276([])
    bad = InterchangeParties("XX", "CLAIMFLOW", "ZZ", "CLEARINGHOUSE")
    with pytest.raises(X12WriteError, match="ISA05"):
        _270([], bad)
    with pytest.raises(X12WriteError, match="ISA05"):
        _276([], bad)
