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
    for (
        guide,
        what,
    ) in (  # 005010X212 is read since parsers.x277_005010x212 (tests/unit/parsers/test_x277_x212.py)
        ("005010X228", "health care claim pending status information"),
        ("005010X364", "data reporting acknowledgment"),
    ):
        p = tmp_path / "s.277"  # type: ignore[operator]
        p.write_text(text("277ca/accepted_and_rejected.277").replace("005010X214", guide))
        with pytest.raises(X12ParseError) as exc:
            list(parse_file(p))
        assert (
            str(exc.value) == f"s.277: a 277 {guide} ({what}) is not a 277CA (005010X214) or a claim status "
            "response (005010X212); only those 277s are read"
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


# ---- 277CA: rejections above claim level, line rejections ------------------------------------------------

HEAD_277 = """ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*CLAIMFLOW      *260115*1015*^*00501*000000311*0*P*:~
GS*HN*ACMEHEALTH*CLAIMFLOW*20260115*1015*311*X*005010X214~
ST*277*0001*005010X214~
BHT*0085*08*ACK311*20260115*1015*TH~
HL*1**20*1~
NM1*PR*2*ACME HEALTH PLAN*****PI*ACME01~
TRN*1*ACK0000311~
DTP*050*D8*20260115~
DTP*009*D8*20260115~
HL*2*1*21*{child}~
NM1*41*2*CLAIMFLOW CLEARINGHOUSE*****46*CLAIMFLOW~
TRN*2*BATCH20260114A~
{batch_stc}
"""


def build_277(batch_stc: str, rest: str = "", child: str = "0") -> bytes:
    body = HEAD_277.format(batch_stc=batch_stc, child=child) + rest
    segs = [s for s in body.replace("\n", "").split("~") if s]
    n = len(segs) - 2  # ST..SE: everything after ISA, GS
    return (body + f"SE*{n + 1}*0001~\nGE*1*311~\nIEA*1*000000311~\n").encode()


WHOLE_BATCH_REJECTED = build_277("STC*A3:24:41*20260115*U*575~\nQTY*AA*2~\nAMT*YY*575~")


def test_a_whole_837_rejected_at_2200b_is_a_rejecting_batch_record(tmp_path: pytest.TempPathFactory) -> None:
    from parsers.records import LevelStatus

    (lv,) = list(x277.parse(WHOLE_BATCH_REJECTED, name="b.277"))
    assert isinstance(lv, LevelStatus)
    assert (lv.level, lv.loop, lv.trace_number, lv.batch_trace, lv.accepted) == (
        "batch",
        "2200B",
        "BATCH20260114A",
        "BATCH20260114A",
        False,
    )
    assert (lv.provider_id, lv.action_code, str(lv.rejected_quantity), str(lv.rejected_amount)) == (
        None,
        "U",
        "2",
        "575",
    )


def test_stc03_u_alone_rejects_even_with_an_unlisted_category() -> None:
    (lv,) = list(x277.parse(build_277("STC*A0:16*20260115*U~"), name="b.277"))
    assert lv.accepted is False
    (lv,) = list(x277.parse(build_277("STC*A0:16*20260115*WQ~"), name="b.277"))
    assert lv.accepted is None


PROVIDER_REJECTED = """HL*3*2*19*0~
NM1*85*2*SUNRISE FAMILY CLINIC*****XX*1234567893~
TRN*1*PRV0000311~
STC*A3:562:85*20260115*U*300~
QTY*QC*3~
AMT*YY*300~
"""


def test_one_billing_providers_claims_rejected_at_2200c() -> None:
    recs = list(
        x277.parse(build_277("STC*A1:19:PR*20260115*WQ*875~", PROVIDER_REJECTED, child="1"), name="p.277")
    )
    batch, provider = recs
    assert (batch.level, batch.accepted) == ("batch", True)
    assert (provider.level, provider.loop, provider.accepted, provider.batch_trace) == (
        "provider",
        "2200C",
        False,
        "BATCH20260114A",
    )
    assert (provider.provider_id_qualifier, provider.provider_id, provider.trace_number) == (
        "XX",
        "1234567893",
        "PRV0000311",
    )


LINE_ONLY_REJECT = """HL*3*2*19*1~
NM1*85*2*SUNRISE FAMILY CLINIC*****XX*1234567893~
TRN*1*PRV0000311~
STC*A1:19:PR**WQ*300~
HL*4*3*PT~
NM1*QC*1*DOE*JANE****MI*ACM123456789~
TRN*2*SUN-000300~
STC*A0:16*20260115**300~
REF*1K*ACM26015000300~
SVC*HC:99213*150*****1~
STC*A7:453:IL*20260115*U~
REF*FJ*SUN-000300-1~
SVC*HC:99214*150*****1~
STC*A1:19*20260115*WQ~
REF*FJ*SUN-000300-2~
"""


def test_a_claim_whose_only_rejection_is_on_a_2220d_line_is_rejected(
    tmp_path: pytest.TempPathFactory,
) -> None:
    from parsers.records import ClaimStatus

    recs = list(
        x277.parse(build_277("STC*A1:19:PR*20260115*WQ*300~", LINE_ONLY_REJECT, child="1"), name="l.277")
    )
    (claim,) = [r for r in recs if isinstance(r, ClaimStatus)]
    assert claim.category == "A0"  # the claim's own STC neither accepts nor rejects
    assert [ln.accepted for ln in claim.lines] == [False, True]
    assert claim.accepted is False


def _cli(path: object, *args: str) -> tuple[int, str, str]:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from claimflow.cli.parse import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(path), *args])
    return code, out.getvalue(), err.getvalue()


