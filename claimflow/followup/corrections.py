"""Finishing work items: replacement (CLM05-3 = 7), void (8) and resubmitted (1) claims.

A claim keeps its row and its claim number; what changes is what the next 837 says about it:

* :func:`correct_claim` — the payer adjudicated the claim and something was wrong. Optional ``--set``
  changes are applied (see :data:`FIELDS`), the claim is re-scrubbed, and it is marked ``corrected`` with
  frequency 7 and ``original_payer_claim_number`` = the payer's claim number (REF*F8: the CLP07 of the
  claim's live 835 payment, else the REF*1K of its 277CA acceptance).
* :func:`void_claim` — the claim should never have been billed: frequency 8, REF*F8, no changes.
* :func:`resubmit_claim` — the clearinghouse or the payer's front end rejected the claim (999/TA1/277CA),
  so the payer never adjudicated it: a new original (frequency 1) once the data is fixed (``--set``). A
  rejected replacement or void goes out again as a replacement or void (same REF*F8).

The next ``claims_submission`` (or ``claimflow generate-837``) sends them; the submission row links to
the one it replaces (``submissions.replaces_submission_id``). The money follows without anything
special: the payer's reversal (CLP02 = 22, CLP01 = the original's CLM01) and its new payment (CLP01 = the
replacement's CLM01) both match this claim, posting pairs the reversal with the original payment in
either order, and a changed total charge is posted as a ``chgadj:<claim id>:<n>`` charge adjustment.

Work items: the rejection item closes by itself in the nightly build (the claim is no longer
``rejected``); a denial or underpayment item closes when the payer's reversal takes the adjudication
back. Until then each gets a note saying a replacement/void was queued.

Errors (:class:`CorrectionError`) name our claim number, the field and the line number, never a value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from claimflow.db import models as m
from claimflow.errors import ClaimflowError

CORRECTED = m.ClaimStatus.CORRECTED  # a replacement or void waiting to be sent (adjudication.lifecycle)

#: Claim statuses a replacement or void may follow: the payer holds a claim number for it.
CORRECTABLE = (
    m.ClaimStatus.ACCEPTED,
    m.ClaimStatus.PAID,
    m.ClaimStatus.PARTIALLY_PAID,
    m.ClaimStatus.DENIED,
    m.ClaimStatus.REVERSED,
    CORRECTED,
)
#: Claim statuses a resubmission (a new original) may follow: the payer never adjudicated the claim.
RESUBMITTABLE = (m.ClaimStatus.REJECTED, m.ClaimStatus.SCRUB_FAILED)

#: ``--set`` fields (N: 1-based diagnosis or line number).
FIELDS = {
    "place_of_service": "CLM05-1 place of service, two digits (837P)",
    "prior_authorization": "REF*G1 prior authorization number (empty clears it)",
    "diagnosis.N": "ICD-10-CM code without the dot; N = 1 is the principal, N = count + 1 adds one",
    "line.N.procedure": "SV101-2 / SV202-2 procedure code, 5 letters or digits",
    "line.N.modifiers": "up to 4 two-character modifiers separated by ':' (empty clears them)",
    "line.N.units": "units, more than 0, at most 3 decimals",
    "line.N.charge": "line charge in dollars, at most 2 decimals (the claim total follows)",
}

_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
_PROC = re.compile(r"^[A-Z0-9]{5}$")
_MOD = re.compile(r"^[A-Z0-9]{2}$")
_POS = re.compile(r"^[0-9]{2}$")
_AUTH = re.compile(r"^[A-Za-z0-9-]{1,50}$")
_LINE_FIELD = re.compile(r"^line\.([0-9]{1,2})\.(procedure|modifiers|units|charge)$")
_DX_FIELD = re.compile(r"^diagnosis\.([0-9]{1,2})$")


class CorrectionError(ClaimflowError):
    """A correction, void or resubmission that cannot be made: one line, no PHI."""


@dataclass
class CorrectionResult:
    claim_id: int
    claim_number: str
    action: str  # correct, void, resubmit
    frequency: str
    payer_claim_number: str | None
    changed: list[str] = field(default_factory=list)  # field names, never values
    charge_before: Decimal = Decimal("0.00")
    charge_after: Decimal = Decimal("0.00")
    work_items_noted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim_id": self.claim_id,
            "claim": self.claim_number,
            "action": self.action,
            "frequency": self.frequency,
            "payer_claim_number": self.payer_claim_number,
            "changed": self.changed,
            "charge_before": f"{self.charge_before:.2f}",
            "charge_after": f"{self.charge_after:.2f}",
            "work_items_noted": self.work_items_noted,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def find_claim_id(conn: Connection, ref: str) -> int:
    """Our claim number, a CLM01 we sent, or the payer's claim number (as ``claimflow claim show``)."""
    from adjudication._sql import Sql
    from adjudication.timeline import ClaimNotFound, find_claim

    try:
        return find_claim(Sql(conn), ref)
    except ClaimNotFound as exc:
        raise CorrectionError(str(exc)) from None


