"""A claim's whole story in time order: what we did, what came back, what the money did.

:func:`claim_story` gathers, for one claim, every row that speaks about it and turns each into an event
``{"at", "kind", "summary", …}``:

=====================  =====================================================================================
kind                   source
=====================  =====================================================================================
created                the claim row
scrubbed               scrub_results (rule names; the finding text stays in the table)
submitted, corrected,  submissions: each 837 attempt (file, ISA13/GS06/ST02, CLM05-3 frequency 1/7/8; a
voided,                claim billed to a secondary payer is ``secondary_submitted``)
secondary_submitted
acknowledged,          TA1 and 999 answers to the attempt's interchange / group / transaction set (accepted
rejected               or not), and 277CA claim statuses (A1/A2/A5 ``accepted``, A3/A4/A6-A8 ``rejected``)
accepted
paid, denied,          835 claim payments (CLP02, amounts, CAS in words — adjudication.carc category and, with
reversed               a licensed code file, eob.codes descriptions — and RARCs)
posted                 ledger transactions (chg:, pay:, co:, oa:, pr:, rev:, plb:, …)
patient_payment        ledger ppay:/pcr: applications to this claim
write_off              ledger wo: transactions
work_item              work_item_events of the claim's work items
appealed               appeals: an appeal letter written (``claimflow claim appeal``; categories, CARCs, file)
=====================  =====================================================================================

Events are ordered by their day, then by the order things happen in a claim's life (scrub, send,
acknowledge, adjudicate, post, pay, work), then by time and id — 835s and ledger postings carry dates,
not times, and a posting and its 835 fall on the same day.

The claim part names the patient by account number (MRN) and ``patient_key`` only: no names, dates of
birth, member ids or addresses. The 999 bad values and scrub finding texts are not shown (they may
quote element values).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from eob.codes import CLAIM_STATUS, carc_description, rarc_description

from ._sql import Sql
from .carc import category as carc_category
from .errors import AdjudicationError

KINDS: tuple[str, ...] = (
    "created",
    "scrubbed",
    "submitted",
    "corrected",
    "voided",
    "secondary_submitted",
    "acknowledged",
    "accepted",
    "rejected",
    "reversed",
    "paid",
    "denied",
    "posted",
    "patient_payment",
    "write_off",
    "work_item",
    "appealed",
)
_RANK = {k: i for i, k in enumerate(KINDS)}
_GROUPS = {
    "CO": "contractual obligation",
    "PR": "patient responsibility",
    "OA": "other adjustment",
    "PI": "payer initiated reduction",
    "CR": "correction and reversal",
}
_ACCEPT_277 = ("A1", "A2", "A5")
_REJECT_277 = ("A3", "A4", "A6", "A7", "A8")


class ClaimNotFound(AdjudicationError):
    """No claim (or more than one) answers to the number given."""


@dataclass
class ClaimStory:
    claim: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "events": self.events}


def _money(v: Decimal) -> str:
    return f"${v:,.2f}"


def _day_time(at: dt.date | dt.datetime) -> tuple[dt.date, dt.time]:
    if isinstance(at, dt.datetime):
        return at.date(), at.time()
    return at, dt.time(0)


def _iso(at: dt.date | dt.datetime) -> str:
    return at.isoformat(sep=" ", timespec="seconds") if isinstance(at, dt.datetime) else at.isoformat()


def find_claim(q: Sql, ref: str) -> int:
    """Our claim number, a patient control number we sent (CLM01), or the payer's claim number."""
    ref = ref.strip()
    for sql in (
        "SELECT id FROM claims WHERE claim_number = :r",
        "SELECT DISTINCT claim_id FROM submissions WHERE patient_control_number = :r",
        "SELECT id FROM claims WHERE payer_claim_number = :r",
        "SELECT DISTINCT claim_id FROM claim_payments WHERE payer_claim_number = :r AND claim_id IS NOT NULL",
    ):
        ids = [int(r[0]) for r in q.run(sql, {"r": ref})]
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            raise ClaimNotFound(f"{len(ids)} claims answer to {ref!r}; use our claim number")
    raise ClaimNotFound(f"no claim answers to {ref!r} (claim number, CLM01 or payer claim number)")


