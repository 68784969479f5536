"""Test helpers: a tiny practice, submissions, and realistic stored 835 rows (what the loader writes).

``Practice`` inserts rows directly (the loader is not under test here). A remittance is built from
``Pay`` specs and is balanced by construction — CLP03 − CLP04 = Σ CAS, SVC02 − SVC03 = Σ line CAS,
BPR02 = Σ CLP04 − Σ PLB — unless a test asks for it to be off.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from claimflow.db import models as m

D = Decimal
ZERO = Decimal("0")
SHARE = Decimal("0.70")
PR10 = Decimal("10.00")
DAY = dt.date(2026, 11, 1)
# The (invented) patient who is also the subscriber: the same person on both rows.
PERSON: dict[str, Any] = {
    "last_name": "ZZTESTLAST",
    "first_name": "ZZTESTFIRST",
    "birth_date": dt.date(1970, 1, 2),
    "gender": "F",
    "address_line1": "1 ZZTEST ST",
    "city": "SPRINGFIELD",
    "state": "IL",
    "postal_code": "62701",
}


@dataclass
class ClaimRef:
    id: int
    claim_number: str
    pcn: str
    patient_id: int
    lines: list[tuple[int, str, str, Decimal]]  # (line id, line control number, procedure, charge)
    total: Decimal


@dataclass
class Line:
    procedure: str
    charge: Decimal
    paid: Decimal
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    lcn: str | None = None  # REF*6R; None = the payer did not echo it
    service_date: dt.date | None = None


@dataclass
class Pay:
    pcn: str
    lines: list[Line] = field(default_factory=list)
    status: str = "1"
    claim_adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    payer_claim_number: str | None = None
    charge: Decimal | None = None  # default: Σ line charges
    paid: Decimal | None = None  # default: Σ line paid

    def totals(self) -> tuple[Decimal, Decimal]:
        charge = self.charge if self.charge is not None else sum((ln.charge for ln in self.lines), D("0"))
        paid = self.paid if self.paid is not None else sum((ln.paid for ln in self.lines), D("0"))
        return charge, paid


def reversal_of(p: Pay) -> Pay:
    """CLP02=22: the same claim with every amount negated."""
    return Pay(
        pcn=p.pcn,
        status="22",
        payer_claim_number=p.payer_claim_number,
        lines=[
            Line(
                ln.procedure,
                -ln.charge,
                -ln.paid,
                [(g, r, -a) for g, r, a in ln.adjustments],
                ln.lcn,
                ln.service_date,
            )
            for ln in p.lines
        ],
        claim_adjustments=[(g, r, -a) for g, r, a in p.claim_adjustments],
        charge=None if p.charge is None else -p.charge,
        paid=None if p.paid is None else -p.paid,
    )


class Practice:
    """Two payers, one provider, patients with coverages; claims submitted in one outbound file."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.n_claims = 0
        self.n_lines = 0
        with engine.begin() as conn:
            self.payer = self._id(
                conn,
                m.Payer,
                payer_id="SBX01",
                name="ACME COMMERCIAL",
                payer_type="commercial",
                filing_indicator="CI",
                partner="sandbox",
            )
            self.payer2 = self._id(
                conn,
                m.Payer,
                payer_id="SBX05",
                name="STATE MEDICAID",
                payer_type="medicaid",
                filing_indicator="MC",
                partner="sandbox",
            )
            self.provider = self._id(
                conn,
                m.Provider,
                npi="1234567893",
                entity_type="2",
                role="billing",
                last_name="SUNRISE FAMILY MEDICINE",
            )
            self.outbound = self._id(
                conn,
                m.Interchange,
                direction="out",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name="out.x12",
                status="uploaded",
                isa13="000000001",
                transaction_type="837P",
            )
        self.patients: dict[int, int] = {}  # patient id -> primary coverage id

    @staticmethod
    def _id(conn: Connection, model: Any, **values: Any) -> int:
        return int(conn.execute(insert(model).values(**values)).inserted_primary_key[0])

    def patient(self, account: str, *, secondary: bool = False) -> int:
        with self.engine.begin() as conn:
            pid = self._id(conn, m.Patient, account_number=account, **PERSON)
            sub = self._id(conn, m.Subscriber, patient_id=pid, **PERSON)
            cov = self._id(
                conn,
                m.Coverage,
                patient_id=pid,
                subscriber_id=sub,
                payer_id=self.payer,
                member_id="ZZMEMBER01",
                relationship_code="18",
                priority=1,
            )
            if secondary:
                self._id(
                    conn,
                    m.Coverage,
                    patient_id=pid,
                    subscriber_id=sub,
                    payer_id=self.payer2,
                    member_id="ZZMEMBER02",
                    relationship_code="18",
                    priority=2,
                )
        self.patients[pid] = cov
        return pid

    def claim(
        self,
        patient_id: int,
        charges: list[tuple[str, Decimal]],
        *,
        service_date: dt.date = DAY,
        submitted: dt.datetime | None = None,
        pcn: str | None = None,
        status: str = "submitted",
        payer_claim_number: str | None = None,
    ) -> ClaimRef:
        self.n_claims += 1
        number = f"C{self.n_claims:08d}"
        pcn = pcn or f"{number}A1"
        total = sum((c for _, c in charges), D("0"))
        submitted = submitted or dt.datetime.combine(service_date + dt.timedelta(days=1), dt.time(20, 0))
        with self.engine.begin() as conn:
            cid = self._id(
                conn,
                m.Claim,
                claim_number=number,
                claim_type="professional",
                status=status,
                patient_id=patient_id,
                coverage_id=self.patients[patient_id],
                payer_id=self.payer,
                billing_provider_id=self.provider,
                responsibility="P",
                frequency="1",
                place_of_service="11",
                total_charge=total,
                service_date_from=service_date,
                service_date_to=service_date,
                submitted_at=submitted,
                payer_claim_number=payer_claim_number,
            )
            lines = []
            for i, (proc, charge) in enumerate(charges, start=1):
                self.n_lines += 1
                lcn = f"L{self.n_lines:09d}"
                lid = self._id(
                    conn,
                    m.ServiceLine,
                    claim_id=cid,
                    line_number=i,
                    line_control_number=lcn,
                    procedure_code=proc,
                    charge=charge,
                    units=D("1"),
                    service_date=service_date,
                )
                lines.append((lid, lcn, proc, charge))
            self._id(
                conn,
                m.Submission,
                claim_id=cid,
                attempt=1,
                patient_control_number=pcn,
                interchange_id=self.outbound,
                gs06="1",
                st02=f"{self.n_claims:04d}",
                status="submitted",
                created_at=submitted,
            )
        return ClaimRef(cid, number, pcn, patient_id, lines, total)

    def remittance(
        self,
        pays: list[Pay],
        *,
        plb: list[tuple[str, str | None, Decimal]] = (),  # type: ignore[assignment]
        payment_date: dt.date | None = dt.date(2026, 11, 20),
        bpr_offset: Decimal = ZERO,
        trace_number: str | None = "",
        payer_identifier: str = "SBX01",
    ) -> dict[str, Any]:
        """Store one 835 transaction; returns ids {"remittance", "claim_payments": [...], "plb": [...]}.
        ``trace_number``: TRN02 ("" = a fresh random one, None = none); ``payer_identifier``: N1*PR id."""
        if trace_number == "":
            trace_number = uuid.uuid4().hex[:12]
        total_paid = sum((p.totals()[1] for p in pays), D("0"))
        total_plb = sum((a for _, _, a in plb), D("0"))
        out: dict[str, Any] = {"claim_payments": [], "plb": []}
        with self.engine.begin() as conn:
            ic = self._id(
                conn,
                m.Interchange,
                direction="in",
                sha256=uuid.uuid4().hex,
                bytes=1,
                file_name="in.835",
                status="loaded",
                transaction_type="835",
            )
            rid = self._id(
                conn,
                m.Remittance,
                interchange_id=ic,
                st02="0001",
                segment_no=3,
                handling_code="I",
                payment_amount=total_paid - total_plb + bpr_offset,
                credit_debit="C",
                payment_method="ACH",
                payment_date=payment_date,
                trace_number=trace_number,
                payer_identifier=payer_identifier,
                production_date=payment_date,
                balanced=bpr_offset == 0,
            )
            out["remittance"] = rid
            seg = 10
            for p in pays:
                charge, paid = p.totals()
                all_adj = list(p.claim_adjustments) + [a for ln in p.lines for a in ln.adjustments]
                pr = sum((a for g, _, a in all_adj if g == "PR"), D("0"))
                seg += 1
                cp = self._id(
                    conn,
                    m.ClaimPayment,
                    remittance_id=rid,
                    segment_no=seg,
                    patient_control_number=p.pcn,
                    status_code=p.status,
                    charge=charge,
                    paid=paid,
                    patient_responsibility=pr,
                    payer_claim_number=p.payer_claim_number,
                    filing_indicator="12",
                    deductible=sum((a for g, r, a in all_adj if g == "PR" and r == "1"), D("0")),
                    coinsurance=sum((a for g, r, a in all_adj if g == "PR" and r == "2"), D("0")),
                    copay=sum((a for g, r, a in all_adj if g == "PR" and r == "3"), D("0")),
                    contractual=sum((a for g, _, a in all_adj if g == "CO"), D("0")),
                    other_adjustments=sum((a for g, _, a in all_adj if g not in ("CO", "PR")), D("0")),
                )
                out["claim_payments"].append(cp)
                for pos, (g, r, a) in enumerate(p.claim_adjustments, start=1):
                    self._id(
                        conn,
                        m.Adjustment,
                        claim_payment_id=cp,
                        segment_no=seg,
                        position=pos,
                        group_code=g,
                        reason_code=r,
                        amount=a,
                    )
                for ln in p.lines:
                    seg += 1
                    lp = self._id(
                        conn,
                        m.ServiceLinePayment,
                        claim_payment_id=cp,
                        segment_no=seg,
                        procedure_qualifier="HC",
                        procedure_code=ln.procedure,
                        charge=ln.charge,
                        paid=ln.paid,
                        units=D("1"),
                        line_control_number=ln.lcn,
                        service_date=ln.service_date or DAY,
                    )
                    for pos, (g, r, a) in enumerate(ln.adjustments, start=1):
                        self._id(
                            conn,
                            m.Adjustment,
                            claim_payment_id=cp,
                            service_line_payment_id=lp,
                            segment_no=seg,
                            position=pos,
                            group_code=g,
                            reason_code=r,
                            amount=a,
                        )
            for pos, (reason, ref, amount) in enumerate(plb, start=1):
                out["plb"].append(
                    self._id(
                        conn,
                        m.ProviderAdjustment,
                        remittance_id=rid,
                        segment_no=seg + 1,
                        position=pos,
                        provider_identifier="1234567893",
                        reason_code=reason,
                        reference=ref,
                        amount=amount,
                    )
                )
        return out


