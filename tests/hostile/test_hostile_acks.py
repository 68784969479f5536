"""Hostile acknowledgments and envelopes: what partners really send, read exactly — or refused by element.

Each test builds its input in code from the fixtures, so the case it proves is visible here.
"""

from __future__ import annotations

import pytest

from edi.errors import X12ParseError
from parsers import parse_file
from parsers import ta1 as ta1_parser
from parsers import x277ca_005010x214 as x277
from parsers import x835_005010x221a1 as x835
from parsers import x999_005010x231a1 as x999
from parsers.detect import CLAIM_ACK_277CA, STATUS_277, detect_transaction
from parsers.records import InterchangeAck
from tests.unit.parsers.conftest import fixture


def text(rel: str) -> str:
    return fixture(rel).read_text()


# ---- TA1-only interchanges and IEA01 ----------------------------------------------------------------------

TA1_ONLY = text("ta1/rejected.ta1")


def test_ta1_only_interchange_iea01_zero_as_the_standard_says() -> None:
    assert "IEA*0*" in TA1_ONLY
    (rec,) = ta1_parser.parse(TA1_ONLY.encode(), name="t.ta1")
    assert (rec.control_number, rec.ack_code, rec.accepted) == ("000001001", "R", False)


def test_ta1_only_interchange_iea01_one_as_real_senders_write_it() -> None:
    recs = list(ta1_parser.parse(TA1_ONLY.replace("IEA*0*", "IEA*1*").encode(), name="t.ta1"))
    assert [(r.control_number, r.ack_code) for r in recs] == [("000001001", "R")]
    # the same records as the standard form: nothing is lost or invented
    assert recs == list(ta1_parser.parse(TA1_ONLY.encode(), name="t.ta1"))


def test_two_ta1s_iea01_counts_them_or_nothing() -> None:
    two = text("ta1/accepted.ta1")
    assert two.count("TA1*") == 2
    for said in ("0", "2"):
        recs = list(ta1_parser.parse(two.replace("IEA*0*", f"IEA*{said}*").encode(), name="t.ta1"))
        assert len(recs) == 2
    for said in ("1", "3"):
        with pytest.raises(
            X12ParseError, match=rf"\(IEA\): IEA01 says {said} functional groups, counted 0 \(and 2 TA1\)"
        ):
            list(ta1_parser.parse(two.replace("IEA*0*", f"IEA*{said}*").encode(), name="t.ta1"))


def test_ta1_counted_as_a_group_cannot_hide_a_missing_group() -> None:
    """A 999 interchange with a TA1 and one group: IEA01 must count exactly the groups."""
    body = text("999/accepted.999")
    isa_end = body.index("~") + 1
    with_ta1 = body[:isa_end] + "\nTA1*000001001*260114*2359*A*000~" + body[isa_end:]
    recs = list(x999.parse(with_ta1.encode(), name="a.999"))
    assert any(isinstance(r, InterchangeAck) for r in recs)
    with pytest.raises(X12ParseError, match=r"IEA01 says 2 functional groups, counted 1 \(and 1 TA1\)"):
        list(x999.parse(with_ta1.replace("IEA*1*", "IEA*2*").encode(), name="a.999"))


# ---- end-of-file padding: whole files are read, padding is logged -----------------------------------------