def claim_story(engine: Engine, ref: str) -> ClaimStory:
    """The claim that answers to ``ref`` (see :func:`find_claim`) and its events in time order."""
    with engine.connect() as conn:
        q = Sql(conn)
        cid = find_claim(q, ref)
        story = ClaimStory(_claim(q, cid))
        raw: list[tuple[dt.date | dt.datetime, str, int, dict[str, Any]]] = []
        for collect in (
            _created,
            _scrubs,
            _submissions,
            _acks,
            _statuses,
            _payments,
            _ledger,
            _work_items,
            _appeals,
        ):
            raw.extend(collect(q, cid, story.claim))
    # A claim exists before anything happens to it (rows loaded later than their history keep it first).
    first = min((e[0] for e in raw if e[1] != "created"), default=None, key=_day_time)
    if first is not None:
        raw = [(min(e[0], first, key=_day_time), *e[1:]) if e[1] == "created" else e for e in raw]

    def key(e: tuple[dt.date | dt.datetime, str, int, dict[str, Any]]) -> tuple[Any, ...]:
        day, time = _day_time(e[0])
        return (day, _RANK.get(e[1], 99), time, e[2])

    for at, kind, _, event in sorted(raw, key=key):
        story.events.append({"at": _iso(at), "kind": kind, **event})
    return story


# --------------------------------------------------------------------------------------------------


def _claim(q: Sql, cid: int) -> dict[str, Any]:
    r = q.run(
        """SELECT c.id, c.claim_number, c.claim_type, c.status, c.frequency, c.responsibility,
                        c.primary_claim_id, c.total_charge, c.service_date_from, c.service_date_to,
                        c.payer_claim_number, c.place_of_service, c.bill_type, c.created_at, c.submitted_at,
                        py.payer_id, py.name, py.payer_type, pt.account_number, pk.patient_key, c.patient_id
                 FROM claims c JOIN payers py ON py.id = c.payer_id JOIN patients pt ON pt.id = c.patient_id
                 LEFT JOIN patient_keys pk ON pk.patient_id = c.patient_id WHERE c.id = :id""",
        {"id": cid},
    ).one()
    lines = q.run(
        """SELECT line_number, procedure_code, modifiers, revenue_code, charge, units, service_date,
                            line_control_number FROM service_lines WHERE claim_id = :id ORDER BY line_number""",
        {"id": cid},
    ).all()
    bal = q.run(
        """SELECT run_date, insurance_balance, patient_balance, secondary_due FROM claim_balances
                   WHERE claim_id = :id ORDER BY run_date DESC LIMIT 1""",
        {"id": cid},
    ).first()
    return {
        "id": r[0],
        "claim_number": r[1],
        "claim_type": r[2],
        "status": r[3],
        "frequency": r[4],
        "responsibility": r[5],
        "primary_claim_id": r[6],
        "total_charge": f"{q.money(r[7]):.2f}",
        "service_date_from": _iso(q.date(r[8]) or dt.date.min),
        "service_date_to": _iso(q.date(r[9]) or dt.date.min),
        "payer_claim_number": r[10],
        "place_of_service": r[11],
        "bill_type": r[12],
        "payer": {"code": r[15], "name": r[16], "type": r[17]},
        "patient": {"account_number": r[18], "patient_key": r[19]},
        "lines": [
            {
                "line": ln[0],
                "procedure": ln[1],
                "modifiers": ln[2],
                "revenue_code": ln[3],
                "charge": f"{q.money(ln[4]):.2f}",
                "units": str(ln[5]),
                "service_date": _iso(q.date(ln[6]) or dt.date.min),
                "line_control_number": ln[7],
            }
            for ln in lines
        ],
        "balance": None
        if bal is None
        else {
            "as_of": _iso(q.date(bal[0]) or dt.date.min),
            "insurance_balance": f"{q.money(bal[1]):.2f}",
            "patient_balance": f"{q.money(bal[2]):.2f}",
            "secondary_due": bool(bal[3]),
        },
        "_created_at": r[13],
        "_patient_id": r[20],
    }


def _ts(q: Sql, v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v)[:26])


Raw = list[tuple[dt.date | dt.datetime, str, int, dict[str, Any]]]


