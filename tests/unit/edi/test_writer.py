from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from edi.delimiters import Delimiters
from edi.errors import X12WriteError
from edi.writer import (
    D8Cache,
    SegmentWriter,
    delimiter_translation,
    format_amount,
    format_d8,
    make_text_checker,
    text_is_safe,
    unsafe_reason,
)


def test_segment_drops_trailing_empties_and_keeps_interior_ones() -> None:
    w = SegmentWriter()
    w.segment("NM1", "85", "2", "SUNRISE CLINIC", "", None, "", "", "XX", "1234567893", "", None)
    assert w.text() == "NM1*85*2*SUNRISE CLINIC*****XX*1234567893~"
    assert w.segment_count == 1


def test_composite_trailing_empty_components_dropped() -> None:
    w = SegmentWriter()
    w.segment("SV1", ("HC", "99213", "25", "", ""), "125", "UN", "1", "", "", ("1", "2"))
    assert w.text() == "SV1*HC:99213:25*125*UN*1***1:2~"


def test_newline_option() -> None:
    w = SegmentWriter(newline=True)
    w.segment("LX", "1")
    w.raw("ISA*00")
    assert w.text() == "LX*1~\nISA*00~\n"
    assert w.segment_count == 2


@pytest.mark.parametrize("bad", ["DOE*SMITH", "DOE~", "A:B", "A^B", "LINE\nBREAK", "TAB\tX", "JOSÉ"])
def test_segment_writer_refuses_unsafe_value_naming_element_not_value(bad: str) -> None:
    w = SegmentWriter()
    w.context = "PCN000042"
    with pytest.raises(X12WriteError) as ei:
        w.segment("NM1", "IL", "1", bad)
    msg = str(ei.value)
    assert msg.startswith("NM103 (claim PCN000042):")
    assert bad not in msg


def test_segment_writer_names_component() -> None:
    with pytest.raises(X12WriteError, match=r"^SV101-2: "):
        SegmentWriter().segment("SV1", ("HC", "992*3"))


def test_unsafe_reason_kinds() -> None:
    assert unsafe_reason("SPRINGFIELD") is None
    assert unsafe_reason("") is None
    assert "delimiter" in (unsafe_reason("A*B") or "")
    assert "line break" in (unsafe_reason("A\r\nB") or "")
    assert "control" in (unsafe_reason("A\x07B") or "")
    assert "non-ASCII" in (unsafe_reason("MÜLLER") or "")
    # custom delimiters are refused as well as the canonical ones the builders write with
    assert unsafe_reason("A|B", Delimiters(element="|")) is not None
    assert unsafe_reason("A*B", Delimiters(element="|")) is not None


def test_text_checker_default_and_custom() -> None:
    assert text_is_safe("DOE JANE 12 ELM ST SPRINGFIELD IL 62701 W123456789")
    for bad in ("A*", "~", ":", "^", "\n", "\x00", "É", "\x7f"):
        assert not text_is_safe("X" + bad)
    custom = make_text_checker(Delimiters(element="|", component="<", repetition="`", segment="\\"))
    assert custom("PLAIN TEXT")
    for bad in ("|", "<", "`", "\\", "*", "~"):
        assert not custom("X" + bad)


def test_delimiter_translation() -> None:
    assert delimiter_translation(Delimiters()) is None
    nl = delimiter_translation(Delimiters(), newline=True)
    assert nl is not None and nl("A*B~C~") == "A*B~\nC~\n"
    t = delimiter_translation(Delimiters(element="|", component=">", repetition="`", segment="\\"))
    assert t is not None and t("SV1*HC:99213*1~") == "SV1|HC>99213|1\\"
    swap = delimiter_translation(Delimiters(element=":", component="*"))
    assert swap is not None and swap("SV1*HC:99213~") == "SV1:HC*99213~"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("125.00", "125"),
        ("125.50", "125.5"),
        ("0.00", "0"),
        ("-5.00", "-5"),
        ("-0.00", "0"),
        ("1E+2", "100"),
        ("0.05", "0.05"),
        ("1234567.89", "1234567.89"),
    ],
)
def test_format_amount(value: str, text: str) -> None:
    assert format_amount(Decimal(value)) == text


def test_format_amount_rejects_non_finite() -> None:
    with pytest.raises(X12WriteError):
        format_amount(Decimal("Infinity"))


def test_dates() -> None:
    d = dt.date(2024, 1, 5)
    assert format_d8(d) == "20240105"
    cache = D8Cache()
    assert cache[d] == "20240105"
    assert d in cache