def test_parse_shows_and_counts_rejections_above_claim_level(tmp_path: pytest.TempPathFactory) -> None:
    import json

    p = tmp_path / "b.277"  # type: ignore[operator]
    p.write_bytes(WHOLE_BATCH_REJECTED)
    code, out, err = _cli(p)
    assert (code, err) == (0, "")
    (obj,) = [json.loads(x) for x in out.splitlines()]
    assert obj["type"] == "level_status" and obj["level"] == "batch" and obj["accepted"] is False
    assert (obj["batch_trace"], obj["category"], obj["action_code"], obj["rejected_quantity"]) == (
        "BATCH20260114A",
        "A3",
        "U",
        "2",
    )
    assert obj["rejected_amount"] == "575.00"
    summary = json.loads(_cli(p, "--summary")[1])
    assert summary == {
        "transaction": "277",
        "claims": 0,
        "accepted": 0,
        "rejected": 0,
        "batches": 1,
        "rejected_batches": 1,
        "providers": 0,
        "rejected_providers": 0,
    }
    p.write_bytes(
        build_277(
            "STC*A1:19:PR*20260115*WQ*600~",
            PROVIDER_REJECTED + LINE_ONLY_REJECT.replace("HL*3*", "HL*5*").replace("HL*4*3*", "HL*6*5*"),
            child="1",
        )
    )
    summary = json.loads(_cli(p, "--summary")[1])
    assert (summary["rejected_providers"], summary["providers"], summary["rejected_batches"]) == (1, 2, 0)
    assert (summary["claims"], summary["rejected"]) == (1, 1)  # the line-rejected claim
    lines = [json.loads(x) for x in _cli(p)[1].splitlines()]
    (claim,) = [o for o in lines if o["type"] == "claim_status"]
    assert claim["accepted"] is False and [ln["accepted"] for ln in claim["lines"]] == [False, True]


# ---- 999: a set is accepted only if its IK5 accepts and its group's AK9 does not reject it ------------------


def test_999_ik5_accepted_under_a_rejecting_ak9_counts_as_rejected(tmp_path: pytest.TempPathFactory) -> None:
    import json

    body = text("999/accepted.999").replace("AK9*A*2*2*2", "AK9*R*2*2*0*4")
    p = tmp_path / "r.999"  # type: ignore[operator]
    p.write_text(body)
    summary = json.loads(_cli(p, "--summary")[1])
    assert summary == {
        "transaction": "999",
        "accepted_sets": 0,
        "rejected_sets": 2,
        "groups": 1,
        "rejected_groups": 1,
    }
    objs = [json.loads(x) for x in _cli(p)[1].splitlines()]
    assert [(o["status"], o["ik5_accepted"], o["group_status"], o["accepted"]) for o in objs] == [
        ("A", True, "R", False),
        ("A", True, "R", False),
    ]
    # the same file with an accepting AK9 is accepted, and the lines agree with the summary
    p.write_text(text("999/accepted.999"))
    assert json.loads(_cli(p, "--summary")[1])["accepted_sets"] == 2
    assert [json.loads(x)["accepted"] for x in _cli(p)[1].splitlines()] == [True, True]


def test_999_partial_group_listing_only_its_rejected_set(tmp_path: pytest.TempPathFactory) -> None:
    import json

    body = text("999/partially_accepted.999")
    # drop the two accepted/with-errors AK2 loops: AK9*P*3*3*2 still says two were accepted
    start, end = body.index("AK2*837*0001"), body.index("AK2*837*0003")
    body = body[:start] + body[end:]
    body = body.replace("SE*15*0001", "SE*9*0001")
    p = tmp_path / "p.999"  # type: ignore[operator]
    p.write_text(body)
    summary = json.loads(_cli(p, "--summary")[1])
    assert (summary["accepted_sets"], summary["rejected_sets"]) == (2, 1)


