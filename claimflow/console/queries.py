"""Read-only queries behind the console's pages.

Every function takes an :class:`~sqlalchemy.Engine` and returns plain dicts and lists: money as
``Decimal`` (the ``Money`` column type makes SQLite's integer cents and PostgreSQL's NUMERIC the same),
dates as ``date``. Queries are SQLAlchemy Core over the models, so both backends run the same code.

People are named by id only: the console never reads ``patients`` or ``subscribers`` (the patient
aging dimension is already the hashed ``patient_key``), and a file's segments are shown through
:func:`mask_segment`, which blanks the elements that carry names, addresses, dates of birth and member ids.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, or_, select

from adjudication import carc
from claimflow.db import models as m
from eob.codes import carc_description

ZERO = Decimal("0.00")
BUCKETS: tuple[str, ...] = ("0-30", "31-60", "61-90", "91-120", "120+")
TREND_KPIS: tuple[str, ...] = ("first_pass_acceptance_rate", "clean_claim_rate", "denial_rate")
MASK = "***"


class ConsoleError(Exception):
    """A console request that cannot be answered (unknown id, unreadable file). Messages name ids only."""


# --------------------------------------------------------------------------------------------------
# dashboard
# --------------------------------------------------------------------------------------------------


def latest_run_date(engine: Engine) -> dt.date | None:
    """The newest run date of the nightly reconciliation snapshot (aging/kpis), or None before the first."""
    with engine.connect() as conn:
        a = conn.execute(select(func.max(m.AgingBucket.run_date))).scalar()
        k = conn.execute(select(func.max(m.Kpi.run_date))).scalar()
    dates = [_date(d) for d in (a, k) if d is not None]
    return max(dates) if dates else None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def cash_by_day(engine: Engine, days: int = 30) -> list[dict[str, Any]]:
    """Cash posted (ledger account ``cash``, debits) per effective date, the last ``days`` days with cash."""
    stmt = (
        select(m.LedgerEntry.effective_date, func.sum(m.LedgerEntry.amount))
        .where(m.LedgerEntry.account == "cash")
        .group_by(m.LedgerEntry.effective_date)
        .order_by(m.LedgerEntry.effective_date.desc())
        .limit(days)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [{"day": _date(d), "amount": amount or ZERO} for d, amount in reversed(rows)]


def aging(engine: Engine, run_date: dt.date | None) -> dict[str, Any]:
    """A/R aging of ``run_date``: per payer (stacked by bucket) and the patient side per bucket."""
    out: dict[str, Any] = {"payers": [], "patient": [], "buckets": BUCKETS}
    if run_date is None:
        return out
    stmt = (
        select(
            m.AgingBucket.dimension,
            m.AgingBucket.key,
            m.AgingBucket.bucket,
            func.sum(m.AgingBucket.amount),
            func.sum(m.AgingBucket.claims),
        )
        .where(m.AgingBucket.run_date == run_date)
        .group_by(m.AgingBucket.dimension, m.AgingBucket.key, m.AgingBucket.bucket)
    )
    payers: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(BUCKETS, ZERO))
    p_amount: dict[str, Decimal] = dict.fromkeys(BUCKETS, ZERO)
    p_claims: dict[str, int] = dict.fromkeys(BUCKETS, 0)
    p_people: dict[str, int] = dict.fromkeys(BUCKETS, 0)
    with engine.connect() as conn:
        for dim, key, bucket, amount, claims in conn.execute(stmt):
            if bucket not in BUCKETS:
                continue
            if dim == "payer":
                payers[str(key)][bucket] += amount or ZERO
            else:
                p_amount[bucket] += amount or ZERO
                p_claims[bucket] += int(claims or 0)
                p_people[bucket] += 1
    out["payers"] = sorted(
        ({"payer": k, "buckets": v, "total": sum(v.values(), ZERO)} for k, v in payers.items()),
        key=lambda r: (-r["total"], r["payer"]),
    )
    out["patient"] = [
        {"bucket": b, "amount": p_amount[b], "claims": p_claims[b], "patients": p_people[b]} for b in BUCKETS
    ]
    return out


def denials(engine: Engine, limit: int = 15) -> list[dict[str, Any]]:
    """Denied dollars by payer and CARC (group + reason), with the reason's category and description.
    A denial is a CAS that is not patient responsibility and not contractual/prior payer
    (:mod:`adjudication.carc`), on a claim payment that is not a reversal."""
    stmt = (
        select(
            m.Payer.payer_id,
            m.Adjustment.group_code,
            m.Adjustment.reason_code,
            func.sum(m.Adjustment.amount),
            func.count(func.distinct(m.Adjustment.claim_payment_id)),
        )
        .join(m.ClaimPayment, m.ClaimPayment.id == m.Adjustment.claim_payment_id)
        .join(m.Remittance, m.Remittance.id == m.ClaimPayment.remittance_id)
        .outerjoin(m.Claim, m.Claim.id == m.ClaimPayment.claim_id)
        .outerjoin(m.Payer, m.Payer.id == func.coalesce(m.Claim.payer_id, m.Remittance.payer_id))
        .where(m.Adjustment.group_code != "PR", m.ClaimPayment.status_code != "22")
        .group_by(m.Payer.payer_id, m.Adjustment.group_code, m.Adjustment.reason_code)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out: list[dict[str, Any]] = []
    for payer, group, reason, amount, claims in rows:
        if not carc.is_denial(str(reason)) or (amount or ZERO) <= 0:
            continue
        out.append(
            {
                "payer": payer or "unmatched",
                "code": f"{group}-{reason}",
                "category": carc.category(str(reason)),
                "description": carc_description(str(reason)) or carc.category(str(reason)).replace("_", " "),
                "amount": amount or ZERO,
                "claims": int(claims),
            }
        )
    out.sort(key=lambda r: (-r["amount"], r["payer"], r["code"]))
    return out[:limit]


def kpi_trends(engine: Engine, days: int = 30) -> dict[str, list[dict[str, Any]]]:
    """The last ``days`` run dates of each trend KPI: ``{name: [{day, value, numerator, denominator}]}``."""
    stmt = (
        select(m.Kpi.run_date, m.Kpi.name, m.Kpi.value, m.Kpi.numerator, m.Kpi.denominator)
        .where(m.Kpi.name.in_(TREND_KPIS))
        .order_by(m.Kpi.run_date.desc())
    )
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in TREND_KPIS}
    with engine.connect() as conn:
        for day, name, value, num, den in conn.execute(stmt):
            series = out[str(name)]
            if len(series) < days:
                series.append(
                    {
                        "day": _date(day),
                        "value": _dec(value),
                        "numerator": _dec(num),
                        "denominator": _dec(den),
                    }
                )
    for series in out.values():
        series.reverse()
    return out


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --------------------------------------------------------------------------------------------------
# work queues
# --------------------------------------------------------------------------------------------------


def _dicts(engine: Engine, stmt: Select[Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Run ``stmt`` and name each row's values with ``keys`` (its columns, in order): pages and their
    JSON read fields by name, and the names are the console's, not always the column's."""
    with engine.connect() as conn:
        return [dict(zip(keys, r, strict=True)) for r in conn.execute(stmt)]