def _created(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    at = _ts(q, claim.pop("_created_at"))
    claim.pop("_patient_id")
    return [
        (
            at,
            "created",
            0,
            {
                "summary": f"claim {claim['claim_number']} created, charge "
                f"{_money(Decimal(claim['total_charge']))}"
            },
        )
    ]


def _scrubs(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        "SELECT id, rule, resolved, created_at, run_id FROM scrub_results WHERE claim_id = :id", {"id": cid}
    ).all()
    return [
        (
            _ts(q, r[3]),
            "scrubbed",
            r[0],
            {
                "summary": f"held by scrub rule {r[1]}" + (" (resolved)" if r[2] else ""),
                "rule": r[1],
                "resolved": bool(r[2]),
            },
        )
        for r in rows
    ]


def _submissions(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT s.id, s.attempt, s.patient_control_number, s.frequency, s.status, s.created_at,
                           s.gs06, s.st02, i.file_name, i.isa13, i.transaction_type
                    FROM submissions s JOIN interchanges i ON i.id = s.interchange_id WHERE s.claim_id = :id""",
        {"id": cid},
    ).all()
    out: Raw = []
    for r in rows:
        freq = r[3] or "1"
        kind = {"7": "corrected", "8": "voided"}.get(freq, "submitted")
        if kind == "submitted" and claim["responsibility"] != "P":
            kind = "secondary_submitted"
        what = {
            "submitted": "sent",
            "corrected": "corrected claim (frequency 7) sent",
            "voided": "void (frequency 8) sent",
            "secondary_submitted": "sent to the secondary payer",
        }[kind]
        out.append(
            (
                _ts(q, r[5]),
                kind,
                r[0],
                {
                    "summary": f"837 attempt {r[1]} {what} in {r[8]} (ISA13 {r[9]}, GS06 {r[6]}, ST02 {r[7]}, CLM01 {r[2]})",
                    "attempt": r[1],
                    "file": r[8],
                    "isa13": r[9],
                    "gs06": r[6],
                    "st02": r[7],
                    "patient_control_number": r[2],
                    "frequency": freq,
                    "transaction": r[10],
                    "submission_status": r[4],
                },
            )
        )
    return out


def _acks(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT DISTINCT a.id, a.kind, a.code, a.accepted, a.note_code, a.error_count, ai.created_at,
                           ai.file_name, s.attempt
                    FROM submissions s JOIN interchanges i ON i.id = s.interchange_id
                    JOIN acknowledgments a ON (a.kind = '999_set' AND a.acked_gs06 = s.gs06 AND a.acked_st02 = s.st02
                                               AND (a.matched_interchange_id IS NULL
                                                    OR a.matched_interchange_id = s.interchange_id))
                                           OR (a.kind = '999_group' AND a.acked_gs06 = s.gs06
                                               AND (a.matched_interchange_id IS NULL
                                                    OR a.matched_interchange_id = s.interchange_id))
                                           OR (a.kind = 'TA1' AND a.acked_isa13 = i.isa13)
                    JOIN interchanges ai ON ai.id = a.interchange_id
                    WHERE s.claim_id = :id""",
        {"id": cid},
    ).all()
    out: Raw = []
    for r in rows:
        label = {"999_set": "999 (transaction set)", "999_group": "999 (functional group)"}.get(r[1], "TA1")
        errors = q.run(
            """SELECT level, segment_id, element_position, error_code FROM acknowledgment_errors
                          WHERE acknowledgment_id = :a ORDER BY id""",
            {"a": r[0]},
        ).all()
        verdict = "accepted" if r[3] else "rejected"
        out.append(
            (
                _ts(q, r[6]),
                "acknowledged" if r[3] else "rejected",
                r[0],
                {
                    "summary": f"{label} {verdict} attempt {r[8]} (code {r[2]}"
                    + (f", note {r[4]}" if r[4] else "")
                    + (f", {len(errors)} error(s)" if errors else "")
                    + f") in {r[7]}",
                    "source": r[1],
                    "code": r[2],
                    "file": r[7],
                    "errors": [
                        {"level": e[0], "segment": e[1], "element": e[2], "error_code": e[3]} for e in errors
                    ],
                },
            )
        )
    return out


_X212_WORDS = {"F": "claim status: finalized", "P": "claim status: pended", "D": "claim status: not found"}
"""277 claim status response (005010X212) categories by first letter (F0-F5, P0-P5, D0)."""


def _statuses(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT DISTINCT cs.id, cs.category, cs.status_code, cs.entity_code, cs.accepted, cs.status_date,
                           cs.payer_claim_number, i.created_at, i.file_name
                    FROM claim_statuses cs JOIN interchanges i ON i.id = cs.interchange_id
                    WHERE cs.level = 'claim' AND (cs.claim_id = :id OR cs.patient_control_number IN
                          (SELECT patient_control_number FROM submissions WHERE claim_id = :id))""",
        {"id": cid},
    ).all()
    out: Raw = []
    for r in rows:
        accepted = None if r[4] is None else bool(r[4])
        if r[1] in _ACCEPT_277 or accepted is True:
            kind = "accepted"
        elif r[1] in _REJECT_277 or accepted is False:
            kind = "rejected"
        else:
            kind = "acknowledged"
        at = q.date(r[5]) or _ts(q, r[7])
        words = {
            "accepted": "accepted by the payer",
            "rejected": "rejected by the payer",
            "acknowledged": "status from the payer",
        }[kind]
        source = "277CA"
        if kind == "acknowledged" and r[1][:1] in _X212_WORDS:  # a 277 (005010X212) answering our 276
            source, words = "277", _X212_WORDS[r[1][:1]]
        out.append(
            (
                at,
                kind,
                r[0],
                {
                    "summary": f"{source} {words} (STC {r[1]}:{r[2] or ''}"
                    + (f":{r[3]}" if r[3] else "")
                    + ")"
                    + (f", payer claim number {r[6]}" if r[6] else ""),
                    "source": source,
                    "category": r[1],
                    "status_code": r[2],
                    "file": r[8],
                    "payer_claim_number": r[6],
                },
            )
        )
    return out


def _carc_words(group: str, code: str) -> str:
    text = carc_description(code)
    cat = carc_category(code).replace("_", " ")
    return f"{group}-{code} ({_GROUPS.get(group, group)}; {text or cat})"


def _payments(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT cp.id, cp.status_code, cp.charge, cp.paid, cp.patient_responsibility, cp.payer_claim_number,
                           cp.reversal_of_id, cp.correction_of_id, r.payment_date, r.production_date, r.trace_number,
                           i.created_at, i.file_name, cp.contractual, cp.other_adjustments
                    FROM claim_payments cp JOIN remittances r ON r.id = cp.remittance_id
                    JOIN interchanges i ON i.id = r.interchange_id WHERE cp.claim_id = :id""",
        {"id": cid},
    ).all()
    out: Raw = []
    for r in rows:
        adj = q.run(
            """SELECT a.group_code, a.reason_code, a.amount, sl.line_number FROM adjustments a
                       LEFT JOIN service_line_payments slp ON slp.id = a.service_line_payment_id
                       LEFT JOIN service_lines sl ON sl.id = slp.service_line_id
                       WHERE a.claim_payment_id = :cp ORDER BY a.segment_no, a.position""",
            {"cp": r[0]},
        ).all()
        rarcs = (
            q.run(
                "SELECT code FROM remark_codes WHERE claim_payment_id = :cp ORDER BY segment_no, position",
                {"cp": r[0]},
            )
            .scalars()
            .all()
        )
        paid, charge = q.money(r[3]), q.money(r[2])
        denial_codes = [
            a
            for a in adj
            if a[0] != "PR"
            and carc_category(a[1]) not in ("contractual", "patient_responsibility", "prior_payer")
        ]
        if r[1] == "22":
            kind = "reversed"
        elif r[1] == "4" or (paid == 0 and denial_codes):
            kind = "denied"
        else:
            kind = "paid"
        adjustments = [
            {
                "group": a[0],
                "code": a[1],
                "amount": f"{q.money(a[2]):.2f}",
                "line": a[3],
                "category": carc_category(a[1]),
                "words": _carc_words(a[0], a[1]),
            }
            for a in adj
        ]
        remarks = [
            {"code": c, "words": rarc_description(c) or "remark code (description needs the RARC file)"}
            for c in rarcs
        ]
        status_words = CLAIM_STATUS.get(r[1], f"CLP02 {r[1]}")
        if kind == "reversed":
            summary = f"payer reversed its earlier payment of {_money(-paid)} ({status_words})"
        elif kind == "denied":
            summary = f"denied: {status_words}, paid {_money(paid)} of {_money(charge)}"
        else:
            summary = f"paid {_money(paid)} of {_money(charge)} ({status_words})"
        if adjustments:
            summary += "; " + ", ".join(f"{a['words']} {_money(Decimal(a['amount']))}" for a in adjustments)
        if rarcs:
            summary += "; remarks " + ", ".join(rarcs)
        at = q.date(r[8]) or q.date(r[9]) or _ts(q, r[11])
        out.append(
            (
                at,
                kind,
                r[0],
                {
                    "summary": summary,
                    "claim_payment_id": r[0],
                    "clp02": r[1],
                    "charge": f"{charge:.2f}",
                    "paid": f"{paid:.2f}",
                    "patient_responsibility": f"{q.money(r[4]):.2f}",
                    "payer_claim_number": r[5],
                    "reversal_of": r[6],
                    "correction_of": r[7],
                    "trace_number": r[10],
                    "file": r[12],
                    "adjustments": adjustments,
                    "remarks": remarks,
                },
            )
        )
    return out


def _ledger(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT txn_key, entry_type, account, amount, effective_date, id FROM ledger_entries
                    WHERE claim_id = :id ORDER BY id""",
        {"id": cid},
    ).all()
    txns: dict[str, list[Any]] = {}
    for r in rows:
        txns.setdefault(r[0], []).append(r)
    out: Raw = []
    for key, entries in txns.items():
        first = entries[0]
        at = q.date(first[4]) or dt.date.min
        moves = ", ".join(
            f"{e[2]} {'+' if q.money(e[3]) >= 0 else '−'}{_money(abs(q.money(e[3])))}" for e in entries
        )
        if key.startswith(("ppay:", "pcr:")):
            kind = "patient_payment"
            applied = -sum((q.money(e[3]) for e in entries if e[2] == "ar_patient"), Decimal("0"))
            summary = f"patient payment of {_money(applied)} applied ({key})"
        elif key.startswith("wo:"):
            kind = "write_off"
            amount = sum((q.money(e[3]) for e in entries if e[2] == "write_off"), Decimal("0"))
            summary = f"{key.split(':')[2]} balance of {_money(amount)} written off ({key})"
        else:
            kind = "posted"
            summary = f"ledger {key}: {moves}"
        out.append(
            (
                at,
                kind,
                int(first[5]),
                {
                    "summary": summary,
                    "txn_key": key,
                    "entry_type": first[1],
                    "entries": [{"account": e[2], "amount": f"{q.money(e[3]):.2f}"} for e in entries],
                },
            )
        )
    return out


def _work_items(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT e.id, e.at, e.actor, e.kind, w.id, w.queue, w.reason, w.amount, w.next_action, w.status
                    FROM work_item_events e JOIN work_items w ON w.id = e.work_item_id
                    WHERE w.claim_id = :id""",
        {"id": cid},
    ).all()
    return [
        (
            _ts(q, r[1]),
            "work_item",
            r[0],
            {
                "summary": f"work item {r[4]} ({r[5]}) {r[3]} by {r[2]}: {r[6]}, {_money(q.money(r[7]))}, next: {r[8]}",
                "work_item_id": r[4],
                "queue": r[5],
                "event": r[3],
                "actor": r[2],
                "item_status": r[9],
            },
        )
        for r in rows
    ]


def _appeals(q: Sql, cid: int, claim: dict[str, Any]) -> Raw:
    rows = q.run(
        """SELECT id, sequence, categories, reason_codes, amount, file_name, created_by, created_at
                    FROM appeals WHERE claim_id = :id""",
        {"id": cid},
    ).all()
    return [
        (
            _ts(q, r[7]),
            "appealed",
            r[0],
            {
                "summary": f"appeal {r[1]} written by {r[6]} ({r[2].replace('_', ' ')}: {r[3]}, "
                f"{_money(q.money(r[4]))}) in {r[5]}",
                "appeal": r[1],
                "categories": r[2].split(","),
                "reason_codes": r[3].split(","),
                "amount": f"{q.money(r[4]):.2f}",
                "file": r[5],
                "actor": r[6],
            },
        )
        for r in rows
    ]


def render_text(story: ClaimStory) -> list[str]:
    """Lines for a terminal: a header and one line per event."""
    c = story.claim
    head = [
        f"claim {c['claim_number']} ({c['claim_type']}, frequency {c['frequency']}) — status {c['status']}",
        f"payer {c['payer']['code']} {c['payer']['name']}; patient account {c['patient']['account_number']}; "
        f"service {c['service_date_from']}..{c['service_date_to']}; charge ${Decimal(c['total_charge']):,.2f}"
        + (f"; payer claim number {c['payer_claim_number']}" if c["payer_claim_number"] else ""),
    ]
    if c["balance"]:
        b = c["balance"]
        head.append(
            f"balances as of {b['as_of']}: insurance ${Decimal(b['insurance_balance']):,.2f}, "
            f"patient ${Decimal(b['patient_balance']):,.2f}"
            + ("; secondary due" if b["secondary_due"] else "")
        )
    width = max((len(e["at"]) for e in story.events), default=10)
    return head + [""] + [f"{e['at']:<{width}}  {e['kind']:<19} {e['summary']}" for e in story.events]