# ---- poison values: refused by element, never by value -----------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "find", "replace", "where"),
    [
        ("999/rejected_ik3_ik4.999", "AK2*837*0001*", "AK2*837*0001234567*", "(AK2): AK202 is longer than 9"),
        (
            "999/rejected_ik3_ik4.999",
            "AK1*HC*1002*",
            "AK1*HC*10021002100*",
            "(AK1): AK102 is not a number of at most 9",
        ),
        ("999/rejected_ik3_ik4.999", "AK1*HC*", "AK1*HCX*", "(AK1): AK101 is longer than 2"),
        ("999/rejected_ik3_ik4.999", "AK2*837*", "AK2*8370*", "(AK2): AK201 is longer than 3"),
        (
            "999/rejected_ik3_ik4.999",
            "IK3*NM1*8*2010*8",
            "IK3*NM1X*8*2010*8",
            "(IK3): IK301 is longer than 3",
        ),
        (
            "999/rejected_ik3_ik4.999",
            "IK3*NM1*8*2010*8",
            "IK3*NM1*99999999999*2010*8",
            "(IK3): IK302 is not a number",
        ),
        (
            "999/rejected_ik3_ik4.999",
            "IK3*NM1*8*2010*8",
            "IK3*NM1*9999999999*2010*8",
            "(IK3): IK302 is beyond",
        ),
        (
            "999/rejected_ik3_ik4.999",
            "IK3*NM1*8*2010*8",
            "IK3*NM1*8*2010BA1*8",
            "(IK3): IK303 is longer than 6",
        ),
        (
            "999/rejected_ik3_ik4.999",
            "IK3*NM1*8*2010*8",
            "IK3*NM1*8*2010*8888",
            "(IK3): IK304 is longer than 3",
        ),
        (
            "999/rejected_ik3_ik4.999",
            "IK4*9*67*7*",
            "IK4*999*67*7*",
            "(IK4): IK401-1 is not a number of at most 2",
        ),
        ("999/rejected_ik3_ik4.999", "IK4*9*67*7*", "IK4*9*67*7777*", "(IK4): IK403 is longer than 3"),
        (
            "999/rejected_ik3_ik4.999",
            "CTX*CLM01:SUN-000123",
            "CTX*CLM01:" + "S" * 39,
            "(CTX): CTX01-2 is longer than 38",
        ),
        ("999/rejected_ik3_ik4.999", "IK5*R*5", "IK5*R*5555", "(IK5): IK502 is longer than 3"),
        ("999/rejected_ik3_ik4.999", "AK9*R*1*1*0", "AK9*R*1*1*0*4444", "(AK9): AK905 is longer than 3"),
        (
            "ta1/rejected.ta1",
            "TA1*000001001*",
            "TA1*0000010011*",
            "(TA1): TA101 is not an interchange control number",
        ),
        ("ta1/rejected.ta1", "*R*022", "*R*0222", "(TA1): TA105 is longer than 3"),
        (
            "277ca/accepted_and_rejected.277",
            "TRN*2*SUN-000123",
            "TRN*2*" + "P" * 39,
            "(TRN): TRN02 is longer than 38",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "TRN*2*BATCH20260114A",
            "TRN*2*" + "B" * 51,
            "(TRN): TRN02 is longer than 50",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "REF*1K*ACM26015000123",
            "REF*1K*" + "K" * 51,
            "(REF): REF02 is longer than 50",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "STC*A2:20:PR",
            "STC*A2XY:20:PR",
            "(STC): STC01-1 is longer than 3",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "STC*A2:20:PR",
            "STC*A2:123456:PR",
            "(STC): STC01-2 is longer than 5",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "STC*A2:20:PR",
            "STC*A2:20:PRXX",
            "(STC): STC01-3 is longer than 3",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "*U*125******A7:454:IL",
            "*U*125******A7:4545454:IL",
            "(STC): STC10-2 is longer than 5",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "*WQ*450~",
            "*WQ*1000000000000~",
            "(STC): STC04 is out of range for an amount",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "*WQ*450~",
            "*WQ*450.005~",
            "(STC): STC04 has a non-zero digit past the second",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "AMT*YU*450~\nAMT*YY*125~\nHL*3",
            "AMT*YU*4500000000000~\nAMT*YY*125~\nHL*3",
            "(AMT): AMT02 is out of range",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "XX*1234567893~",
            "XX*" + "9" * 81 + "~",
            "(NM1): NM109 is longer than 80",
        ),
        (
            "277ca/accepted_and_rejected.277",
            "46*CLAIMFLOW~",
            "46*" + "C" * 81 + "~",
            "(NM1): NM109 is longer than 80",
        ),
    ],
)
def test_stored_elements_are_bounded_and_named_never_quoted(
    rel: str, find: str, replace: str, where: str
) -> None:
    body = text(rel)
    assert body.count(find) >= 1, find
    body = body.replace(find, replace, 1)
    parser = {"999": x999.parse, "ta1": ta1_parser.parse, "277": x277.parse}[rel.rsplit(".", 1)[1]]
    with pytest.raises(X12ParseError) as exc:
        list(parser(body.encode(), name="poison.x12"))
    line = str(exc.value)
    assert line.startswith("poison.x12: segment ") and where in line, line
    for token in set(replace.replace("~", "*").replace(":", "*").replace("\n", "*").split("*")) - set(
        find.replace("~", "*").replace(":", "*").replace("\n", "*").split("*")
    ):
        if len(token) > 3:
            assert token not in line  # the value is never quoted


