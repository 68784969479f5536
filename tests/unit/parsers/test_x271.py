"""271 (005010X279A1) parser: records, CLI JSON/summary, and hostile input (exit 2, one line, no PHI)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from claimflow.cli import parse as parse_cli
from edi.errors import X12ParseError
from parsers import parse_file
from parsers.detect import detect_file
from parsers.records import Eligibility
from parsers.x271_005010x279a1 import parse

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "271"
PHI = ("DOE", "JANE", "ROE", "MARY", "W123456789", "W555000111", "19800101", "1 MAIN ST")


def records(path: Path) -> list[Eligibility]:
    return [r for r in parse_file(path) if isinstance(r, Eligibility)]


def test_detected_as_271() -> None:
    assert detect_file(FIX / "benefits.271").kind == "271"


def test_benefits_and_inactive_member() -> None:
    active, inactive = records(FIX / "benefits.271")
    assert active.level == "subscriber" and active.active is True
    assert active.trace_number == "EQ0001-1"
    assert active.plan == "GOLD PPO"
    assert active.coverage_from == dt.date(2026, 1, 1) and active.coverage_to is None
    # EB*C ... 23 (calendar year) is the total, EB06 29 is what remains
    assert active.deductible_remaining == Decimal("600.00")
    assert active.out_of_pocket_remaining == Decimal("2400.00")
    assert active.copay == Decimal("25.00")
    assert active.coinsurance == Decimal("0.2")
    assert all(isinstance(b.amount, Decimal | None) for b in active.benefits)
    assert [b.info for b in active.benefits] == ["1", "C", "C", "B", "A", "G"]
    assert active.payer is not None and active.payer.id == "87726"
    assert active.member is not None and active.member.id == "W123456789"
    assert inactive.active is False
    assert (inactive.coverage_from, inactive.coverage_to) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    for r in (active, inactive):
        assert not any(p in repr(r) for p in PHI)


def test_aaa_rejection() -> None:
    (rej,) = records(FIX / "rejected.271")
    assert rej.active is None
    assert [(a.reason, a.follow_up, a.loop) for a in rej.rejections] == [("75", "C", "2100C")]


def _run(path: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = parse_cli.run(str(path), summary="--summary" in args, out=out)
    return code, out.getvalue()


def test_summary_and_json_have_no_phi() -> None:
    code, text = _run(FIX / "benefits.271", "--summary")
    assert code == 0
    assert json.loads(text) == {
        "transaction": "271",
        "subscribers": 2,
        "active": 1,
        "inactive": 1,
        "errors": 0,
    }
    code, text = _run(FIX / "rejected.271", "--summary")
    assert json.loads(text)["errors"] == 1
    code, text = _run(FIX / "benefits.271")
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines[0]["deductible_remaining"] == "600.00" and lines[0]["coinsurance"] == "0.2"
    assert lines[1]["active"] is False
    assert not any(p in text for p in PHI)


def _mutate(old: str, new: str) -> bytes:
    data = (FIX / "benefits.271").read_bytes().decode()
    assert old in data
    return data.replace(old, new, 1).encode()


HOSTILE = [
    ("EB*C*IND*30***29*600.00~", "EB*C*IND*30***29*6O0.00~", "EB", "EB07"),
    ("EB*A*IND*30***27**0.2~", "EB*A*IND*30***27**X~", "EB", "EB08"),
    ("DTP*346*D8*20260101~", "DTP*346*D8*20261301~", "DTP", "DTP03"),
    ("HL*3*2*22*0~", "HL*3*2*99*0~", "HL", "HL03"),
    ("HL*3*2*22*0~", "HL*3*9*22*0~", "HL", "HL02"),
    ("NM1*IL*1*DOE*JANE****MI*W123456789~", "NM1*IL*1*DOE*JANE****MI*" + "W" * 81 + "~", "NM1", "NM109"),
    ("TRN*2*EQ0001-1*9CLAIMFLOW~", "TRN*2*" + "9" * 51 + "*9CLAIMFLOW~", "TRN", "TRN02"),
    ("EB*6**30~", "EB***30~", "EB", "EB01"),
]


@pytest.mark.parametrize(("old", "new", "sid", "element"), HOSTILE)
def test_hostile_element_is_named(old: str, new: str, sid: str, element: str, tmp_path: Path) -> None:
    f = tmp_path / "bad.271"
    f.write_bytes(_mutate(old, new))
    with pytest.raises(X12ParseError) as ei:
        list(parse(f.read_bytes(), name="bad.271"))
    err = ei.value
    assert err.segment_id == sid and err.element == element and err.segment_no
    assert not any(p in str(err) for p in PHI)
    code, _ = 0, ""
    stderr = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = parse_cli.main([str(f), "--summary"])
    assert code == 2
    line = stderr.getvalue().strip()
    assert "\n" not in line and line.startswith("bad.271: segment ") and element in line


def test_truncated_and_wrong_counts(tmp_path: Path) -> None:
    data = (FIX / "benefits.271").read_bytes()
    cut = data[: data.index(b"EB*6")]
    with pytest.raises(X12ParseError, match=r"no SE|truncated"):
        list(parse(cut, name="cut.271"))
    se = data.decode()
    i = se.index("SE*")
    j = se.index("*", i + 3)
    bad = se[: i + 3] + "99" + se[j:]
    with pytest.raises(X12ParseError) as ei:
        list(parse(bad.encode(), name="n.271"))
    assert ei.value.element == "SE01"


def test_aaa_without_reason_and_eb_outside_subscriber() -> None:
    data = (FIX / "rejected.271").read_bytes().decode()
    with pytest.raises(X12ParseError) as ei:
        list(parse(data.replace("AAA*Y**75*C", "AAA*Y***C").encode(), name="a.271"))
    assert ei.value.element == "AAA03"
    moved = data.replace(
        "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893~", "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893~EB*1~"
    )
    moved = moved.replace("SE*11*", "SE*12*")
    with pytest.raises(X12ParseError) as ei:
        list(parse(moved.encode(), name="b.271"))
    assert ei.value.segment_id == "EB"


def test_a_270_is_not_read_as_271() -> None:
    path = FIX.parent / "270" / "inquiry.270"
    with pytest.raises(X12ParseError):
        list(parse_file(path))
