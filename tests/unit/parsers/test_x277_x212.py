"""277 claim status response (005010X212): records, summary (categories), hostile input."""

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
from parsers.records import ClaimStatus
from parsers.x277_005010x212 import category_group, parse

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "277" / "x212_status.277"


def _three_claims() -> bytes:
    """The fixture's claim, plus a pended claim and a not-found one under the same subscriber."""
    text = FIX.read_text()
    extra = (
        "TRN*2*PCN0002~STC*P1:20*20260301~REF*1K*PAYERCLAIM2~DTP*472*D8*20260210~"
        "TRN*2*PCN0003~STC*D0:35*20260301~DTP*472*D8*20260211~"
    )
    i = text.index("SE*")
    n = int(text[i + 3 : text.index("*", i + 3)])
    text = text[:i] + extra + f"SE*{n + 7}" + text[text.index("*", i + 3) :]
    return text.encode()


def test_detected_and_read() -> None:
    assert detect_file(FIX).kind == "277"
    (rec,) = [r for r in parse_file(FIX) if isinstance(r, ClaimStatus)]
    assert rec.patient_control_number == "PCN0001"  # REF*EJ
    assert rec.payer_claim_control_number == "PAYERCLAIM1"
    assert (rec.category, rec.status_code) == ("F1", "1")
    assert rec.status_date == dt.date(2026, 3, 1)
    assert rec.charge == Decimal("150.00")
    assert rec.service_date_from == dt.date(2026, 2, 1)
    assert rec.accepted is None  # F-categories are not acknowledgments


def test_several_claims_and_summary(tmp_path: Path) -> None:
    f = tmp_path / "s.277"
    f.write_bytes(_three_claims())
    recs = [r for r in parse(f.read_bytes(), name="s.277") if isinstance(r, ClaimStatus)]
    assert [(r.patient_control_number, r.category) for r in recs] == [
        ("PCN0001", "F1"),
        ("PCN0002", "P1"),
        ("PCN0003", "D0"),
    ]
    assert [category_group(r.category) for r in recs] == ["finalized", "pended", "not_found"]
    out = io.StringIO()
    assert parse_cli.run(str(f), summary=True, out=out) == 0
    assert json.loads(out.getvalue()) == {
        "transaction": "277",
        "claims": 3,
        "categories": {"D0": 1, "F1": 1, "P1": 1},
    }
    out = io.StringIO()
    parse_cli.run(str(f), summary=False, out=out)
    assert "DOE" not in out.getvalue() and "W123456789" not in out.getvalue()


@pytest.mark.parametrize(
    ("old", "new", "sid", "element"),
    [
        ("STC*F1:1*20260301", "STC*F1:1*20261301", "STC", "STC02"),
        ("STC*F1:1*20260301**150.00", "STC*F1:1*20260301**1X0.00", "STC", "STC04"),
        ("HL*4*3*22*0", "HL*4*3*77*0", "HL", "HL03"),
        ("REF*EJ*PCN0001", "REF*EJ*" + "P" * 39, "REF", "REF02"),
    ],
)
def test_hostile(old: str, new: str, sid: str, element: str, tmp_path: Path) -> None:
    text = FIX.read_text()
    assert old in text
    f = tmp_path / "bad.277"
    f.write_text(text.replace(old, new, 1))
    with pytest.raises(X12ParseError) as ei:
        list(parse_file(f))
    assert (ei.value.segment_id, ei.value.element) == (sid, element)
    assert "DOE" not in str(ei.value) and "P" * 39 not in str(ei.value)
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert parse_cli.main([str(f), "--summary"]) == 2
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("bad.277: segment ")


def test_other_277_guides_are_not_read_as_x212(tmp_path: Path) -> None:
    f = tmp_path / "o.277"
    f.write_text(FIX.read_text().replace("005010X212", "005010X228"))
    with pytest.raises(X12ParseError, match="X228"):
        list(parse_file(f))
    with pytest.raises(X12ParseError, match="is not a claim status response"):
        list(parse(f.read_bytes(), name="o.277"))
