"""``SandboxPayer.answer_many`` against one ``payer(partner, path)`` call per file.

The batch keeps the state in memory between files instead of a JSON save/load per file; these tests
hold it to the same bytes (every delivered file and the state file) on a small night that goes through
every path the per-file calls take: acceptance, rejections, duplicates, replacements and voids of claims
from earlier files, TA1 on request and for a bad envelope, a 999 rejection, an unreadable file, payment
runs per file with corrections and recoupments scheduled by earlier runs, and a final payment run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

import claimflow.sandbox.payer as payer_pkg
from claimflow.sandbox.payer import EngineConfig, SandboxPayer, make_upload_handler
from tests.unit.sandbox.conftest import (
    MEDICAID,
    MEDICARE,
    NEXT_NIGHT,
    RECEIVED,
    SEED,
    bad_npi,
    build_837,
    inpatient,
    line,
    outpatient,
    person,
    prof,
    replacement,
    secondary,
)

# every seeded path on: corrections and recoupments make later payment runs depend on earlier ones
CONFIG = EngineConfig(
    member_not_found_per_mille=0,
    medical_necessity_per_mille=150,
    noncovered_per_mille=100,
    reprocess_per_mille=400,
    recoup_per_mille=400,
)


def _icn(n: int) -> str:
    """The n-th payer claim number handed out on RECEIVED (see ``PayerSimulator.new_icn``)."""
    return f"{RECEIVED:%y%j}{n:07d}"


def _night_texts() -> list[tuple[str, str, str]]:
    """(partner, file name, 837 text) in upload order."""
    kid = person("DOE", "JIMMY", dt.date(2016, 5, 1), "M")
    first = [
        prof("B-001"),
        prof("B-002", [line(1, "99215", "250.00"), line(2, "71046", "600.00"), line(3, "85025", "32.00")]),
        prof("B-003", dependent=kid),
        prof(
            "B-004", payer=MEDICARE, member="1EG4TE5MK73", patient=person("OLD", "OSCAR", dt.date(1948, 1, 2))
        ),
        prof(
            "B-005",
            payer=MEDICAID,
            member="MCD55500011",
            patient=person("YOUNG", "YVES", dt.date(1999, 3, 3)),
        ),
        prof("B-006", [line(1, "99213", "125.00"), line(2, "11102", "130.00")]),
        prof("B-007", rendering=None),
        prof("B-008", member="XBAD0000001"),
        prof("B-009", billing=dataclasses.replace(prof("X").billing_provider, npi=bad_npi("123456789"))),
        secondary("B-010"),
        prof("B-011", [line(1, "36415", "18.00", dos=RECEIVED + dt.timedelta(days=5))]),
    ] + [prof(f"B-1{i:02d}", [line(1, "99215", "250.00"), line(2, "71046", "600.00")]) for i in range(12)]
    # claims 1..7 and 10 of the first file are accepted in order: ICNs 1..8
    fixes = [replacement(first[0], _icn(1)), replacement(first[1], _icn(2), void=True)]
    invalid = build_837([prof("BAD-1")], isa13=305).replace("*******CI~", "*******QQ~")
    bad_envelope = build_837([prof("ENV-1")], isa13=306).replace("IEA*1*000000306~", "IEA*1*000000307~")
    return [
        ("acme", "a1.837", build_837(first, isa13=301)),
        ("acme", "a2.837", build_837([outpatient("O-1"), inpatient("I-1")], isa13=302)),
        ("beta", "b1.837", build_837(first[:4], isa13=303, ack_requested="1")),  # duplicates, TA1 asked
        ("acme", "a3.837", build_837(fixes, isa13=304)),
        ("acme", "a4.837", invalid),
        ("beta", "b2.837", bad_envelope),
        ("beta", "b3.837", "not an interchange at all\n"),
        ("acme", "a1.837", build_837(first, isa13=301)),  # the same file again: new names, duplicates
    ]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def _run(
    root: Path, *, defer: bool, answer: Callable[[SandboxPayer, list[tuple[str, Path]]], None]
) -> dict[str, bytes]:
    payer = make_upload_handler(root, SEED, defer_payments=defer, today=lambda: RECEIVED, config=CONFIG)
    items: list[tuple[str, Path]] = []
    for i, (partner, name, text) in enumerate(_night_texts()):
        inbound = root / partner / "inbound"
        inbound.mkdir(parents=True, exist_ok=True)
        path = inbound / f"{i:02d}-{name}"
        path.write_text(text)
        items.append((partner, path))
    answer(payer, items)
    payer.release_payments(NEXT_NIGHT)
    payer.release_payments(NEXT_NIGHT + dt.timedelta(days=1))
    return _tree(root)


def _one_by_one(payer: SandboxPayer, items: list[tuple[str, Path]]) -> None:
    for partner, path in items:
        payer(partner, path)


@pytest.mark.parametrize("defer", [True, False], ids=["deferred-payments", "payments-per-file"])
def test_answer_many_gives_the_same_bytes_as_one_call_per_file(tmp_path: Path, defer: bool) -> None:
    single = _run(tmp_path / "single", defer=defer, answer=_one_by_one)
    batch = _run(tmp_path / "batch", defer=defer, answer=lambda payer, items: payer.answer_many(items))
    assert single.keys() == batch.keys()
    for name, data in single.items():
        assert batch[name] == data, name
    # the night went through the paths it is meant to cover
    names = {Path(n).name for n in single}
    suffixes = {Path(n).suffix for n in single}
    assert {".ta1", ".999", ".277", ".835"} <= suffixes
    assert "000000301-2.277" in names  # the file sent twice
    assert any(n.startswith("payer-state.json") for n in names)


def test_a_failing_item_keeps_the_items_before_it_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with separate calls: the files before the failure are answered and in the saved state."""
    reference = _run(tmp_path / "ref", defer=True, answer=lambda payer, items: _one_by_one(payer, items[:3]))

    real = payer_pkg.acknowledge
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> list[tuple[str, bytes]]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    def batch_then_fail(payer: SandboxPayer, items: list[tuple[str, Path]]) -> None:
        with monkeypatch.context() as m:
            m.setattr(payer_pkg, "acknowledge", flaky)
            with pytest.raises(RuntimeError, match="disk on fire"):
                payer.answer_many(items)
        assert calls["n"] == 4 + 3  # three items answered, then replayed once on the reloaded state

    failed = _run(tmp_path / "failed", defer=True, answer=batch_then_fail)
    assert failed == reference