def payer_claim_number(conn: Connection, claim_id: int) -> str | None:
    """The payer's claim control number for REF*F8: CLP07 of the latest live (posted, not reversed)
    835 payment, else the CLP07 of any posted payment, else ``claims.payer_claim_number`` (277CA REF*1K)."""
    cp = m.ClaimPayment
    reversed_ids = select(cp.reversal_of_id).where(cp.reversal_of_id.is_not(None), cp.claim_id == claim_id)
    for cond in (cp.id.not_in(reversed_ids), cp.id.is_not(None)):
        found = conn.execute(
            select(cp.payer_claim_number)
            .where(
                cp.claim_id == claim_id,
                cp.posted_at.is_not(None),
                cp.payer_claim_number.is_not(None),
                cp.status_code.in_(("1", "2", "3", "4", "19", "20", "21")),
                cond,
            )
            .order_by(cp.id.desc())
            .limit(1)
        ).scalar()
        if found:
            return str(found)
    pcn = conn.execute(select(m.Claim.payer_claim_number).where(m.Claim.id == claim_id)).scalar()
    return str(pcn) if pcn else None


def parse_changes(words: list[str]) -> list[tuple[str, str]]:
    """``FIELD=VALUE`` words → pairs; unknown fields are refused (named, the value never echoed)."""
    out: list[tuple[str, str]] = []
    for word in words:
        name, sep, value = word.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CorrectionError("--set takes FIELD=VALUE (fields: " + ", ".join(FIELDS) + ")")
        if name not in ("place_of_service", "prior_authorization") and not (
            _LINE_FIELD.match(name) or _DX_FIELD.match(name)
        ):
            raise CorrectionError(f"--set {name}: unknown field (fields: " + ", ".join(FIELDS) + ")")
        out.append((name, value.strip()))
    return out


