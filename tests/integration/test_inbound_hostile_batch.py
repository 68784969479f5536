"""One ``claimflow load`` batch of everything a partner (or an operator) can throw at the loader, in a
shuffled order: every 835 fixture, then for each of them the same bytes again, one more byte, a new
ISA13, a new ISA13 with CRLF line ends, the ST..SE part without envelope, the file twice in one file
(two interchanges), an amount too large for any column, a truncated copy — plus a directory, a missing
path and a FIFO. Whatever the order: no exception, no file left ``received``, every payment identity
stored once and the cash equal to the originals' — SQLite and PostgreSQL.

The figures (inputs tried / handled / payments stored twice) are printed for docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.services.inbound import load_files
from parsers import parse_file
from parsers.records import ClaimPayment, Remittance
from tests.integration.test_inbound_exactly_once import _edit, bare_st_se, with_isa13

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _variants(src: Path, out: Path, control: list[int]) -> list[Path]:
    data = src.read_bytes()

    def nxt() -> int:
        control[0] += 1
        return control[0]

    made = {
        "same": data,
        "plus_byte": data + b"\n",
        "new_isa13": with_isa13(data, nxt()),
        "new_isa13_crlf": with_isa13(data, nxt()).replace(b"\n", b"\r\n"),
        "bare": bare_st_se(data),
        "two_interchanges": data + with_isa13(data, nxt()),
        "huge_amount": _edit(data, "CLP", 3, "123456789012345678901", 0),
        "truncated": data[: len(data) * 2 // 3],
    }
    paths = []
    for kind, content in made.items():
        path = out / f"{src.stem}.{kind}.835"
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_hostile_batch_posts_every_payment_exactly_once(claimflow_env: Engine, tmp_path: Path) -> None:
    originals = sorted((FIXTURES / "835").glob("*.835"))
    out = tmp_path / "in"
    out.mkdir()
    control = [500000]
    batch: list[Path] = list(originals)
    for src in originals:
        batch += _variants(src, out, control)
    (tmp_path / "a_folder").mkdir()
    os.mkfifo(tmp_path / "inbox.fifo")
    batch += [tmp_path / "a_folder", tmp_path / "missing.835", tmp_path / "inbox.fifo"]
    random.Random(5010).shuffle(batch)

    outcomes = load_files(batch, actor="test:hostile")
    # and once more, the whole batch (a rerun after a crash, or the partner resending everything)
    again = load_files(batch, actor="test:hostile")

    assert len(outcomes) == len(batch) == len(again)
    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {"loaded", "already_loaded", "duplicate", "quarantined", "refused"}
    assert all(o.status in ("already_loaded", "duplicate", "quarantined", "refused") for o in again)
    for o in outcomes + again:
        if o.error:
            assert "\n" not in o.error and "Traceback" not in o.error
            assert "123456789012345678901" not in o.error

    expected_cash = Decimal(0)
    identities: set[tuple[str, str]] = set()
    for src in originals:
        for rec in parse_file(src):
            if isinstance(rec, Remittance):
                identities.add((rec.trace_originator or rec.payer_id, rec.trace_number))
            elif isinstance(rec, ClaimPayment):
                expected_cash += rec.paid
    with claimflow_env.connect() as conn:
        stuck = conn.execute(
            select(func.count()).select_from(m.Interchange).where(m.Interchange.status == "received")
        ).scalar_one()
        twice = conn.execute(
            select(m.Remittance.trace_payer, m.Remittance.trace_number)
            .group_by(m.Remittance.trace_payer, m.Remittance.trace_number)
            .having(func.count() > 1)
        ).all()
        stored = {tuple(r) for r in conn.execute(select(m.Remittance.trace_payer, m.Remittance.trace_number))}
        cash = conn.execute(select(func.sum(m.ClaimPayment.paid))).scalar_one()
    assert stuck == 0
    assert twice == []
    assert stored == identities
    assert cash == expected_cash
    print(
        f"\nhostile batch ({claimflow_env.dialect.name}): {len(batch)} inputs x 2 runs, "
        f"first run {dict(statuses)}; payments stored {len(stored)} (expected {len(identities)}), "
        f"stored twice {len(twice)}, left received {stuck}, cash ${cash} (expected ${expected_cash})"
    )