def test_the_demo_clearinghouse_answers_queued_uploads_in_isa13_order_in_one_batch(tmp_path: Path) -> None:
    """``SandboxClearinghouse.acknowledge``: uploads queued in any order, answered as if one call per
    file in ISA13 order (what it did before the batch), through the demo's ``InquiringPayer``."""
    import threading

    from claimflow.sandbox.demo import SandboxClearinghouse
    from claimflow.sandbox.payer.inquiries import InquiringPayer

    class IdleServer:
        def wait_idle(self, timeout: float) -> None:
            pass

    def demo(root: Path) -> SandboxClearinghouse:
        ch = object.__new__(SandboxClearinghouse)  # no SFTP server: only the queue and the payer
        ch.server = IdleServer()  # type: ignore[assignment]
        ch.payer = InquiringPayer(
            make_upload_handler(root, SEED, defer_payments=True, today=lambda: RECEIVED, config=CONFIG),
            pend_per_mille=300,
        )
        ch._uploads, ch._lock = [], threading.Lock()
        return ch

    def queue(root: Path) -> list[tuple[str, Path]]:
        items = []
        for i, (_, name, text) in enumerate(_night_texts()[:4]):  # readable, distinct ISA13s
            path = root / "acme" / "inbound" / f"{i:02d}-{name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            items.append(("acme", path))
        return items

    one_by_one = demo(tmp_path / "single")
    items = queue(tmp_path / "single")
    for partner, path in items:  # already in ISA13 order (301..304)
        one_by_one.payer(partner, path)
    one_by_one.payer.release_payments(NEXT_NIGHT)

    batched = demo(tmp_path / "batch")
    batched._uploads = list(reversed(queue(tmp_path / "batch")))
    batched.acknowledge()
    assert batched._uploads == []
    batched.payer.release_payments(NEXT_NIGHT)
    assert _tree(tmp_path / "batch") == _tree(tmp_path / "single")


def test_inquiring_payer_answer_many_keeps_order_and_batches_the_claim_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inquiries are answered where they stand; the claim files between them go in one batch each."""
    from claimflow.sandbox.payer import inquiries

    calls: list[object] = []

    class Recorder:
        def answer_many(self, items: list[tuple[str, Path]]) -> None:
            calls.append([p.name for _, p in items])

    monkeypatch.setattr(inquiries, "inquiry_kind", lambda path: "270" if "270" in Path(path).name else None)
    monkeypatch.setattr(
        inquiries.InquiringPayer, "__call__", lambda self, partner, path: calls.append(path.name)
    )
    payer = inquiries.InquiringPayer(Recorder())  # type: ignore[arg-type]
    names = ["a.837", "b.837", "q1.270", "c.837", "q2.270", "q3.270", "d.837", "e.837"]
    payer.answer_many([("p", tmp_path / n) for n in names])
    assert calls == [["a.837", "b.837"], "q1.270", ["c.837"], "q2.270", "q3.270", ["d.837", "e.837"]]
