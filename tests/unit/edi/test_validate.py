from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edi.control_numbers import InMemoryControlNumbers
from edi.validate import ValidationError, ValidationReport, format_report, validate_x12
from edi.x837 import build_interchange

from .conftest import CREATED, PARTIES, RECEIVER, SUBMITTER, professional_claim

REPO = Path(__file__).resolve().parents[3]
SECRET = "ZEBULON"  # stands in for PHI: must never show up in a message


def good_text() -> str:
    return build_interchange(
        [professional_claim(1)], PARTIES, SUBMITTER, RECEIVER, InMemoryControlNumbers(), CREATED
    ).text


def by_element(report: ValidationReport) -> dict[str | None, ValidationError]:
    return {e.element: e for e in report.errors if e.element}


def test_valid_file_from_path_and_bytes() -> None:
    fx = REPO / "fixtures"
    for name, source in (
        ("837p/simple.837", fx / "837p/simple.837"),
        ("837p/batch_multi_st.837", str(fx / "837p/batch_multi_st.837")),
        ("837i/inpatient.837", (fx / "837i/inpatient.837").read_bytes()),
    ):
        r = validate_x12(source)
        assert r.ok, format_report(r, name)
        assert format_report(r, name) == []
        assert r.transaction_sets == (3 if "batch" in name else 1)


def test_element_errors_are_located_and_value_free() -> None:
    t = good_text()
    t = t.replace("NM1*IL*1*DOE*JANE*Q***MI*W123456789~", f"NM1*IL*1*DOE*JANE*Q***{SECRET[:2]}*~")
    t = t.replace("DMG*D8*19800412*F~", f"DMG*D8*19801312*{SECRET}~")
    r = validate_x12(t.encode())
    assert not r.ok
    els = by_element(r)
    nm109 = els["NM109"]
    assert (nm109.segment_no, nm109.segment_id, nm109.code, nm109.level) == (16, "NM1", "1", "element")
    assert nm109.message == 'mandatory data element missing ("Subscriber Primary Identifier")'
    assert els["NM108"].code == "7"
    assert els["DMG02"].code == "8" and els["DMG02"].segment_no == 19
    assert els["DMG03"].code in ("5", "7")
    lines = format_report(r, "out/x.837")
    assert (
        'out/x.837: segment 16 (NM1): NM109 mandatory data element missing ("Subscriber Primary Identifier")'
        in lines
    )
    for line in lines:
        assert SECRET not in line and SECRET[:2] + " " not in line and "19801312" not in line


def test_out_of_place_segment_message_does_not_quote_data() -> None:
    t = good_text().replace("DMG*D8*19800412*F~", f"DMG*D8*19800412*F~N3*{SECRET} STREET~")
    r = validate_x12(t.encode())
    assert not r.ok
    assert any(e.segment_id == "N3" for e in r.errors)
    for e in r.errors:
        assert SECRET not in e.message


def test_envelope_count_errors_point_at_trailers() -> None:
    t = good_text()
    t = (
        t.replace("SE*34*0001~", "SE*35*0001~")
        .replace("GE*1*1~", "GE*2*1~")
        .replace("IEA*1*000000001~", "IEA*3*000000001~")
    )
    r = validate_x12(t.encode())
    got = {(e.level, e.segment_id, e.code, e.segment_no) for e in r.errors}
    assert ("transaction", "SE", "4", 36) in got
    assert ("group", "GE", "5", 37) in got
    assert ("interchange", "IEA", "021", 38) in got


def test_isa_element_errors_are_not_lost() -> None:
    t = good_text().replace("*ZZ*CLAIMFLOW      *", "*QQ*CLAIMFLOW      *", 1)
    r = validate_x12(t.encode())
    assert not r.ok
    e = by_element(r)["ISA05"]
    assert (e.segment_no, e.segment_id, e.code) == (1, "ISA", "7")


def test_non_ascii_is_reported_by_segment() -> None:
    data = good_text().encode().replace(b"JANE", "JAN\u00c9".encode())
    r = validate_x12(data)
    assert not r.ok
    e = r.errors[0]
    assert (e.segment_no, e.segment_id, e.code) == (16, "NM1", "6")
    assert "non-ASCII" in e.message


def test_not_x12_and_unknown_guide() -> None:
    r = validate_x12(b"hello world")
    assert not r.ok and r.errors[0].code == "024"
    assert format_report(r, "junk.txt") == ["junk.txt: segment 1: not an X12 interchange (no ISA header)"]
    r = validate_x12(good_text().replace("005010X222A1", "005010X999A1").encode())
    assert not r.ok and r.errors[0].element == "GS08"


def test_report_without_details_still_says_so() -> None:
    r = ValidationReport(errors=[], pyx12_valid=False)
    assert format_report(r, "x.837") == ["x.837: pyx12 rejected the file without details"]


def test_pyx12_logger_is_silenced_and_restored(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("pyx12")
    before = (log.level, log.propagate)
    t = good_text().replace("DMG*D8*19800412*F~", f"DMG*D8*19800412*{SECRET}~")
    with caplog.at_level(logging.DEBUG):
        r = validate_x12(t.encode())
    assert not r.ok
    assert not [rec for rec in caplog.records if rec.name.startswith("pyx12")]
    assert SECRET not in caplog.text
    assert (log.level, log.propagate) == before