def _apply(conn: Connection, claim: Any, changes: list[tuple[str, str]]) -> tuple[list[str], Decimal]:
    """Apply validated changes to the claim's rows; returns the changed field names and the new total."""
    cid, num = claim.id, claim.claim_number
    lines = {
        ln.line_number: ln
        for ln in conn.execute(select(m.ServiceLine.__table__).where(m.ServiceLine.claim_id == cid))
    }
    dxs = {
        d.sequence: d.code
        for d in conn.execute(select(m.ClaimDiagnosis.__table__).where(m.ClaimDiagnosis.claim_id == cid))
    }
    claim_values: dict[str, Any] = {}
    line_values: dict[int, dict[str, Any]] = {}
    dx_values: dict[int, str] = {}
    changed: list[str] = []
    for name, value in changes:
        where = f"--set {name} on claim {num}"
        if name == "place_of_service":
            if claim.claim_type != "professional":
                raise CorrectionError(
                    f"{where}: place of service is an 837P field (institutional claims use the bill type)"
                )
            if not _POS.match(value):
                raise CorrectionError(f"{where}: must be two digits")
            claim_values["place_of_service"] = value
        elif name == "prior_authorization":
            if value and not _AUTH.match(value):
                raise CorrectionError(f"{where}: letters, digits and '-' only, at most 50")
            claim_values["prior_authorization"] = value or None
        elif (dm := _DX_FIELD.match(name)) is not None:
            n = int(dm.group(1))
            code = value.upper().replace(".", "")
            if not 1 <= n <= min(len(dxs) + 1, 12):
                raise CorrectionError(
                    f"{where}: diagnosis {n} does not exist (the claim has {len(dxs)}; "
                    f"{len(dxs) + 1} adds one, at most 12)"
                )
            if not _ICD10.match(code):
                raise CorrectionError(
                    f"{where}: not an ICD-10-CM code (a letter, a digit, then 1 to 5 letters or digits)"
                )
            dx_values[n] = code
        else:
            lm = _LINE_FIELD.match(name)
            assert lm is not None
            n, what = int(lm.group(1)), lm.group(2)
            if n not in lines:
                raise CorrectionError(f"{where}: line {n} does not exist (the claim has {len(lines)} lines)")
            vals = line_values.setdefault(n, {})
            if what == "procedure":
                code = value.upper()
                if not _PROC.match(code):
                    raise CorrectionError(f"{where}: a procedure code is 5 letters or digits")
                vals["procedure_code"] = code
            elif what == "modifiers":
                mods = [x.upper() for x in value.split(":")] if value else []
                if len(mods) > 4 or not all(_MOD.match(x) for x in mods):
                    raise CorrectionError(
                        f"{where}: up to 4 modifiers of 2 letters or digits, separated by ':'"
                    )
                vals["modifiers"] = ":".join(mods) or None
            else:
                try:
                    amount = Decimal(value)
                except InvalidOperation:
                    raise CorrectionError(f"{where}: not a number") from None
                if not amount.is_finite():
                    raise CorrectionError(f"{where}: not a number")
                if what == "units":
                    if (
                        amount <= 0
                        or amount != amount.quantize(Decimal("0.001"))
                        or amount >= Decimal("1000000")
                    ):
                        raise CorrectionError(f"{where}: units must be more than 0 with at most 3 decimals")
                    vals["units"] = amount
                else:
                    if (
                        amount < 0
                        or amount != amount.quantize(Decimal("0.01"))
                        or amount >= Decimal("100000000")
                    ):
                        raise CorrectionError(
                            f"{where}: a charge is dollars with at most 2 decimals, not negative"
                        )
                    vals["charge"] = amount.quantize(Decimal("0.01"))
        changed.append(name)
    # Write.
    for n, vals in line_values.items():
        conn.execute(update(m.ServiceLine).where(m.ServiceLine.id == lines[n].id).values(**vals))
    for n, code in dx_values.items():
        if n in dxs:
            conn.execute(
                update(m.ClaimDiagnosis)
                .where(m.ClaimDiagnosis.claim_id == cid, m.ClaimDiagnosis.sequence == n)
                .values(code=code)
            )
        else:
            conn.execute(insert(m.ClaimDiagnosis).values(claim_id=cid, sequence=n, code=code))
    total = conn.execute(
        select(func.coalesce(func.sum(m.ServiceLine.charge), 0)).where(m.ServiceLine.claim_id == cid)
    ).scalar_one()
    total = Decimal(total).quantize(Decimal("0.01"))
    if total != claim.total_charge:
        claim_values["total_charge"] = total
    if claim_values:
        conn.execute(update(m.Claim).where(m.Claim.id == cid).values(**claim_values))
    return changed, total


def _scrub(conn: Connection, claim_id: int, claim_number: str, today: dt.date) -> None:
    """The changed claim must pass every scrub rule before it is queued (rules named, values never)."""
    from claimflow.services.claims_loader import load_claims
    from edi.scrub import scrub_claim

    loaded = list(load_claims(conn, [claim_id]))
    findings = scrub_claim(loaded[0], today) if loaded else []
    if findings:
        rules = sorted({f.rule for f in findings})
        raise CorrectionError(
            f"claim {claim_number} would fail scrubbing ({', '.join(rules)}); nothing was changed"
        )


