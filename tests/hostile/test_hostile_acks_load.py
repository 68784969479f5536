"""Poison TA1/999/277CA values through the loader, on both backends: a value longer than its column (or an
IK302 beyond a 32-bit INTEGER, an amount beyond NUMERIC(14,2)) is refused by the parser before anything
is stored — the file is quarantined with one line naming the element, never the value, and no driver
error. A padded acknowledgment (DOS end-of-file byte, NUL padding) loads whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from tests.unit.parsers.conftest import fixture

POISON = [
    ("999/accepted.999", "*ACMEHEALTH     *", "*ACMEHEALTHVERYLONGSENDERNAME*", "ISA06"),
    ("999/rejected_ik3_ik4.999", "AK2*837*0001*", "AK2*837*0001234567*", "AK202"),
    ("999/rejected_ik3_ik4.999", "IK3*NM1*8*2010*8", "IK3*NM1*9999999999*2010*8", "IK302"),
    ("999/rejected_ik3_ik4.999", "IK3*NM1*8*2010*8", "IK3*NM1*8*2010BAX1*8", "IK303"),
    ("999/rejected_ik3_ik4.999", "CTX*CLM01:SUN-000123", "CTX*CLM01:SUN-000123" + "9" * 30, "CTX01-2"),
    ("ta1/rejected.ta1", "*R*022", "*R*02299", "TA105"),
    ("277ca/accepted_and_rejected.277", "STC*A2:20:PR", "STC*A2:2000000:PR", "STC01-2"),
    ("277ca/accepted_and_rejected.277", "*WQ*450~", "*WQ*9999999999999~", "STC04"),
    ("277ca/accepted_and_rejected.277", "46*CLAIMFLOW~", "46*" + "C" * 90 + "~", "NM109"),
    ("277ca/accepted_and_rejected.277", "TRN*2*BATCH20260114A", "TRN*2*BATCH20260114A" + "Z" * 40, "TRN02"),
]


@pytest.mark.parametrize(("rel", "find", "replace", "element"), POISON, ids=[p[3] for p in POISON])
def test_poison_ack_is_quarantined_by_element(
    claimflow_env: Engine, tmp_path: Path, rel: str, find: str, replace: str, element: str
) -> None:
    from claimflow.services.inbound import load_files

    body = fixture(rel).read_text()
    assert find in body
    path = tmp_path / ("poison." + rel.rsplit(".", 1)[1])
    path.write_text(body.replace(find, replace, 1))
    (outcome,) = load_files([path], actor="test")
    assert outcome.status == "quarantined", outcome
    assert outcome.error is not None and f" {element} " in f" {outcome.error} "

    def tokens(x: str) -> set[str]:
        return set(x.replace("~", "*").replace(":", "*").split("*"))

    for value in tokens(replace) - tokens(find):  # the poison value itself is never quoted
        assert value not in outcome.error
    with claimflow_env.connect() as conn:
        stored = sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (m.Acknowledgment, m.AcknowledgmentError, m.ClaimStatusRecord)
        )
    assert stored == 0


@pytest.mark.parametrize("tail", [b"\x1a", b"\x00" * 256 + b"\r\n"], ids=["dos-eof", "nul-padding"])
def test_padded_acknowledgments_load_whole(claimflow_env: Engine, tmp_path: Path, tail: bytes) -> None:
    from claimflow.services.inbound import load_files

    paths = []
    for rel in ("999/partially_accepted.999", "277ca/accepted_and_rejected.277", "ta1/accepted.ta1"):
        p = tmp_path / Path(rel).name
        p.write_bytes(fixture(rel).read_bytes() + tail)
        paths.append(p)
    outcomes = load_files(paths, actor="test")
    assert [o.status for o in outcomes] == ["loaded"] * 3, outcomes
    with claimflow_env.connect() as conn:
        kinds = conn.execute(
            select(m.Acknowledgment.kind, func.count())
            .group_by(m.Acknowledgment.kind)
            .order_by(m.Acknowledgment.kind)
        ).all()
        levels = conn.execute(
            select(m.ClaimStatusRecord.level, func.count())
            .group_by(m.ClaimStatusRecord.level)
            .order_by(m.ClaimStatusRecord.level)
        ).all()
    assert [tuple(k) for k in kinds] == [("999_group", 1), ("999_set", 3), ("TA1", 2)]
    assert [tuple(lv) for lv in levels] == [("batch", 1), ("claim", 2), ("provider", 1)]


def test_load_counts_999_sets_as_parse_summary_does(claimflow_env: Engine, tmp_path: Path) -> None:
    """An IK5 accepted under a rejecting AK9 is a rejected set for `claimflow load` too."""
    from claimflow.services.inbound import load_files

    p = tmp_path / "r.999"
    p.write_text(fixture("999/accepted.999").read_text().replace("AK9*A*2*2*2", "AK9*R*2*2*0*4"))
    q = tmp_path / "p.999"
    q.write_bytes(fixture("999/partially_accepted.999").read_bytes())
    rejected, partial = load_files([p, q], actor="test")
    assert (rejected.status, rejected.counts) == (
        "loaded",
        {"groups": 1, "accepted_sets": 0, "rejected_sets": 2},
    )
    assert (partial.status, partial.counts) == (
        "loaded",
        {"groups": 1, "accepted_sets": 2, "rejected_sets": 1},
    )
    with claimflow_env.connect() as conn:  # the rows keep what the 999 says: IK5 A, AK9 R
        rows = conn.execute(
            select(m.Acknowledgment.kind, m.Acknowledgment.code, m.Acknowledgment.accepted)
            .where(m.Acknowledgment.interchange_id == rejected.interchange_id)
            .order_by(m.Acknowledgment.segment_no)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("999_group", "R", False),
        ("999_set", "A", True),
        ("999_set", "A", True),
    ]
