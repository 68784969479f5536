"""Patient payments: CSV import (idempotent by external id) and posting to the ledger.

CSV format (UTF-8, comma separated, header row required, column order free, extra columns ignored)::

    external_id,account_number,claim_number,amount,received_on,method
    PP-2026-000123,A0000042,C00000017,25.00,2026-11-24,card
    PP-2026-000124,A0000042,,40,2026-11-24,cash

* ``external_id`` (required, ≤ 80 chars): the payment's id in the source system (receipt/transaction
  number). A payment whose external id is already stored is skipped (``already_known``): importing the
  same file twice changes nothing (``UNIQUE(external_id)`` + ``INSERT … ON CONFLICT DO NOTHING``).
* ``account_number`` (required): the patient's account number (``patients.account_number``).
* ``claim_number`` (optional): our claim number (``claims.claim_number``) the payment is for; it must
  belong to that patient.
* ``amount`` (required): dollars with at most two decimals, greater than zero (``25``, ``25.5``,
  ``25.50``); parsed as ``Decimal``, never float.
* ``received_on`` (required): ``YYYY-MM-DD``; the ledger effective date.
* ``method`` (optional, ≤ 20 chars): cash, check, card, ach, portal, …

Invalid rows are reported as ``line N: <column> <problem>`` (never the value: it may be PHI) and
skipped; the valid rows are imported, all in one transaction.

Posting (:func:`post_patient_payments`), as ledger transactions ``ppay:<payment id>:<n>`` (cash +x and,
per application, a credit):

* a payment naming a claim goes to that claim: ar_patient −x on the claim (also before the 835 has
  arrived — a copay collected at the front desk; the claim shows a patient credit until the payer's
  patient responsibility is posted);
* a payment naming no claim is applied to the patient's open claim balances, oldest service date
  first; the rest is an unapplied **patient credit** (account ``patient_credit``).

:func:`apply_patient_credits` (run after every import and every remittance posting) then keeps credits
working: a credit left on an adjudicated claim (the patient paid more than the payer's patient
responsibility) is swept to the patient credit (``psw:<claim id>:<n>``), and patient credits are applied
to open claim balances, oldest first (``pcr:<claim id>:<n>``). Only :func:`refund_patient_credits` turns a
credit into **refunds due** (``rfd:<patient id>:<date>``): that is a decision, not a side effect.

So, per patient: patient balance = patient responsibility − patient payments + refunds due
− patient write-offs (= Σ ar_patient + Σ patient_credit in the ledger). Because ``ppay:<id>:1`` is
derived from the payment row, the database refuses to post a payment twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from claimflow.db import models as m
from claimflow.db.audit import audit

from . import ledger as L
from .errors import PaymentFileError
from .ledger import Account, EntryType

COLUMNS = ("external_id", "account_number", "claim_number", "amount", "received_on", "method")
REQUIRED = ("external_id", "account_number", "amount", "received_on")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_CHUNK = 900


def _parse_amount(raw: str) -> Decimal | None:
    raw = raw.strip()
    if not _AMOUNT.match(raw):
        return None
    value = Decimal(raw).quantize(Decimal("0.01"))
    return value if value > 0 else None


def _parse_date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        return None


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def import_payments_csv(engine: Engine, path: Path | str, *, actor: str) -> dict[str, Any]:
    """Import (and post) the patient payments in a CSV file. Returns
    ``{"rows", "imported", "already_known", "rejected", "amount", "applied", "unapplied_credit", "errors"}``
    where ``amount`` is the total of the newly imported payments (string, two decimals) and ``errors``
    lists ``line N: …`` messages (no values)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PaymentFileError(f"{path.name}: cannot read the payment file ({exc.strerror})") from None
    sha = hashlib.sha256(data).hexdigest()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PaymentFileError(f"{path.name}: not UTF-8 text") from None
    reader = csv.DictReader(content.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PaymentFileError(
            f"{path.name}: header lacks required column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
    reader.fieldnames = header

    errors: list[str] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    rows = 0
    for line_no, raw in enumerate(reader, start=2):
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue  # blank line
        rows += 1
        get = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        problems = []
        if not get["external_id"] or len(get["external_id"]) > 80:
            problems.append("external_id is missing or longer than 80 characters")
        if not get["account_number"]:
            problems.append("account_number is missing")
        amount = _parse_amount(get["amount"])
        if amount is None:
            problems.append("amount is not a positive amount with at most two decimals")
        received = _parse_date(get["received_on"])
        if received is None:
            problems.append("received_on is not a YYYY-MM-DD date")
        if len(get["method"]) > 20:
            problems.append("method is longer than 20 characters")
        if not problems and get["external_id"] in first_line:
            problems.append(f"external_id repeats the one on line {first_line[get['external_id']]}")
        if problems:
            errors.extend(f"line {line_no}: {p}" for p in problems)
            continue
        first_line[get["external_id"]] = line_no
        parsed.append((line_no, {**get, "amount": amount, "received_on": received}))

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one writer of patient balances at a time (see posting)
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('claimflow.post_remittances'))"))
        accounts = sorted({r["account_number"] for _, r in parsed})
        claim_numbers = sorted({r["claim_number"] for _, r in parsed if r["claim_number"]})
        patient_by_account: dict[str, int] = {}
        for chunk in _chunks(accounts):
            patient_by_account.update(
                conn.execute(
                    select(m.Patient.account_number, m.Patient.id).where(m.Patient.account_number.in_(chunk))
                )
                .tuples()
                .all()
            )
        claim_by_number: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(claim_numbers):
            for number, cid, pid in conn.execute(
                select(m.Claim.claim_number, m.Claim.id, m.Claim.patient_id).where(
                    m.Claim.claim_number.in_(chunk)
                )
            ):
                claim_by_number[number] = (cid, pid)
        good: list[dict[str, Any]] = []
        for line_no, r in parsed:
            pid = patient_by_account.get(r["account_number"])
            if pid is None:
                errors.append(f"line {line_no}: account_number matches no patient")
                continue
            claim_id = None
            if r["claim_number"]:
                found = claim_by_number.get(r["claim_number"])
                if found is None:
                    errors.append(f"line {line_no}: claim_number matches no claim")
                    continue
                if found[1] != pid:
                    errors.append(f"line {line_no}: claim_number belongs to another patient's claim")
                    continue
                claim_id = found[0]
            good.append(
                {
                    "external_id": r["external_id"],
                    "patient_id": pid,
                    "claim_id": claim_id,
                    "amount": r["amount"],
                    "received_on": r["received_on"],
                    "method": r["method"] or None,
                    "source_sha256": sha,
                }
            )

        imported: list[tuple[int, Decimal]] = []
        if good:
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = (
                dialect_insert(m.PatientPayment)
                .on_conflict_do_nothing(index_elements=["external_id"])
                .returning(m.PatientPayment.id, m.PatientPayment.amount)
            )
            for start in range(0, len(good), 1000):
                imported.extend(conn.execute(stmt, good[start : start + 1000]).tuples().all())
        posted = post_patient_payments(conn)
        errors.sort(key=lambda e: int(e.split(":", 1)[0].removeprefix("line ")))
        result = {
            "rows": rows,
            "imported": len(imported),
            "already_known": len(good) - len(imported),
            "rejected": rows - len(good),
            "amount": f"{sum((a for _, a in imported), Decimal('0.00')):.2f}",
            "applied": posted["applied"],
            "unapplied_credit": posted["unapplied_credit"],
            "errors": errors,
        }
        audit(
            conn,
            actor=actor,
            action="import_patient_payments",
            object_type="file",
            object_id=sha,
            detail={
                "file": path.name,
                **{k: v for k, v in result.items() if k != "errors"},
                "errors": len(errors),
            },
        )
    return result


def _open_claim_balances(conn: Connection, patients: list[int]) -> dict[int, list[tuple[int, Decimal]]]:
    """Per patient: [(claim id, open patient balance > 0)], oldest service date first."""
    out: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for chunk in _chunks(patients):
        rows = (
            conn.execute(
                select(
                    m.Claim.patient_id, m.Claim.id, m.Claim.service_date_from, func.sum(m.LedgerEntry.amount)
                )
                .join(m.LedgerEntry, m.LedgerEntry.claim_id == m.Claim.id)
                .where(m.LedgerEntry.account == Account.AR_PATIENT, m.Claim.patient_id.in_(chunk))
                .group_by(m.Claim.patient_id, m.Claim.id, m.Claim.service_date_from)
            )
            .tuples()
            .all()
        )
        for patient_id, claim_id, _service_date, amount in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
            if amount is not None and amount > 0:
                out[patient_id].append((claim_id, amount))
    return out


def post_patient_payments(conn: Connection) -> dict[str, str]:
    """Post every patient payment not yet posted (see the module docstring), then apply credits.
    Runs in ``conn``'s transaction. Returns the applied and unapplied (credit) totals."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    pending = (
        conn.execute(
            select(
                m.PatientPayment.id,
                m.PatientPayment.patient_id,
                m.PatientPayment.claim_id,
                m.PatientPayment.amount,
                m.PatientPayment.received_on,
            )
            .where(m.PatientPayment.posted_at.is_(None))
            .order_by(m.PatientPayment.received_on, m.PatientPayment.id)
        )
        .tuples()
        .all()
    )
    applied_total = credit_total = Decimal("0.00")
    if pending:
        open_by_patient = _open_claim_balances(conn, sorted({p[1] for p in pending}))
        balance = {cid: amt for rows in open_by_patient.values() for cid, amt in rows}
        entries: list[L.Entry] = []
        for pp_id, patient_id, named_claim, amount, received_on in pending:
            plan: list[tuple[int | None, Decimal]]
            if named_claim is not None:
                plan = [(named_claim, amount)]
            else:
                plan, remaining = [], amount
                for open_claim, _ in open_by_patient.get(patient_id, []):
                    take = min(remaining, balance.get(open_claim, Decimal(0)))
                    if take > 0:
                        plan.append((open_claim, take))
                        remaining -= take
                if remaining > 0:
                    plan.append((None, remaining))
            for n, (target, value) in enumerate(plan, start=1):
                key = f"ppay:{pp_id}:{n}"
                credit_account = Account.AR_PATIENT if target is not None else Account.PATIENT_CREDIT
                for account, v in ((Account.CASH, value), (credit_account, -value)):
                    entries.append(
                        L.Entry(
                            key,
                            EntryType.PATIENT_PAYMENT,
                            account,
                            v,
                            received_on,
                            claim_id=target,
                            patient_id=patient_id,
                            patient_payment_id=pp_id,
                        )
                    )
                if target is None:
                    credit_total += value
                else:
                    balance[target] = balance.get(target, Decimal(0)) - value
                    applied_total += value
        L.write_entries(conn, entries)
        ids = [p[0] for p in pending]
        for chunk in _chunks(ids):
            conn.execute(update(m.PatientPayment).where(m.PatientPayment.id.in_(chunk)).values(posted_at=now))
    # Credits move on the date of the newest payment posted (deterministic), else today.
    credits = apply_patient_credits(conn, max((p[4] for p in pending), default=dt.date.today()))
    return {"applied": f"{applied_total:.2f}", "unapplied_credit": f"{credit_total:.2f}", **credits}


_ADJUDICATED = ("paid", "partially_paid", "denied", "closed")


def _next_seq(conn: Connection, entry_type: str, claim_ids: list[int]) -> dict[int, int]:
    """How many transactions of ``entry_type`` each claim already has (for ``<prefix>:<claim>:<n>`` keys)."""
    seq: dict[int, int] = {}
    for chunk in _chunks(claim_ids):
        for claim_id, n in conn.execute(
            select(m.LedgerEntry.claim_id, func.count(func.distinct(m.LedgerEntry.txn_key)))
            .where(m.LedgerEntry.entry_type == entry_type, m.LedgerEntry.claim_id.in_(chunk))
            .group_by(m.LedgerEntry.claim_id)
        ).tuples():
            if claim_id is not None:
                seq[claim_id] = int(n)
    return seq


def apply_patient_credits(conn: Connection, as_of: dt.date) -> dict[str, str]:
    """Sweep credits off adjudicated claims into the patient credit, then apply patient credits to
    open claim balances, oldest service first. Effective ``as_of``. Returns the totals moved.

    Reads only the patients that have a credit (a small set); the allocation is computed in Python and
    written in one bulk insert."""
    # 1. Claims the payer has decided on whose patient balance is negative: the patient overpaid them.
    swept = (
        conn.execute(
            select(m.LedgerEntry.claim_id, m.Claim.patient_id, func.sum(m.LedgerEntry.amount))
            .join(m.Claim, m.Claim.id == m.LedgerEntry.claim_id)
            .where(m.LedgerEntry.account == Account.AR_PATIENT, m.Claim.status.in_(_ADJUDICATED))
            .group_by(m.LedgerEntry.claim_id, m.Claim.patient_id)
            .having(func.sum(m.LedgerEntry.amount) < 0)
        )
        .tuples()
        .all()
    )
    entries: list[L.Entry] = []
    seq = _next_seq(conn, EntryType.CREDIT_SWEEP, [c for c, _, _ in swept if c is not None])
    sweep_total = Decimal("0.00")
    for claim_id, patient_id, amount in swept:
        if claim_id is None:
            continue
        key = f"psw:{claim_id}:{seq.get(claim_id, 0) + 1}"
        entries += [
            L.Entry(
                key,
                EntryType.CREDIT_SWEEP,
                Account.AR_PATIENT,
                -amount,
                as_of,
                claim_id=claim_id,
                patient_id=patient_id,
            ),
            L.Entry(
                key,
                EntryType.CREDIT_SWEEP,
                Account.PATIENT_CREDIT,
                amount,
                as_of,
                claim_id=claim_id,
                patient_id=patient_id,
            ),
        ]
        sweep_total -= amount
    L.write_entries(conn, entries)

    # 2. Patient credits → open claim balances.
    credits: dict[int, Decimal] = {
        pid: amount
        for pid, amount in conn.execute(
            select(m.LedgerEntry.patient_id, func.sum(m.LedgerEntry.amount))
            .where(m.LedgerEntry.account == Account.PATIENT_CREDIT, m.LedgerEntry.patient_id.is_not(None))
            .group_by(m.LedgerEntry.patient_id)
            .having(func.sum(m.LedgerEntry.amount) < 0)
        ).tuples()
        if pid is not None
    }
    applied_total = Decimal("0.00")
    entries = []
    if credits:
        open_by_patient = _open_claim_balances(conn, sorted(credits))
        seq = _next_seq(
            conn, EntryType.CREDIT_APPLIED, [c for rows in open_by_patient.values() for c, _ in rows]
        )
        for patient_id, credit in sorted(credits.items()):
            available = -credit
            for claim_id, open_amount in open_by_patient.get(patient_id, []):
                take = min(available, open_amount)
                if take <= 0:
                    break
                key = f"pcr:{claim_id}:{seq.get(claim_id, 0) + 1}"
                entries += [
                    L.Entry(
                        key,
                        EntryType.CREDIT_APPLIED,
                        Account.PATIENT_CREDIT,
                        take,
                        as_of,
                        claim_id=claim_id,
                        patient_id=patient_id,
                    ),
                    L.Entry(
                        key,
                        EntryType.CREDIT_APPLIED,
                        Account.AR_PATIENT,
                        -take,
                        as_of,
                        claim_id=claim_id,
                        patient_id=patient_id,
                    ),
                ]
                available -= take
                applied_total += take
        L.write_entries(conn, entries)
    return {"credit_swept": f"{sweep_total:.2f}", "credit_applied": f"{applied_total:.2f}"}


def refund_patient_credits(
    engine: Engine, *, as_of: dt.date, actor: str, patient_ids: list[int] | None = None
) -> dict[str, Any]:
    """Turn unapplied patient credits into refunds due (``rfd:<patient id>:<date>``: patient_credit +x /
    refunds_due −x), for the given patients or for every patient with a credit and no claim still
    waiting for the payer. One audit row per patient refunded."""
    with engine.begin() as conn:
        waiting = exists().where(
            m.Claim.patient_id == m.LedgerEntry.patient_id,
            m.Claim.status.in_(["submitted", "accepted", "reversed"]),
        )
        stmt = (
            select(m.LedgerEntry.patient_id, func.sum(m.LedgerEntry.amount))
            .where(m.LedgerEntry.account == Account.PATIENT_CREDIT, m.LedgerEntry.patient_id.is_not(None))
            .group_by(m.LedgerEntry.patient_id)
            .having(func.sum(m.LedgerEntry.amount) < 0)
        )
        if patient_ids is not None:
            stmt = stmt.where(m.LedgerEntry.patient_id.in_(patient_ids))
        else:
            stmt = stmt.where(~waiting)
        rows = conn.execute(stmt).tuples().all()
        entries: list[L.Entry] = []
        total = Decimal("0.00")
        for patient_id, credit in rows:
            key = f"rfd:{patient_id}:{as_of.isoformat()}"
            entries += [
                L.Entry(
                    key, EntryType.REFUND_DUE, Account.PATIENT_CREDIT, -credit, as_of, patient_id=patient_id
                ),
                L.Entry(key, EntryType.REFUND_DUE, Account.REFUNDS_DUE, credit, as_of, patient_id=patient_id),
            ]
            total -= credit
            audit(
                conn,
                actor=actor,
                action="refund_due",
                object_type="patient",
                object_id=patient_id,
                detail={"amount": -credit, "txn_key": key},
            )
        L.write_entries(conn, entries)
    return {"patients": len(rows), "amount": f"{total:.2f}"}
