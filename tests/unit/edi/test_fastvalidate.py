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
    assert fast.transaction_sets == slow.transaction_sets >= 1


def _mutate(path: Path, old: str, new: str) -> bytes:
    text = path.read_text("ascii")
    assert old in text
    return text.replace(old, new, 1).encode("ascii")


def test_invalid_file_gets_pyx12s_report() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    term, ele = text[105], text[3]
    clm = next(s for s in text.split(term) if s.lstrip().startswith("CLM" + ele))
    parts = clm.split(ele)
    parts[1] = ""  # CLM01 patient control number missing
    data = _mutate(simple, clm, ele.join(parts))
    outcome = prove_valid(data.decode("ascii"))
    assert not outcome.valid and outcome.reason == "element"
    assert str(outcome.segment_no) in {str(i) for i in range(1, 200)}
    fast, slow = validate_x12(data, engine="fast"), validate_x12(data, engine="pyx12")
    assert not fast.ok
    assert format_report(fast, "x.837") == format_report(slow, "x.837")
    assert any(e.element == "CLM01" and e.code == "1" for e in fast.errors)


def test_se_count_and_hl_parent_are_checked() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    term, ele = text[105], text[3]
    se = next(s for s in text.split(term) if s.lstrip().startswith("SE" + ele))
    parts = se.split(ele)
    parts[1] = str(int(parts[1]) + 1)
    bad_count = _mutate(simple, se, ele.join(parts)).decode("ascii")
    assert prove_valid(bad_count).reason == "SE01 count"
    hl2 = next(s for s in text.split(term) if s.lstrip().startswith(f"HL{ele}2{ele}"))
    bad_parent = _mutate(simple, hl2, hl2.replace(f"HL{ele}2{ele}1{ele}", f"HL{ele}2{ele}9{ele}", 1))
    assert prove_valid(bad_parent.decode("ascii")).reason == "HL02 parent"


def test_reasons_never_quote_values() -> None:
    simple = FIXTURES / "837p" / "simple.837"
    text = simple.read_text("ascii")
    nm1 = next(s for s in text.split(text[105]) if "NM1" + text[3] + "IL" in s)
    data = _mutate(simple, nm1, nm1 + text[3] + "SECRETNAME")
    outcome = prove_valid(data.decode("ascii"))
    assert not outcome.valid
    assert "SECRETNAME" not in (outcome.reason or "")


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