def _charge_adjustment(conn: Connection, claim: Any, before: Decimal, after: Decimal, today: dt.date) -> None:
    """A changed total charge: ``chgadj:<claim id>:<n>`` (ar_payer ± / revenue ∓), once the original
    charge is in the ledger (a claim never charged gets its ``chg:`` at the new amount anyway)."""
    from adjudication.ledger import Account, EntryType

    le = m.LedgerEntry
    charged = conn.execute(
        select(func.count()).select_from(le).where(le.txn_key == f"chg:{claim.id}")
    ).scalar_one()
    if not charged or before == after:
        return
    n = conn.execute(
        select(func.count())
        .select_from(le)
        .where(le.txn_key.like(f"chgadj:{claim.id}:%"), le.account == Account.REVENUE)
    ).scalar_one()
    key = f"chgadj:{claim.id}:{int(n) + 1}"
    diff = after - before
    common = {
        "txn_key": key,
        "entry_type": EntryType.CHARGE,
        "claim_id": claim.id,
        "patient_id": claim.patient_id,
        "payer_id": claim.payer_id,
        "effective_date": today,
    }
    conn.execute(
        insert(le),
        [
            {**common, "account": Account.AR_PAYER, "amount": diff},
            {**common, "account": Account.REVENUE, "amount": -diff},
        ],
    )


def _note_items(engine: Engine, claim_id: int, text: str, actor: str, queues: tuple[str, ...]) -> int:
    """A note on every open work item of the claim in ``queues`` (the nightly build closes them once the
    payer's answer makes the problem go away)."""
    from adjudication import worklist as wl

    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(m.WorkItem.id)
                .where(
                    m.WorkItem.claim_id == claim_id,
                    m.WorkItem.queue.in_(queues),
                    m.WorkItem.status != m.WorkItemStatus.CLOSED,
                )
                .order_by(m.WorkItem.id)
            ).scalars()
        )
    for item in ids:
        wl.add_note(engine, item, text, actor=actor)
    return len(ids)


def _load(conn: Connection, ref: str) -> Any:
    cid = find_claim_id(conn, ref)
    return conn.execute(select(m.Claim.__table__).where(m.Claim.id == cid)).one()


def _finish(
    engine: Engine, action: str, ref: str, changes: list[str], *, actor: str, today: dt.date | None
) -> CorrectionResult:
    from claimflow.db.audit import audit

    today = today or dt.date.today()
    pairs = parse_changes(changes)
    with engine.begin() as conn:
        claim = _load(conn, ref)
        num = claim.claim_number
        allowed = RESUBMITTABLE if action == "resubmit" else CORRECTABLE
        if claim.status not in allowed:
            hint = (
                "use claimflow claim resubmit"
                if claim.status in RESUBMITTABLE
                else "use claimflow claim correct or void"
                if claim.status in CORRECTABLE
                else "nothing was sent yet or the claim is closed"
            )
            raise CorrectionError(f"claim {num} is {claim.status}: cannot {action} it ({hint})")
        if action == "void" and claim.status == m.ClaimStatus.REVERSED:
            raise CorrectionError(f"claim {num} is reversed: the payer already took its payment back")
        pccn = None
        if action != "resubmit":
            pccn = payer_claim_number(conn, claim.id)
            if not pccn:
                raise CorrectionError(
                    f"claim {num} has no payer claim number yet (no 277CA acceptance or 835): "
                    "wait for the payer's answer, or resubmit a rejected claim"
                )
        before = Decimal(claim.total_charge)
        changed, after = _apply(conn, claim, pairs) if pairs else ([], before)
        frequency = {"correct": "7", "void": "8", "resubmit": "1"}[action]
        if action == "resubmit" and claim.frequency in ("7", "8") and claim.original_payer_claim_number:
            # a rejected replacement or void goes out again as what it was (the payer holds the original)
            frequency, pccn = claim.frequency, claim.original_payer_claim_number
        status = m.ClaimStatus.READY if action == "resubmit" else CORRECTED
        conn.execute(
            update(m.Claim)
            .where(m.Claim.id == claim.id)
            .values(
                frequency=frequency, original_payer_claim_number=pccn, status=status, status_changed_at=_now()
            )
        )
        if action == "resubmit":
            conn.execute(
                update(m.ScrubResult)
                .where(m.ScrubResult.claim_id == claim.id, m.ScrubResult.resolved.is_(False))
                .values(resolved=True)
            )
        if action != "void":
            _scrub(conn, claim.id, num, today)
        _charge_adjustment(conn, claim, before, after, today)
        audit(
            conn,
            actor=actor,
            action=f"claim_{action}",
            object_type="claim",
            object_id=str(claim.id),
            detail={
                "claim": num,
                "frequency": frequency,
                "from_status": claim.status,
                "fields": changed,
                "charge_changed": before != after,
            },
        )
        result = CorrectionResult(claim.id, num, action, frequency, pccn, changed, before, after)
    text = {
        "correct": "replacement claim (frequency 7) queued for the next 837",
        "void": "void (frequency 8) queued for the next 837",
        "resubmit": "claim fixed and queued again as a new original (frequency 1)",
    }[action]
    queues = (
        ("rejections", "scrub_holds") if action == "resubmit" else ("denials", "underpayments", "rejections")
    )
    result.work_items_noted = _note_items(engine, result.claim_id, text, actor, queues)
    return result