def standard_pay(
    c: ClaimRef, *, paid_share: Decimal = SHARE, pr: Decimal = PR10, payer_claim_number: str | None = None
) -> Pay:
    """A typical adjudication: each line paid ``paid_share`` of its charge (less PR on line 1),
    contractual CO-45 for the rest, PR-2 coinsurance ``pr`` on the first line. Balanced."""
    lines = []
    for i, (_, lcn, proc, charge) in enumerate(c.lines):
        allowed = (charge * paid_share).quantize(D("0.01"))
        line_pr = pr if i == 0 else D("0")
        adj = [("CO", "45", charge - allowed)]
        if line_pr:
            adj.append(("PR", "2", line_pr))
        lines.append(Line(proc, charge, allowed - line_pr, adj, lcn))
    return Pay(pcn=c.pcn, lines=lines, payer_claim_number=payer_claim_number)


# ------------------------------------------------------------------------------------------------


def ledger(engine: Engine, **where: Any) -> list[tuple[str, str, str, Decimal]]:
    """(txn_key, entry_type, account, amount) rows, filtered by column=value, ordered."""
    stmt = select(
        m.LedgerEntry.txn_key, m.LedgerEntry.entry_type, m.LedgerEntry.account, m.LedgerEntry.amount
    )
    for k, v in where.items():
        stmt = stmt.where(getattr(m.LedgerEntry, k) == v)
    with engine.connect() as conn:
        return sorted(
            tuple(r) for r in conn.execute(stmt.order_by(m.LedgerEntry.txn_key, m.LedgerEntry.account))
        )


