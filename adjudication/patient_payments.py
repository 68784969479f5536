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

Posting (:func:`post_patient_payments`): each payment is applied to the patient's open balances — the
named claim first, then the patient's other claims oldest service date first — as ledger transactions
``ppay:<payment id>:<n>`` (cash +x / ar_patient −x on the claim); what cannot be applied (the patient
owes nothing more) is an overpayment: cash +x / refunds_due −x. Because ``ppay:<id>:1`` is derived
from the payment row, the database refuses to post a payment twice.
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

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from claimflow.audit import audit
from claimflow.db import models as m

from . import ledger as L
from .errors import PaymentFileError

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
    ``{"rows", "imported", "already_known", "rejected", "amount", "applied", "refunds_due", "errors"}``
    where ``amount`` is the total of the newly imported payments (string, two decimals) and ``errors``
    lists ``line N: …`` messages (no values)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PaymentFileError(f"{path.name}: cannot read the payment file ({exc.strerror})") from None
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PaymentFileError(f"{path.name}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PaymentFileError(f"{path.name}: header lacks required column(s) {', '.join(missing)}; "
                               f"expected {','.join(COLUMNS)}")
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
        accounts = sorted({r["account_number"] for _, r in parsed})
        claim_numbers = sorted({r["claim_number"] for _, r in parsed if r["claim_number"]})
        patient_by_account: dict[str, int] = {}
        for chunk in _chunks(accounts):
            patient_by_account.update(
                conn.execute(select(m.Patient.account_number, m.Patient.id)
                             .where(m.Patient.account_number.in_(chunk))).tuples().all())
        claim_by_number: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(claim_numbers):
            for number, cid, pid in conn.execute(
                select(m.Claim.claim_number, m.Claim.id, m.Claim.patient_id).where(m.Claim.claim_number.in_(chunk))
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
            good.append({"external_id": r["external_id"], "patient_id": pid, "claim_id": claim_id,
                         "amount": r["amount"], "received_on": r["received_on"],
                         "method": r["method"] or None, "source_sha256": sha})

        imported: list[tuple[int, Decimal]] = []
        if good:
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = (dialect_insert(m.PatientPayment)
                    .on_conflict_do_nothing(index_elements=["external_id"])
                    .returning(m.PatientPayment.id, m.PatientPayment.amount))
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
            "refunds_due": posted["refunds_due"],
            "errors": errors,
        }
        audit(conn, actor=actor, action="import_patient_payments", object_type="file", object_id=sha,
              detail={"file": path.name, **{k: v for k, v in result.items() if k != "errors"},
                      "errors": len(errors)})
    return result


def post_patient_payments(conn: Connection) -> dict[str, str]:
    """Post every patient payment not yet posted (see the module docstring). Runs in ``conn``'s
    transaction. Returns the applied and overpaid (refunds due) totals."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    pending = conn.execute(
        select(m.PatientPayment.id, m.PatientPayment.patient_id, m.PatientPayment.claim_id,
               m.PatientPayment.amount, m.PatientPayment.received_on)
        .where(m.PatientPayment.posted_at.is_(None))
        .order_by(m.PatientPayment.received_on, m.PatientPayment.id)
    ).tuples().all()
    applied_total = refunds_total = Decimal("0.00")
    if not pending:
        return {"applied": "0.00", "refunds_due": "0.00"}
    patients = sorted({p[1] for p in pending})
    # Open patient balance per claim (ledger ar_patient), oldest service first.
    open_claims: dict[int, list[int]] = defaultdict(list)
    balance: dict[int, Decimal] = {}
    for chunk in _chunks(patients):
        rows = conn.execute(
            select(m.LedgerEntry.claim_id, m.LedgerEntry.patient_id, m.Claim.service_date_from,
                   m.LedgerEntry.amount)
            .join(m.Claim, m.Claim.id == m.LedgerEntry.claim_id)
            .where(m.LedgerEntry.account == L.AR_PATIENT, m.LedgerEntry.patient_id.in_(chunk))
        ).tuples().all()
        per_claim: dict[tuple[int, int, dt.date], Decimal] = defaultdict(Decimal)
        for claim_id, patient_id, service_date, amount in rows:
            if claim_id is not None and patient_id is not None:
                per_claim[(claim_id, patient_id, service_date)] += amount
        for (claim_id, patient_id, _service_date), amount in sorted(per_claim.items(), key=lambda kv: (kv[0][2], kv[0][0])):
            if amount > 0:
                open_claims[patient_id].append(claim_id)
                balance[claim_id] = amount
    entries: list[L.Entry] = []
    for pp_id, patient_id, named_claim, amount, received_on in pending:
        order = open_claims.get(patient_id, [])
        if named_claim is not None and named_claim in order:
            order = [named_claim] + [c for c in order if c != named_claim]
        remaining = amount
        n = 0
        for claim_id in order:
            take = min(remaining, balance.get(claim_id, Decimal(0)))
            if take <= 0:
                continue
            n += 1
            key = f"ppay:{pp_id}:{n}"
            for account, value in ((L.CASH, take), (L.AR_PATIENT, -take)):
                entries.append(L.Entry(key, L.PATIENT_PAYMENT, account, value, received_on, claim_id=claim_id,
                                       patient_id=patient_id, patient_payment_id=pp_id))
            balance[claim_id] -= take
            remaining -= take
            applied_total += take
            if remaining == 0:
                break
        if remaining > 0:
            n += 1
            key = f"ppay:{pp_id}:{n}"
            for account, value in ((L.CASH, remaining), (L.REFUNDS_DUE, -remaining)):
                entries.append(L.Entry(key, L.REFUND_DUE, account, value, received_on, claim_id=named_claim,
                                       patient_id=patient_id, patient_payment_id=pp_id))
            refunds_total += remaining
    L.write_entries(conn, entries)
    ids = [p[0] for p in pending]
    for chunk in _chunks(ids):
        conn.execute(update(m.PatientPayment).where(m.PatientPayment.id.in_(chunk)).values(posted_at=now))
    return {"applied": f"{applied_total:.2f}", "refunds_due": f"{refunds_total:.2f}"}