def work_items(
    engine: Engine,
    *,
    queue: str | None = None,
    status: str | None = "open",
    payer: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Work items, most urgent first. ``status``: open (open + in progress), in_progress, closed or None."""
    columns = {
        "id": m.WorkItem.id,
        "queue": m.WorkItem.queue,
        "claim_id": m.Claim.id,
        "claim": m.Claim.claim_number,
        "payer": m.Payer.payer_id,
        "reason_codes": m.WorkItem.reason_codes,
        "reason": m.WorkItem.reason,
        "amount": m.WorkItem.amount,
        "next_action": m.WorkItem.next_action,
        "priority": m.WorkItem.priority,
        "due_date": m.WorkItem.due_date,
        "status": m.WorkItem.status,
        "assignee": m.WorkItem.assignee,
    }
    stmt = (
        select(*columns.values())
        .join(m.Claim, m.Claim.id == m.WorkItem.claim_id)
        .outerjoin(m.Payer, m.Payer.id == m.WorkItem.payer_id)
    )
    if queue:
        stmt = stmt.where(m.WorkItem.queue == queue)
    if status == "open":
        stmt = stmt.where(m.WorkItem.status.in_((m.WorkItemStatus.OPEN, m.WorkItemStatus.IN_PROGRESS)))
    elif status:
        stmt = stmt.where(m.WorkItem.status == status)
    if payer:
        stmt = stmt.where(m.Payer.payer_id == payer)
    stmt = stmt.order_by(
        case((m.WorkItem.status == "closed", 1), else_=0),
        m.WorkItem.priority,
        m.WorkItem.due_date,
        m.WorkItem.amount.desc(),
        m.WorkItem.id,
    ).limit(limit)
    return _dicts(engine, stmt, tuple(columns))


def work_item(engine: Engine, item_id: int) -> dict[str, Any]:
    """One work item with its events (newest last). The notes are the billing office's own text."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(m.WorkItem.__table__, m.Claim.claim_number, m.Payer.payer_id.label("payer_code"))
                .join(m.Claim, m.Claim.id == m.WorkItem.claim_id)
                .outerjoin(m.Payer, m.Payer.id == m.WorkItem.payer_id)
                .where(m.WorkItem.id == item_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise ConsoleError(f"work item {item_id} does not exist")
        events = conn.execute(
            select(m.WorkItemEvent.at, m.WorkItemEvent.actor, m.WorkItemEvent.kind, m.WorkItemEvent.detail)
            .where(m.WorkItemEvent.work_item_id == item_id)
            .order_by(m.WorkItemEvent.id)
        ).all()
    w = row
    return {
        "id": w["id"],
        "queue": w["queue"],
        "claim": w["claim_number"],
        "claim_id": w["claim_id"],
        "payer": w["payer_code"],
        "reason_codes": w["reason_codes"],
        "reason": w["reason"],
        "amount": w["amount"],
        "next_action": w["next_action"],
        "priority": w["priority"],
        "due_date": w["due_date"],
        "status": w["status"],
        "assignee": w["assignee"],
        "notes": w["notes"],
        "opened_on": w["opened_on"],
        "events": [{"at": e[0], "actor": e[1], "kind": e[2], "detail": e[3] or {}} for e in events],
    }


def payer_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(select(m.Payer.payer_id).order_by(m.Payer.payer_id))]


# --------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------


_INTERCHANGE_LIST = (
    "id",
    "direction",
    "file_name",
    "transaction_type",
    "partner",
    "isa13",
    "status",
    "error",
    "claim_count",
    "total_charge",
    "bytes",
    "created_at",
)
"""The ``interchanges`` columns the files page lists, under their own names."""


def interchanges(engine: Engine, *, direction: str | None = None, limit: int = 300) -> list[dict[str, Any]]:
    stmt = (
        select(*(getattr(m.Interchange, name) for name in _INTERCHANGE_LIST))
        .order_by(m.Interchange.id.desc())
        .limit(limit)
    )
    if direction in ("in", "out"):
        stmt = stmt.where(m.Interchange.direction == direction)
    return _dicts(engine, stmt, _INTERCHANGE_LIST)


def interchange(
    engine: Engine, file_id: int, *, data_dir: Path | None = None, start: int = 1, max_segments: int = 300
) -> dict[str, Any]:
    """One interchange and its segments, masked (:func:`mask_segment`). The archived bytes are read from
    ``archive_path`` (relative paths are under ``data_dir``); a file that is not there says so."""
    with engine.connect() as conn:
        ic = (
            conn.execute(select(m.Interchange.__table__).where(m.Interchange.id == file_id))
            .mappings()
            .first()
        )
        if ic is None:
            raise ConsoleError(f"file {file_id} does not exist")
        acks = conn.execute(
            select(func.count())
            .select_from(m.Acknowledgment)
            .where(
                or_(
                    m.Acknowledgment.interchange_id == file_id,
                    m.Acknowledgment.matched_interchange_id == file_id,
                )
            )
        ).scalar_one()
    info: dict[str, Any] = {
        c: ic[c]
        for c in (
            "id",
            "direction",
            "file_name",
            "transaction_type",
            "partner",
            "isa13",
            "usage",
            "status",
            "error",
            "claim_count",
            "total_charge",
            "bytes",
            "sha256",
            "created_at",
            "uploaded_at",
            "loaded_at",
        )
    }
    info["acknowledgments"] = int(acks)
    info["segments"], info["segments_missing"], info["segment_count"] = [], None, 0
    info["start"], info["next"], info["previous"] = start, None, None
    path = Path(ic["archive_path"]) if ic["archive_path"] else None
    if path is not None and not path.is_absolute() and data_dir is not None:
        path = data_dir / path
    if path is None or not path.is_file():
        info["segments_missing"] = "the archived copy of this file is not on this machine"
        return info
    try:
        raw = path.read_bytes()
    except OSError:
        info["segments_missing"] = "the archived copy of this file cannot be read"
        return info
    segments = split_segments(raw)
    start = min(max(start, 1), max(len(segments), 1))
    page = segments[start - 1 : start - 1 + max_segments]
    info["start"], info["segment_count"] = start, len(segments)
    info["next"] = start + max_segments if start - 1 + max_segments < len(segments) else None
    info["previous"] = max(start - max_segments, 1) if start > 1 else None
    info["segments"] = [
        {"n": i, "id": seg[0] if seg else "", "elements": mask_segment(seg)}
        for i, seg in enumerate(page, start=start)
    ]
    return info


def split_segments(raw: bytes) -> list[list[str]]:
    """Segments as element lists. Delimiters come from the ISA (element separator at byte 3, segment
    terminator after ISA16); a file without an ISA is split on ``*`` and ``~``."""
    text = raw.decode("latin-1")
    start = text.find("ISA")
    if start >= 0 and len(text) >= start + 106:
        element, terminator = text[start + 3], text[start + 105]
    else:
        element, terminator = "*", "~"
    out = []
    for chunk in text[max(start, 0) :].split(terminator):
        chunk = chunk.strip("\r\n\t ")
        if chunk:
            out.append(chunk.split(element))
    return out


#: NM101 entity codes of people whose identifiers are PHI (subscriber, patient, corrected insured/patient).
PERSON_ENTITIES = frozenset({"IL", "QC", "74", "QD"})
#: REF01 qualifiers whose REF02 identifies a person (member/subscriber ids, SSN, medical record, HIC, group).
PERSON_REFS = frozenset({"SY", "1W", "IG", "23", "EA", "F6", "HJ", "Y4", "1L", "6P", "0F", "3H", "9F", "G1"})


def mask_segment(seg: list[str]) -> list[str]:
    """The segment's elements with PHI replaced by ``***`` (by segment and element, never by value):

    * NM1 of a person (NM102=1) or of a subscriber/patient: NM103-NM107 (names); NM109 (member id) for
      subscriber/patient entity codes (IL, QC, 74, QD)
    * N3, N4: every element (addresses)
    * DMG: DMG02 (date of birth), DMG03 (gender)
    * REF with a person qualifier (SY, 1W, IG, 23, EA, F6, …): REF02, REF03
    * PER: names and numbers (PER02-PER08)
    * IK4: IK404 (the 999 quotes the bad value, which may be PHI); CTX: CTX02+
    """
    if not seg:
        return seg
    out = list(seg)
    sid = seg[0]

    def blank(*positions: int) -> None:
        for p in positions:
            if p < len(out) and out[p]:
                out[p] = MASK

    if sid == "NM1":
        entity = seg[1] if len(seg) > 1 else ""
        person = len(seg) > 2 and seg[2] == "1"
        if person or entity in PERSON_ENTITIES:
            blank(3, 4, 5, 6, 7)
        if entity in PERSON_ENTITIES:
            blank(9)
    elif sid in ("N3", "N4"):
        blank(*range(1, len(out)))
    elif sid == "DMG" or (sid == "REF" and len(seg) > 1 and seg[1] in PERSON_REFS):
        blank(2, 3)  # DMG02 date of birth, DMG03 gender; REF02/REF03 a person's identifier
    elif sid in ("PER", "CTX"):
        blank(*range(2, len(out)))
    elif sid == "IK4":
        blank(4)
    return out


# --------------------------------------------------------------------------------------------------
# claims and payers
# --------------------------------------------------------------------------------------------------


def find_claims(engine: Engine, ref: str, limit: int = 20) -> list[dict[str, Any]]:
    """Claims whose claim number or payer claim number is ``ref`` (exact), else starts with it."""
    ref = ref.strip()
    if not ref:
        return []
    cols = (
        m.Claim.id,
        m.Claim.claim_number,
        m.Claim.payer_claim_number,
        m.Claim.status,
        m.Payer.payer_id,
        m.Claim.total_charge,
        m.Claim.service_date_from,
    )
    base = select(*cols).join(m.Payer, m.Payer.id == m.Claim.payer_id)
    keys = ("id", "claim_number", "payer_claim_number", "status", "payer", "total_charge", "service_date")
    with engine.connect() as conn:
        rows = conn.execute(
            base.where(or_(m.Claim.claim_number == ref, m.Claim.payer_claim_number == ref))
        ).all()
        if not rows:
            like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = conn.execute(
                base.where(
                    or_(
                        m.Claim.claim_number.like(like, escape="\\"),
                        m.Claim.payer_claim_number.like(like, escape="\\"),
                    )
                )
                .order_by(m.Claim.claim_number)
                .limit(limit)
            ).all()
    return [dict(zip(keys, r, strict=True)) for r in rows]


def claim_number(engine: Engine, claim_id: int) -> str:
    with engine.connect() as conn:
        number = conn.execute(select(m.Claim.claim_number).where(m.Claim.id == claim_id)).scalar()
    if number is None:
        raise ConsoleError(f"claim {claim_id} does not exist")
    return str(number)


def payer_stats(engine: Engine) -> list[dict[str, Any]]:
    """Per payer: claims, days to pay (first 837 sent to the 835 payment date, average over paid claim
    payments), denial rate (CLP02=4 among the payer's claim payments, reversals left out) and first-pass
    rate (first submissions accepted among those answered)."""
    first_sub = (
        select(m.Submission.claim_id, func.min(m.Submission.created_at).label("sent"))
        .group_by(m.Submission.claim_id)
        .subquery()
    )
    pays = (
        select(
            m.Claim.payer_id,
            m.ClaimPayment.status_code,
            m.ClaimPayment.paid,
            m.Remittance.payment_date,
            first_sub.c.sent,
        )
        .join(m.ClaimPayment, m.ClaimPayment.claim_id == m.Claim.id)
        .join(m.Remittance, m.Remittance.id == m.ClaimPayment.remittance_id)
        .outerjoin(first_sub, first_sub.c.claim_id == m.Claim.id)
        .where(m.ClaimPayment.status_code != "22")
    )
    first = (
        select(
            m.Claim.payer_id,
            func.sum(case((m.Submission.status == "accepted", 1), else_=0)),
            func.sum(case((m.Submission.status.in_(("accepted", "rejected")), 1), else_=0)),
        )
        .join(m.Submission, and_(m.Submission.claim_id == m.Claim.id, m.Submission.attempt == 1))
        .group_by(m.Claim.payer_id)
    )
    with engine.connect() as conn:
        payers = conn.execute(
            select(m.Payer.id, m.Payer.payer_id, m.Payer.name, m.Payer.payer_type).order_by(m.Payer.payer_id)
        ).all()
        claims: dict[int, int] = {
            int(r[0]): int(r[1])
            for r in conn.execute(select(m.Claim.payer_id, func.count()).group_by(m.Claim.payer_id))
        }
        firsts = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in conn.execute(first)}
        acc: dict[int, dict[str, int]] = defaultdict(lambda: {"n": 0, "denied": 0, "paid_n": 0, "days": 0})
        for payer_id, status, paid, pay_date, sent in conn.execute(pays):
            a = acc[payer_id]
            a["n"] += 1
            a["denied"] += status == "4"
            if pay_date is not None and sent is not None and (paid or ZERO) > 0:
                a["paid_n"] += 1
                a["days"] += max((_date(pay_date) - _date(sent)).days, 0)
    out = []
    for pid, code, name, ptype in payers:
        a = acc[pid]
        ok, answered = firsts.get(pid, (0, 0))
        out.append(
            {
                "payer": code,
                "name": name,
                "type": ptype,
                "claims": int(claims.get(pid, 0)),
                "payments": a["n"],
                "days_to_pay": _ratio(Decimal(a["days"]), Decimal(a["paid_n"]), "0.1"),
                "denial_rate": _ratio(Decimal(a["denied"]), Decimal(a["n"]), "0.0001"),
                "first_pass_rate": _ratio(Decimal(ok), Decimal(answered), "0.0001"),
            }
        )
    return out


def _ratio(num: Decimal, den: Decimal, places: str) -> Decimal | None:
    return None if not den else (num / den).quantize(Decimal(places))