@pytest.mark.parametrize(
    ("find", "replace", "where"),
    [
        ("*ACMEHEALTH     *", "*ACMEHEALTHVERYLONGSENDERNAME*", "(ISA): ISA06 is longer than 15 characters"),
        ("*CLAIMFLOW      *", "*CLAIMFLOWRECEIVERTOOLONG*", "(ISA): ISA08 is longer than 15 characters"),
        ("*000000201*0*P*", "*000000201*0*Q*", "(ISA): ISA15 is not P or T"),
    ],
)
def test_isa_elements_stored_with_the_interchange_are_bounded(find: str, replace: str, where: str) -> None:
    body = text("999/accepted.999")
    assert find in body
    with pytest.raises(X12ParseError) as exc:
        list(x999.parse(body.replace(find, replace, 1).encode(), name="i.999"))
    assert str(exc.value).startswith("i.999: segment 1 (ISA): ") and where in str(exc.value)
    assert "VERYLONG" not in str(exc.value) and "TOOLONG" not in str(exc.value)


@pytest.mark.parametrize(
    ("find", "replace", "element"),
    [
        ("SE*8*0001", "SE*8*DOE JANE", "SE02"),
        ("GE*1*201", "GE*1*2010000000000", "GE02"),
        ("IEA*1*000000201", "IEA*1*SMITH*JOHN", "IEA02"),
    ],
)
def test_a_trailer_control_number_that_is_not_one_is_described_not_quoted(
    find: str, replace: str, element: str
) -> None:
    body = text("999/accepted.999").replace(find, replace)
    with pytest.raises(X12ParseError) as exc:
        list(x999.parse(body.encode(), name="t.999"))
    line = str(exc.value)
    assert f"{element} (not a control number) does not match" in line
    assert "DOE" not in line and "SMITH" not in line and "2010000000000" not in line


def test_a_wrong_trailer_control_number_is_still_quoted() -> None:
    body = text("999/accepted.999").replace("IEA*1*000000201", "IEA*1*000000202")
    with pytest.raises(X12ParseError, match=r"\(IEA\): IEA02 000000202 does not match ISA13 000000201$"):
        list(x999.parse(body.encode(), name="t.999"))


@pytest.mark.parametrize(
    ("find", "replace", "where"),
    [
        (
            "ST*999*0001*005010X231A1",
            "ST*99*0001*005010X231A1",
            "(ST): ST01 is not a transaction set identifier",
        ),
        (
            "ST*999*0001*005010X231A1",
            "ST*999*0001*DOE JANE 1970",
            "(ST): ST03 is not an implementation convention",
        ),
        ("*X*005010X231A1~", "*X*DOE JANE~", "(GS): GS08 is not a version"),
    ],
)
def test_version_elements_that_errors_quote_are_checked_first(find: str, replace: str, where: str) -> None:
    body = text("999/accepted.999")
    assert find in body
    with pytest.raises(X12ParseError) as exc:
        list(x999.parse(body.replace(find, replace, 1).encode(), name="v.999"))
    assert where in str(exc.value) and "DOE" not in str(exc.value)


def test_an_unknown_hl03_is_named_not_quoted() -> None:
    body = text("277ca/accepted_and_rejected.277").replace("HL*4*3*PT~", "HL*4*3*DOE~")
    with pytest.raises(X12ParseError) as exc:
        list(x277.parse(body.encode(), name="h.277"))
    assert (
        str(exc.value)
        == "h.277: segment 27 (HL): HL03 is not 20, 21, 19 or PT (277CA hierarchical level code)"
    )
