from __future__ import annotations

from pathlib import Path

import pytest

from edi.fastvalidate import prove_valid
from edi.validate import format_report, validate_x12

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
VALID = sorted(FIXTURES.glob("837*/*.837")) + sorted(FIXTURES.glob("835/*.835"))[:3]


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_generated_files_are_proven_valid_without_pyx12(path: Path) -> None:
    outcome = prove_valid(path.read_text("ascii"))
    assert outcome.valid, outcome.reason
    fast = validate_x12(path, engine="fast")
    slow = validate_x12(path, engine="pyx12")
    assert fast.ok and slow.ok
    assert fast.engine == "fast"
    assert fast.transaction_sets == slow.transaction_sets >= 1


def _mutate(path: Path, old: str, new: str) -> bytes:
    text = path.read_text("ascii")
    assert old in text
    return text.replace(old, new, 1).encode("ascii")


def _keys(report_errors: object) -> set[tuple[object, ...]]:
    return {(e.segment_no, e.segment_id, e.element, e.code) for e in report_errors}  # type: ignore[attr-defined]


def test_element_error_is_reported_by_the_fast_engine_with_pyx12s_report() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    term, ele = text[105], text[3]
    clm = next(s for s in text.split(term) if s.lstrip().startswith("CLM" + ele))
    parts = clm.split(ele)
    parts[1] = ""  # CLM01 patient control number missing
    data = _mutate(simple, clm, ele.join(parts))
    outcome = prove_valid(data.decode("ascii"))
    assert not outcome.valid and not outcome.deferred and outcome.reason == "errors reported"
    fast, slow = validate_x12(data, engine="fast"), validate_x12(data, engine="pyx12")
    assert (fast.engine, slow.engine) == ("fast", "pyx12")
    assert not fast.ok and not fast.pyx12_valid
    assert format_report(fast, "x.837") == format_report(slow, "x.837")
    clm_no = text.split(term).index(clm) + 1
    assert (clm_no, "CLM", "CLM01", "1") in _keys(fast.errors)
    assert fast.transaction_sets == slow.transaction_sets


def test_walk_and_trailer_errors_match_pyx12() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    term, ele = text[105], text[3]
    segs = text.split(term)
    se = next(s for s in segs if s.lstrip().startswith("SE" + ele))
    parts = se.split(ele)
    parts[1] = str(int(parts[1]) + 1)
    bad_count = _mutate(simple, se, ele.join(parts))
    hl2 = next(s for s in segs if s.lstrip().startswith(f"HL{ele}2{ele}"))
    bad_parent = _mutate(simple, hl2, hl2.replace(f"HL{ele}2{ele}1{ele}", f"HL{ele}2{ele}9{ele}", 1))
    nm1 = next(s for s in segs if s.lstrip().startswith(f"NM1{ele}IL{ele}"))
    no_subscriber_name = _mutate(simple, nm1 + term, "")  # required segment missing
    loop_twice = _mutate(simple, nm1 + term, nm1 + term + nm1 + term)  # 2010BA loop over its maximum
    n4 = next(s for s in segs if s.lstrip().startswith(f"N4{ele}"))
    twice = _mutate(simple, n4 + term, n4 + term + n4 + term)  # segment over its maximum use
    expected = {
        "SE count": (bad_count, "4"),
        "HL parent": (bad_parent, "HL2"),
        "missing": (no_subscriber_name, "3"),
        "loop repeat": (loop_twice, "4"),
        "segment repeat": (twice, "5"),
    }
    for name, (data, code) in expected.items():
        outcome = prove_valid(data.decode("ascii"))
        assert not outcome.valid and not outcome.deferred, name
        slow = validate_x12(data, engine="pyx12")
        assert _keys(outcome.errors) == _keys(slow.errors), name
        assert code in {e.code for e in outcome.errors}, name
        assert [e.message for e in outcome.errors] == [e.message for e in slow.errors], name


def test_unmodelled_files_are_deferred_to_pyx12() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    old_isa = text[: text.index(text[105])]
    data = text.replace(old_isa, old_isa[:84] + "00401" + old_isa[89:], 1).encode("ascii")
    outcome = prove_valid(data.decode("ascii"))
    assert outcome.deferred and not outcome.valid and outcome.errors == ()
    assert outcome.reason == "only 5010 interchanges are modelled"
    fast, slow = validate_x12(data, engine="fast"), validate_x12(data, engine="pyx12")
    assert fast.engine == "pyx12"
    assert format_report(fast, "x.837") == format_report(slow, "x.837")


def test_reasons_never_quote_values() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    nm1 = next(s for s in text.split(text[105]) if "NM1" + text[3] + "IL" in s)
    data = _mutate(simple, nm1, nm1 + text[3] + "SECRETNAME")
    outcome = prove_valid(data.decode("ascii"))
    assert not outcome.valid
    assert "SECRETNAME" not in (outcome.reason or "")
    assert all("SECRETNAME" not in e.message for e in outcome.errors)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError):
        validate_x12(FIXTURES / "837p" / "simple.837", engine="other")


@pytest.mark.parametrize("engine", ["fast", "pyx12"])
def test_cli_validate_engine(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from claimflow.cli import main

    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    se = next(s for s in text.split(text[105]) if s.lstrip().startswith("SE" + text[3]))
    bad = tmp_path / "bad.837"
    bad.write_bytes(_mutate(simple, se, se.replace("SE" + text[3], "SE" + text[3] + "9", 1)))
    assert main(["validate", "--engine", engine, str(simple)]) == 0
    assert main(["validate", "--engine", engine, str(bad)]) == 1
    out = capsys.readouterr().out
    assert "simple.837: valid" in out
    assert "bad.837: segment" in out
