"""Envelope checks (ISA/GS/ST/SE/GE/IEA), routing and parse_file, shared by all inbound parsers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edi.errors import X12ParseError
from parsers import parse_file, sha256_of
from parsers.detect import classify, detect_file, detect_transaction
from parsers.records import ClaimPayment, ClaimStatus, InterchangeAck, TransactionSetAck
from tests.unit.parsers.conftest import fixture

GOOD = "835/payment_contractual_deductible_coinsurance.835"

MALFORMED = [
    (
        "truncated.835",
        "truncated.835: segment 28 (CAS): file ends inside transaction set 0001 (no SE); truncated?",
    ),
    ("wrong_se_count.835", "wrong_se_count.835: segment 38 (SE): SE01 says 35 segments, counted 36"),
    ("missing_isa.835", "missing_isa.835: segment 39 (IEA): IEA without ISA"),
    (
        "wrong_iea_control.835",
        "wrong_iea_control.835: segment 40 (IEA): IEA02 000000999 does not match ISA13 000000101",
    ),
    (
        "binary_junk.835",
        "binary_junk.835: segment 1: control character 0x1A in data (binary or corrupt file); not an X12 file",
    ),
    ("empty.835", "empty.835: segment 1: empty file"),
    ("nul_in_data.835", "nul_in_data.835: segment 21: NUL byte in data (binary or corrupt file)"),
    (
        "bad_amount.835",
        "bad_amount.835: segment 19 (CLP): CLP04 is not a valid X12 decimal amount (digits, optional minus sign and decimal point)",
    ),
    ("bad_date.835", "bad_date.835: segment 33 (DTM): DTM02 is not a valid calendar date (CCYYMMDD)"),
    (
        "nan_amount.835",
        "nan_amount.835: segment 25 (AMT): AMT02 is not a valid X12 decimal amount (digits, optional minus sign and decimal point)",
    ),
]


@pytest.mark.parametrize(("name", "line"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_fixtures_fail_with_one_clear_line(name: str, line: str) -> None:
    with pytest.raises(X12ParseError) as exc:
        list(
            parse_file(
                fixture(f"malformed/{name}"), kind="835" if name in ("empty.835", "binary_junk.835") else None
            )
        )
    assert str(exc.value) == line
    assert "\n" not in str(exc.value)


def _edit(find: str, replace: str) -> bytes:
    text = fixture(GOOD).read_text()
    assert find in text
    return text.replace(find, replace, 1).encode()


@pytest.mark.parametrize(
    ("find", "replace", "line"),
    [
        ("SE*36*0001", "SE*36*0002", "<input>: segment 38 (SE): SE02 0002 does not match ST02 0001"),
        ("SE*36*0001", "SE*X*0001", "<input>: segment 38 (SE): SE01 is not a segment count"),
        ("GE*1*101", "GE*2*101", "<input>: segment 39 (GE): GE01 says 2 transaction sets, counted 1"),
        ("GE*1*101", "GE*1*999", "<input>: segment 39 (GE): GE02 999 does not match GS06 101"),
        (
            "IEA*1*000000101",
            "IEA*2*000000101",
            "<input>: segment 40 (IEA): IEA01 says 2 functional groups, counted 1",
        ),
        ("SE*36*0001~\n", "", "<input>: segment 38 (GE): GE inside transaction set 0001: its SE is missing"),
        ("GE*1*101~\n", "", "<input>: segment 39 (IEA): IEA inside functional group 101: its GE is missing"),
        (
            "*000000101*0*P",
            "*00000010X*0*P",
            "<input>: segment 1 (ISA): ISA13 is not a 9-digit interchange control number",
        ),
    ],
)
def test_trailer_checks(find: str, replace: str, line: str) -> None:
    from parsers import x835_005010x221a1 as x835

    with pytest.raises(X12ParseError) as exc:
        list(x835.parse(_edit(find, replace)))
    assert str(exc.value) == line


def test_segment_after_the_last_iea() -> None:
    from parsers import x835_005010x221a1 as x835

    bad = fixture(GOOD).read_bytes() + b"CLP*X*1*1*1~"
    with pytest.raises(X12ParseError, match=r"segment 41 \(CLP\): CLP outside a transaction set"):
        list(x835.parse(bad))


def test_bare_transaction_set_without_envelope() -> None:
    from parsers import x835_005010x221a1 as x835

    text = fixture(GOOD).read_text()
    body = text[text.index("ST*835") : text.index("GE*")]
    recs = list(x835.parse(body.encode()))
    claim = next(r for r in recs if isinstance(r, ClaimPayment))
    assert (claim.isa13, claim.gs06, claim.st02, claim.segment_no) == (None, None, "0001", 17)
    with pytest.raises(X12ParseError, match="file ends inside transaction set 0001"):
        list(x835.parse(body[: body.index("SE*")].encode()))


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        (GOOD, "835"),
        ("999/accepted.999", "999"),
        ("277ca/accepted_and_rejected.277", "277CA"),
        ("ta1/rejected.ta1", "TA1"),
        ("837p/simple.837", "837"),
    ],
)
def test_detect(rel: str, kind: str) -> None:
    assert detect_file(fixture(rel)).kind == kind
    assert detect_transaction(fixture(rel).read_bytes()[:300]) == kind


def test_detect_277ca_by_bht_when_versions_lie() -> None:
    text = fixture("277ca/accepted_and_rejected.277").read_text().replace("005010X214", "005010X999")
    assert detect_transaction(text.encode()) == "277CA"
    assert detect_transaction(text.replace("*1015*TH~", "*1015*DG~").encode()) == "277"


def test_detect_by_gs01_and_ta1_with_999() -> None:
    c = classify(
        b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *260115*1200*^*00501*000000001*0*P*:~GS*FA*A*B*20260115*1200*1*X*005010X231A1~"
    )
    assert c.kind == "999" and c.gs01 == "FA" and c.st01 is None
    text = fixture("999/accepted.999").read_text()
    i = text.index("GS*")
    both = text[:i] + "TA1*000001001*260114*2359*A*000~\n" + text[i:]
    c = classify(both.encode())
    assert c.kind == "999" and c.has_ta1
    recs = list(parse_file_bytes(both.encode()))
    assert isinstance(recs[0], InterchangeAck) and isinstance(recs[1], TransactionSetAck)


def parse_file_bytes(data: bytes) -> list[object]:
    from parsers import parser_for

    return list(parser_for(detect_transaction(data))(data))


def test_detect_refuses_non_x12() -> None:
    with pytest.raises(X12ParseError, match="empty file"):
        detect_transaction(b"")


def test_parse_file_dispatch_and_sha(tmp_path: Path) -> None:
    path = fixture("277ca/accepted_and_rejected.277")
    recs = list(parse_file(path))
    assert sum(isinstance(r, ClaimStatus) for r in recs) == 2
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_of(path) == digest and {r.file_sha256 for r in recs} == {digest}  # type: ignore[attr-defined]
    assert {r.file_sha256 for r in parse_file(path, file_sha256="given", name="x.277")} == {"given"}  # type: ignore[attr-defined]


def test_parse_file_refuses_what_it_does_not_read() -> None:
    with pytest.raises(X12ParseError, match=r"^simple.837: an 837 claim file"):
        parse_file(fixture("837p/simple.837"))