def correct_claim(
    engine: Engine, ref: str, changes: list[str] | None = None, *, actor: str, today: dt.date | None = None
) -> CorrectionResult:
    """Queue a replacement claim (frequency 7, REF*F8) with optional ``FIELD=VALUE`` changes."""
    return _finish(engine, "correct", ref, changes or [], actor=actor, today=today)


def void_claim(engine: Engine, ref: str, *, actor: str, today: dt.date | None = None) -> CorrectionResult:
    """Queue a void (frequency 8, REF*F8): the payer reverses its payment and pays nothing."""
    return _finish(engine, "void", ref, [], actor=actor, today=today)


def resubmit_claim(
    engine: Engine, ref: str, changes: list[str] | None = None, *, actor: str, today: dt.date | None = None
) -> CorrectionResult:
    """Queue a rejected claim again as a new original (frequency 1), after optional changes."""
    return _finish(engine, "resubmit", ref, changes or [], actor=actor, today=today)


def settle_voids(engine: Engine, run_date: dt.date, *, actor: str) -> int:
    """A void the payer answered (claim ``reversed``, its latest submission frequency 8, the reversal
    posted after that submission) leaves the charge in A/R with nobody owing it: write the insurance
    balance off (``wo:<claim id>:insurance:<date>``, reason ``void``) and close the claim when the patient
    side is settled too (reversed → closed). Returns the number of claims settled."""
    from adjudication.errors import WriteOffError
    from adjudication.writeoffs import write_off

    s, cp, le = m.Submission, m.ClaimPayment, m.LedgerEntry
    with engine.connect() as conn:
        latest = select(s.claim_id, func.max(s.id).label("sid")).group_by(s.claim_id).subquery()
        rows = conn.execute(
            select(m.Claim.id, s.created_at)
            .join(latest, latest.c.claim_id == m.Claim.id)
            .join(s, s.id == latest.c.sid)
            .where(m.Claim.status == m.ClaimStatus.REVERSED, m.Claim.frequency == "8", s.frequency == "8")
        ).all()
        due = []
        for cid, sent_at in rows:
            reversed_after = conn.execute(
                select(func.count())
                .select_from(cp)
                .where(
                    cp.claim_id == cid,
                    cp.status_code == "22",
                    cp.posted_at.is_not(None),
                    cp.reversal_of_id.is_not(None),
                    cp.posted_at >= sent_at,
                )
            ).scalar_one()
            balance = conn.execute(
                select(func.coalesce(func.sum(le.amount), 0)).where(
                    le.claim_id == cid, le.account == "ar_payer"
                )
            ).scalar_one()
            if reversed_after and Decimal(balance) > 0:
                due.append(cid)
    settled = 0
    for cid in due:
        try:
            write_off(
                engine,
                claim_id=cid,
                side="insurance",
                actor=actor,
                as_of=run_date,
                reason="void: the claim was voided (frequency 8) and the payer reversed its payment",
            )
        except WriteOffError:
            continue
        settled += 1
        with engine.begin() as conn:  # reversed -> closed (the write-off rule leaves reversed claims alone)
            open_ = conn.execute(
                select(func.count()).select_from(
                    select(le.account)
                    .where(le.claim_id == cid, le.account.in_(("ar_payer", "ar_patient")))
                    .group_by(le.account)
                    .having(func.sum(le.amount) != 0)
                    .subquery()
                )
            ).scalar_one()
            if not open_:
                conn.execute(
                    update(m.Claim)
                    .where(m.Claim.id == cid, m.Claim.status == m.ClaimStatus.REVERSED)
                    .values(status=m.ClaimStatus.CLOSED, status_changed_at=_now())
                )
    return settled