def balance(engine: Engine, account: str, **where: Any) -> Decimal:
    return sum((a for _, _, acct, a in ledger(engine, **where) if acct == account), D("0.00"))


def snapshot(engine: Engine, run_date: dt.date) -> dict[str, list[tuple[Any, ...]]]:
    """Every reconciliation output row for ``run_date``, without ids and timestamps."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for model in (m.ClaimBalance, m.PatientBalance, m.AgingBucket, m.Kpi):
            cols = [c for c in model.__table__.c]
            out[model.__tablename__] = sorted(
                (tuple(r) for r in conn.execute(select(*cols).where(model.run_date == run_date))), key=repr
            )
        t = m.BalanceException
        out["balance_exceptions"] = sorted(
            (
                tuple(r)
                for r in conn.execute(
                    select(
                        t.level,
                        t.kind,
                        t.remittance_id,
                        t.claim_payment_id,
                        t.claim_id,
                        t.reference,
                        t.expected,
                        t.found,
                        t.explained,
                        t.explanation,
                    ).where(t.run_date == run_date, t.source == "reconciliation")
                )
            ),
            key=repr,
        )
    return out


def submit_and_pay_seeded(
    engine: Engine, *, payment_date: dt.date, deny_every: int = 9, unpaid_every: int = 5
) -> dict[str, int]:
    """For a database seeded with ``claimflow.sandbox.seed``: submit every ready claim and store one balanced
    remittance per payer — most claims paid with CO-45 and PR, every ``deny_every``-th denied (CO-50),
    every ``unpaid_every``-th left without an answer."""
    with engine.begin() as conn:
        out_ic = int(
            conn.execute(
                insert(m.Interchange).values(
                    direction="out",
                    sha256=uuid.uuid4().hex,
                    bytes=1,
                    file_name="seed.837",
                    status="uploaded",
                    isa13="000000777",
                    transaction_type="837P",
                )
            ).inserted_primary_key[0]
        )
        claims = conn.execute(
            select(m.Claim.id, m.Claim.claim_number, m.Claim.payer_id, m.Claim.service_date_from)
            .where(m.Claim.status == "ready")
            .order_by(m.Claim.id)
        ).all()
        lines = conn.execute(
            select(
                m.ServiceLine.claim_id,
                m.ServiceLine.line_control_number,
                m.ServiceLine.procedure_code,
                m.ServiceLine.revenue_code,
                m.ServiceLine.charge,
            ).order_by(m.ServiceLine.id)
        ).all()
    by_claim: dict[int, list[Any]] = {}
    for ln in lines:
        by_claim.setdefault(ln[0], []).append(ln)
    subs = []
    pays: dict[int, list[Pay]] = {}
    for i, (cid, number, payer, svc) in enumerate(claims):
        pcn = f"{number}A1"
        subs.append(
            {
                "claim_id": cid,
                "attempt": 1,
                "patient_control_number": pcn,
                "interchange_id": out_ic,
                "gs06": "77",
                "st02": f"{i:04d}",
                "status": "accepted",
                "created_at": dt.datetime.combine(svc + dt.timedelta(days=1), dt.time(21)),
            }
        )
        if i % unpaid_every == 0 or svc >= payment_date:  # unanswered, or (flawed) service in the future
            continue
        plines = []
        for j, (_, lcn, proc, rev, charge) in enumerate(by_claim[cid]):
            if i % deny_every == 0:
                plines.append(Line(proc or rev, charge, D("0.00"), [("CO", "50", charge)], lcn))
                continue
            allowed = (charge * D("0.72")).quantize(D("0.01"))
            pr = min(allowed, D("15.00")) if j == 0 else D("0.00")
            adj = [("CO", "45", charge - allowed)] + ([("PR", "3", pr)] if pr else [])
            plines.append(Line(proc or rev, charge, allowed - pr, adj, lcn))
        pays.setdefault(payer, []).append(
            Pay(pcn=pcn, status="4" if i % deny_every == 0 else "1", lines=plines)
        )
    with engine.begin() as conn:
        conn.execute(insert(m.Submission), subs)
        conn.execute(m.Claim.__table__.update().where(m.Claim.status == "ready").values(status="accepted"))
    helper = Practice.__new__(Practice)
    helper.engine = engine
    for batch in pays.values():
        helper.remittance(batch, payment_date=payment_date)
    return {"claims": len(claims), "remitted": sum(len(b) for b in pays.values())}
