"""Write-offs: giving up a claim's remaining insurance or patient balance (small balances, bad debt,
timely-filing losses, …).

A write-off is ledger transaction ``wo:<claim_id>:<side>:<date>`` (write_off +x / ar_payer or
ar_patient −x), one audit row per write-off, and — when both balances of the claim are then zero — the
claim moves to ``closed``. At most one write-off per claim, side and day: a second one the same day is
refused by the ledger's unique key.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from claimflow.db.audit import audit
from claimflow.db.models import ClaimStatus as S

from . import ledger as L
from ._sql import Sql, bind, bind_in
from .errors import WriteOffError
from .ledger import Account, EntryType
from .lifecycle import sources_for

Side = Literal["insurance", "patient"]
_ACCOUNT = {"insurance": Account.AR_PAYER, "patient": Account.AR_PATIENT}


def write_off(
    engine: Engine,
    *,
    claim_id: int,
    side: Side,
    actor: str,
    as_of: dt.date,
    reason: str,
    amount: Decimal | None = None,
) -> Decimal:
    """Write off ``amount`` (default: the whole open balance) of one claim's ``side``. Returns it."""
    if side not in _ACCOUNT:
        raise WriteOffError(f"claim id {claim_id}: side must be insurance or patient")
    with engine.begin() as conn:
        q = Sql(conn)
        row = q.run(
            """SELECT c.patient_id, c.payer_id,
                      (SELECT SUM(e.amount) FROM ledger_entries e WHERE e.claim_id = c.id AND e.account = :acct)
               FROM claims c WHERE c.id = :cid""",
            {"cid": claim_id, "acct": _ACCOUNT[side]},
        ).first()
        if row is None:
            raise WriteOffError(f"claim id {claim_id} does not exist")
        balance = q.money(row[2])
        value = balance if amount is None else Decimal(amount).quantize(Decimal("0.01"))
        if value <= 0 or value > balance:
            raise WriteOffError(
                f"claim id {claim_id}: {side} write-off must be more than 0 and at most the "
                f"open balance ({balance:.2f})"
            )
        key = f"wo:{claim_id}:{side}:{as_of.isoformat()}"
        L.write_entries(
            conn,
            [
                L.Entry(
                    key,
                    EntryType.WRITE_OFF,
                    Account.WRITE_OFF,
                    value,
                    as_of,
                    claim_id=claim_id,
                    patient_id=row[0],
                    payer_id=row[1],
                ),
                L.Entry(
                    key,
                    EntryType.WRITE_OFF,
                    _ACCOUNT[side],
                    -value,
                    as_of,
                    claim_id=claim_id,
                    patient_id=row[0],
                    payer_id=row[1],
                ),
            ],
        )
        audit(
            conn,
            actor=actor,
            action="write_off",
            object_type="claim",
            object_id=claim_id,
            detail={"side": side, "amount": value, "reason": reason[:200], "txn_key": key},
        )
        _close_settled(q, [claim_id])
    return value


def write_off_small_balances(
    engine: Engine,
    *,
    max_amount: Decimal,
    side: Side,
    actor: str,
    as_of: dt.date,
    reason: str = "small balance",
) -> dict[str, Any]:
    """Set-based: write off every claim whose open ``side`` balance is more than 0 and at most
    ``max_amount``. Returns ``{"claims": n, "amount": "…"}``."""
    if side not in _ACCOUNT:
        raise WriteOffError("side must be insurance or patient")
    acct = _ACCOUNT[side]
    with engine.begin() as conn:
        q = Sql(conn)
        n = q.temp_table(
            "cf_wo",
            f"""SELECT e.claim_id AS claim_id, MAX(e.patient_id) AS patient_id, MAX(e.payer_id) AS payer_id,
                       SUM(e.amount) AS amount
                FROM ledger_entries e WHERE e.account = {bind(acct)} AND e.claim_id IS NOT NULL
                GROUP BY e.claim_id HAVING SUM(e.amount) > 0 AND SUM(e.amount) <= :max""",
            {"max": Decimal(max_amount)},
        )
        key = q.key("wo:", "w.claim_id") + f" || ':{side}:{as_of.isoformat()}'"
        cols = (
            "txn_key, entry_type, account, amount, claim_id, patient_id, payer_id, effective_date, created_at"
        )
        sel = f"""SELECT {key}, {bind(EntryType.WRITE_OFF)}, {{acct}}, {{sign}}w.amount, w.claim_id, w.patient_id,
                         w.payer_id, :as_of, :now FROM cf_wo w"""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        q.run(
            f"INSERT INTO ledger_entries ({cols}) "
            + sel.format(acct=bind(Account.WRITE_OFF), sign="")
            + " UNION ALL "
            + sel.format(acct=bind(acct), sign="-"),
            {"as_of": as_of, "now": now},
        )
        total = q.money(q.scalar("SELECT SUM(amount) FROM cf_wo"))
        detail = q.json_object(side=f"'{side}'", reason="CAST(:reason AS TEXT)", txn_key=key)
        q.run(
            f"""INSERT INTO audit_log (at, actor, action, object_type, object_id, detail)
                  SELECT :now, :actor, 'write_off', 'claim', CAST(w.claim_id AS TEXT), {detail} FROM cf_wo w""",
            {"now": now, "actor": actor[:120], "reason": reason[:200]},
        )
        ids = [int(r[0]) for r in q.run("SELECT claim_id FROM cf_wo")]
        _close_settled(q, ids)
        q.drop("cf_wo")
    return {"claims": n, "amount": f"{total:.2f}"}


def _close_settled(q: Sql, claim_ids: list[int]) -> None:
    """Adjudicated claims whose insurance and patient balances are both zero become closed."""
    sources = tuple(s for s in sources_for(S.CLOSED) if s != S.REVERSED)
    for start in range(0, len(claim_ids), 900):
        chunk = ", ".join(str(int(c)) for c in claim_ids[start : start + 900])
        q.run(
            f"""UPDATE claims SET status = {bind(S.CLOSED)}, status_changed_at = :now
                WHERE id IN ({chunk}) AND status IN {bind_in(sources)}
                  AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.claim_id = claims.id
                                  AND e.account IN ({bind(Account.AR_PAYER)}, {bind(Account.AR_PATIENT)})
                                  GROUP BY e.account HAVING SUM(e.amount) <> 0)""",
            {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
        )


def close_settled_claims(conn: Connection, claim_ids: list[int]) -> None:
    """Public wrapper of the closing rule for callers holding a connection."""
    _close_settled(Sql(conn), claim_ids)
