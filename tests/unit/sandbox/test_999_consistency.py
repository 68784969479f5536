"""The sandbox's 999 never contradicts itself: no IK5 accepted under an AK9 rejected, AK9 counts that
agree with the AK2 loops, and the same verdict for every set whether read from IK5/AK9 or from the
AK9 counts. Checked over write_999 directly (every kind of group result) and over the sandbox's
outputs end to end, with claimflow's own 999 parser."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest

from claimflow.sandbox.payer.responses import (
    ElementError,
    GroupResult,
    SegmentError,
    TransactionResult,
    check_999_group,
    write_999,
)
from parsers import x999_005010x231a1 as x999
from parsers.records import FunctionalGroupAck, TransactionSetAck
from tests.unit.sandbox.conftest import Sandbox, _interchange, build_837, prof


def contradictions(text: str) -> list[str]:
    """Every way a 999 disagrees with itself, read back with the production parser."""
    problems: list[str] = []
    sets: list[TransactionSetAck] = []
    for rec in x999.parse(text.encode(), name="sandbox.999"):
        if isinstance(rec, TransactionSetAck):
            sets.append(rec)
        elif isinstance(rec, FunctionalGroupAck):
            g = rec.group_control_number
            ik5_ok = sum(1 for s in sets if s.accepted)
            final_ok = sum(1 for s in sets if x999.set_accepted(s.status, rec.status))
            rejects = rec.status in x999.REJECTED_GROUP_CODES
            if rejects and ik5_ok:
                problems.append(f"group {g}: IK5 accepted under AK9 {rec.status}")
            if rec.sets_accepted != final_ok and not (rejects and rec.sets_accepted == 0):
                problems.append(f"group {g}: AK904 {rec.sets_accepted} but {final_ok} sets accepted")
            if not rejects and rec.sets_received != len(sets):
                problems.append(f"group {g}: AK903 {rec.sets_received} but {len(sets)} AK2 loops")
            if (rec.sets_received or 0) < len(sets):
                problems.append(f"group {g}: more AK2 loops than AK903")
            n, ok = rec.sets_received or 0, rec.sets_accepted or 0
            expected = "R" if ok == 0 else "A" if ok == n else "P"
            if rec.status != expected:
                problems.append(f"group {g}: AK901 {rec.status} with {ok} of {n} accepted")
            if rec.sets_included != rec.sets_received and rec.status != "R":
                problems.append(f"group {g}: AK902 differs from AK903 under AK9 {rec.status}")
            sets = []
    return problems


def _tr(n: int, *, bad: bool = False, codes: tuple[str, ...] = ()) -> TransactionResult:
    t = TransactionResult(f"{n:04d}", "837", "005010X222A1", list(codes))
    if bad:
        t.segments.append(
            SegmentError("SBR", 3, "2000", elements=[ElementError(9, None, None, "1032", "7", "QQ")])
        )
    return t


def _group(
    transactions: list[TransactionResult], *, codes: tuple[str, ...] = (), declared: int | None = None
) -> GroupResult:
    g = GroupResult(
        "17",
        "HC",
        "005010X222A1",
        len(transactions) if declared is None else declared,
        len(transactions),
        list(codes),
    )
    g.transactions.extend(transactions)
    return g


ICH = _interchange(build_837([prof("CON-1")], isa13=700))
CREATED = dt.datetime(2025, 3, 10, 18, 0)

SET_KINDS = ("ok", "segment_error", "set_code")


def _sets(kinds: tuple[str, ...]) -> list[TransactionResult]:
    return [
        _tr(i + 1, bad=k == "segment_error", codes=("23",) if k == "set_code" else ())
        for i, k in enumerate(kinds)
    ]


@pytest.mark.parametrize("group_codes", [(), ("4",), ("99",)], ids=["clean", "ak9-code", "code-outside-list"])
@pytest.mark.parametrize("declared_delta", [0, 1])
@pytest.mark.parametrize("size", [0, 1, 3])
def test_write_999_never_contradicts_itself(
    group_codes: tuple[str, ...], declared_delta: int, size: int
) -> None:
    for kinds in itertools.product(SET_KINDS, repeat=size):
        sets = _sets(kinds)
        g = _group(sets, codes=group_codes, declared=len(sets) + declared_delta)
        text = write_999(ICH, [g], 900, 900, CREATED)
        assert contradictions(text) == [], (kinds, group_codes, declared_delta)
        # what the sandbox goes on to adjudicate is what its 999 accepted
        (group,) = [r for r in x999.parse(text.encode()) if isinstance(r, FunctionalGroupAck)]
        assert group.sets_accepted == len(g.accepted_transactions())


def test_a_group_error_rejects_clean_sets_without_an_ik5_accepted() -> None:
    g = _group(_sets(("ok", "segment_error", "ok")), codes=("4",))
    text = write_999(ICH, [g], 900, 900, CREATED)
    assert "IK5*A" not in text
    assert "AK9*R*3*3*0*4~" in text
    assert text.count("AK2*") == 1  # only the set with errors of its own is listed
    assert g.accepted_transactions() == []


def test_ge01_mismatch_is_a_group_error_with_code_5() -> None:
    g = _group(_sets(("ok", "ok")), declared=3)
    text = write_999(ICH, [g], 900, 900, CREATED)
    assert "AK9*R*3*2*0*5~" in text and "IK5*A" not in text
    assert g.accepted_transactions() == []


def test_partial_group_counts_agree() -> None:
    g = _group(_sets(("ok", "segment_error", "ok")))
    text = write_999(ICH, [g], 900, 900, CREATED)
    assert "AK9*P*3*3*2~" in text and text.count("IK5*A") == 2
    assert contradictions(text) == []


def test_the_self_check_refuses_a_contradiction() -> None:
    with pytest.raises(AssertionError, match="AK904 differs"):
        check_999_group("R", 1, 1, 0, 1, ["4"])
    with pytest.raises(AssertionError, match="AK901 A with 1 of 2"):
        check_999_group("A", 2, 2, 1, 1, [])
    with pytest.raises(AssertionError, match="AK902 differs from AK903"):
        check_999_group("A", 3, 2, 2, 2, [])
    check_999_group("P", 2, 2, 1, 1, [])  # consistent: no error


def test_sandbox_outputs_end_to_end(sandbox: Sandbox, tmp_path: Path) -> None:
    outputs: list[Path] = []
    outputs += sandbox.send([prof("E2E-1"), prof("E2E-2")])
    bad = build_837([prof("E2E-3")], isa13=801).replace("*******CI~", "*******QQ~")
    (tmp_path / "bad.837").write_text(bad)
    outputs += sandbox.send_file(tmp_path / "bad.837")
    ge = build_837([prof("E2E-4")], isa13=802)
    ge = ge.replace("GE*1*", "GE*2*")  # the group says two sets, it has one
    (tmp_path / "ge.837").write_text(ge)
    outputs += sandbox.send_file(tmp_path / "ge.837")
    acks = [p for p in outputs if p.suffix == ".999"]
    assert len(acks) == 3
    for p in acks:
        assert contradictions(p.read_text()) == [], p.name
    texts = [p.read_text() for p in acks]
    assert "AK9*A*1*1*1~" in texts[0]
    assert "AK9*R*1*1*0~" in texts[1]
    assert "AK9*R*2*1*0" in texts[2] and "IK5*A" not in texts[2]
    # and no 277CA for the claim whose group was rejected
    assert not any(p.suffix == ".277" and "E2E-4" in p.read_text() for p in outputs)