@pytest.mark.parametrize("tail", [b"\x1a", b"\x00" * 512, b"\r\n  \t\r\n", b"\r\n\x1a\x00\x00"])
@pytest.mark.parametrize(
    "rel",
    [
        "835/denial_with_rarc.835",
        "999/partially_accepted.999",
        "277ca/accepted_and_rejected.277",
        "ta1/accepted.ta1",
    ],
)
def test_padding_after_the_last_iea_is_ignored(
    rel: str, tail: bytes, tmp_path: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clean = fixture(rel).read_bytes()
    padded = tmp_path / ("p." + rel.rsplit(".", 1)[1])  # type: ignore[operator]
    padded.write_bytes(clean + tail)
    with caplog.at_level("WARNING", logger="edi.reader"):
        got = list(parse_file(padded, file_sha256="x"))
    assert got == list(parse_file(fixture(rel), file_sha256="x"))
    assert len(got) > 0
    logged = [r.getMessage() for r in caplog.records if "padding" in r.getMessage()]
    assert len(logged) == (1 if tail.strip() else 0)


def test_835_summary_path_reads_a_padded_file_too() -> None:
    from parsers.summary835 import totals

    raw = fixture("835/denial_with_rarc.835").read_bytes()
    assert list(totals(raw + b"\x1a", name="p.835", file_sha256="")) == list(
        totals(raw, name="p.835", file_sha256="")
    )
    assert len(list(x835.parse(raw + b"\x00" * 100, name="p.835"))) == len(
        list(x835.parse(raw, name="p.835"))
    )


# ---- precise messages ------------------------------------------------------------------------------------

GS_999 = "GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*203*X*005010X231A1"


@pytest.mark.parametrize(
    ("bad_gs", "message"),
    [
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*203*X", r"GS has 7 elements, 8 required"),
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*203*X*005010X231A1*", r"GS has 9 elements, 8 required"),
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*260115*1001*203*X*005010X231A1", r"GS04 is not a date \(CCYYMMDD\)"),
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*10*203*X*005010X231A1", r"GS05 is not a time"),
        (
            "GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*1234567890*X*005010X231A1",
            r"GS06 is not a group control number \(1-9 digits\)",
        ),
        (
            "GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*20A*X*005010X231A1",
            r"GS06 is not a group control number",
        ),
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*203*Q*005010X231A1", r"GS07 is not X or T"),
        ("GS*FA*ACMEHEALTH*CLAIMFLOW*20260115*1001*203*X*", r"GS08 is not a version"),
    ],
)
def test_malformed_gs_is_named_by_element_not_as_an_unsupported_version(bad_gs: str, message: str) -> None:
    body = text("999/partially_accepted.999").replace(GS_999, bad_gs)
    if bad_gs.endswith("*1234567890*X*005010X231A1"):
        body = body.replace("GE*1*203", "GE*1*1234567890")
    with pytest.raises(X12ParseError) as exc:
        list(x999.parse(body.encode(), name="g.999"))
    line = str(exc.value)
    assert line.startswith("g.999: segment 2 (GS): ")
    assert "not supported" not in line
    import re

    assert re.search(message, line), line


def test_277_x228_is_named_x228() -> None:
    body = text("277ca/accepted_and_rejected.277").replace("005010X214", "005010X228")
    assert detect_transaction(body.encode()) == STATUS_277  # BHT06 TH no longer makes it a 277CA
    with pytest.raises(X12ParseError) as exc:
        list(x277.parse(body.encode(), name="p.277"))
    assert str(exc.value) == (
        "p.277: segment 3 (ST): 277 005010X228 (health care claim pending status information) is not a 277CA "
        "(005010X214)"
    )
    assert "X212" not in str(exc.value)
    assert detect_transaction(text("277ca/accepted_and_rejected.277").encode()) == CLAIM_ACK_277CA


def test_parse_file_names_the_277_guide(tmp_path: pytest.TempPathFactory) -> None:
    for guide, what in (
        ("005010X228", "health care claim pending status information"),
        ("005010X212", "claim status response to a 276"),
    ):
        p = tmp_path / "s.277"  # type: ignore[operator]
        p.write_text(text("277ca/accepted_and_rejected.277").replace("005010X214", guide))
        with pytest.raises(X12ParseError) as exc:
            list(parse_file(p))
        assert (
            str(exc.value) == f"s.277: a 277 {guide} ({what}) is not a 277CA (005010X214); only 277CA is read"
        )


def test_isa13_longer_than_9_digits_is_refused_by_element() -> None:
    body = text("999/accepted.999")
    isa = body[: body.index("~")]
    long_isa = isa.replace("*000000201*", "*0000002011*")
    assert long_isa != isa
    with pytest.raises(X12ParseError, match=r"^l.999: segment 1 \(ISA\): ISA13 is not a 9-digit"):
        list(
            x999.parse(
                body.replace(isa, long_isa).replace("IEA*1*000000201", "IEA*1*0000002011").encode(),
                name="l.999",
            )
        )


def test_st02_longer_than_9_is_refused_by_element() -> None:
    body = (
        text("999/accepted.999")
        .replace("ST*999*0001*", "ST*999*0123456789*")
        .replace("SE*8*0001", "SE*8*0123456789")
    )
    with pytest.raises(X12ParseError) as exc:
        list(x999.parse(body.encode(), name="s.999"))
    assert "(ST): ST02 is longer than 9 characters" in str(exc.value)
    assert "0123456789" not in str(exc.value)
