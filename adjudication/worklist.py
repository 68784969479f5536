"""Work queues: every open problem on a claim becomes exactly one work item — set-based.

:func:`build_worklist` runs nightly (after reconciliation, so ``claim_balances`` is tonight's snapshot)
and, in one transaction, with ``INSERT … SELECT`` / ``UPDATE`` statements that SQLite and PostgreSQL both
run (no per-row ORM work):

1. **Collects tonight's problems** into a temporary table ``cf_wi_src`` (one row per queue, claim and
   reason key) from the sources below.
2. **Matches** them to existing ``work_items`` by their identity ``(queue, claim_id, reason_key)`` (a
   unique index): a problem seen before updates its item (amount, reason, priority, deadline; an
   ``updated`` event only when something changed), a problem that was resolved and came back reopens
   its item (``reopened``), a new problem inserts one (``opened``).
3. **Closes** every open item whose problem is gone (``closed``, resolution ``resolved``). Items a person
   closed (``claimflow worklist close``, resolution ``closed``) are never reopened by the build.

Queues and their sources (reason key in brackets)::

    scrub_holds      claims in scrub_failed with unresolved scrub_results           [scrub]
    rejections       latest submission rejected by TA1, 999 (set or group), 277CA   [attempt:<n>]
    denials          denial CAS (not PR, not contractual/prior payer; adjudication.carc) on the claim's
                     current adjudication, claim and line level, per group and category
                                                                                     [denial:<group>:<category>]
    underpayments    a line allowed below the fee schedule (fee_schedule, per unit) or below the payer's
                     rate for the procedure and units (the allowed amount on more than half, and at
                     least three, of the payer's paid lines)
                                                                                     [line:<service line id>]
    no_response      no 277CA N days after sending; accepted but no 835 M days after [no_277ca] [no_835]
    secondary_due    claim_balances.secondary_due                                   [secondary]
    credit_balances  negative insurance or patient balance in claim_balances        [insurance_credit]
                                                                                     [patient_credit]
    authorizations   a prior authorization that ends within ``auth_expiring_days`` with units left, or
                     has no units left while claims of its patient and payer are held for it
                     (prior_auth_exhausted); on the latest claim that used it (claimflow.inquiries.authorizations)
                                                                                     [auth:<id>:expiring]
                                                                                     [auth:<id>:exhausted]

The claim's *current adjudication* is its latest posted claim payment that is neither a reversal
(CLP02=22) nor reversed: a correction or an appeal's new payment replaces the old decision, so denials
that the new payment no longer carries close by themselves.

Each item carries the payer, reason codes (CARC as ``CO-50``, RARC, ``277CA A7:21``, ``999 IK5 R``,
scrub rules), a plain-language reason without PHI or raw element values, the dollars at stake, a
suggested next action (``correct_and_resubmit``, ``appeal``, ``bill_secondary``, ``ask_status``,
``refund``, … — ``void``, ``bill_patient`` and ``write_off`` are reserved for the workflows that follow),
the timely-filing deadline (date of service + the payer's limit: ``payer_rules.timely_filing_days``, else
the configured default for the payer type; for credit balances, first seen + ``refund_days``) and a
priority from dollars and deadline (1 most urgent: due within 14 days or $1,000+; 2: 30 days or $250+;
3: 60 days or $50+; else 4).

Every change is a ``work_item_events`` row; each build writes one audit row with its counts, and each
action of a person (:func:`assign`, :func:`add_note`, :func:`close_item`) one audit row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from claimflow.db.audit import audit
from claimflow.db.models import ClaimStatus as S
from claimflow.db.models import WorkItemResolution
from claimflow.db.models import WorkItemStatus as W

from ._sql import Sql, bind
from .carc import category_sql, non_denial_codes_sql
from .errors import AdjudicationError

BUILT_QUEUES: tuple[str, ...] = (
    "scrub_holds",
    "rejections",
    "denials",
    "underpayments",
    "no_response",
    "secondary_due",
    "credit_balances",
    "authorizations",
)
#: Queues filled by other workflows (adjudication.statements: collections hand-offs, refunds due); the
#: nightly build never closes their items.
QUEUES: tuple[str, ...] = (*BUILT_QUEUES, "collections", "refunds")
_BUILT_SQL = "(" + ", ".join(f"'{b}'" for b in BUILT_QUEUES) + ")"

#: Suggested next actions; the last four are for the workflows that attach later (corrected/void claims,
#: secondary 837s, patient statements, write-offs).
NEXT_ACTIONS: tuple[str, ...] = (
    "correct_and_resubmit",
    "appeal",
    "bill_secondary",
    "ask_status",
    "refund",
    "void",
    "bill_patient",
    "write_off",
    "request_authorization",
)

#: Next action per denial category (adjudication.carc); anything else: ask_status.
DENIAL_ACTIONS: dict[str, str] = {
    "eligibility": "correct_and_resubmit",
    "coordination_of_benefits": "correct_and_resubmit",
    "coding": "correct_and_resubmit",
    "missing_information": "correct_and_resubmit",
    "bundling": "correct_and_resubmit",
    "authorization": "appeal",
    "medical_necessity": "appeal",
    "non_covered": "appeal",
    "timely_filing": "appeal",
    "duplicate": "ask_status",
}

#: Paid lines at one allowed amount before it counts as the payer's rate for a procedure.
RATE_MIN_LINES = 3

RESOLVED = WorkItemResolution.RESOLVED  # closed by the nightly build: the problem is gone
CLOSED_BY_PERSON = WorkItemResolution.CLOSED


class WorkItemError(AdjudicationError):
    """A work-item action that cannot be done (unknown item, closed item, empty name or text)."""


@dataclass(frozen=True)
class WorklistConfig:
    """Limits of the nightly build (the app fills it from settings; see ``claimflow.cli.worklist``)."""

    filing_days: dict[str, int] = field(
        default_factory=lambda: {"commercial": 90, "medicaid": 180, "medicare": 365}
    )
    default_filing_days: int = 90
    no_277ca_days: int = 14
    no_835_days: int = 45
    refund_days: int = 60
    auth_expiring_days: int = 14


# --------------------------------------------------------------------------------------------------
# nightly build
# --------------------------------------------------------------------------------------------------


def build_worklist(
    engine: Engine,
    run_date: dt.date,
    *,
    config: WorklistConfig | None = None,
    actor: str = "claimflow:worklist",
) -> dict[str, Any]:
    """Build tonight's work items (see the module docstring). Idempotent for a run date: a second run
    changes nothing. Returns counts: ``opened, updated, reopened, closed, open`` and ``queues``
    (``{queue: {"items": n, "amount": "0.00"}}`` for open items; money as strings)."""
    cfg = config or WorklistConfig()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        q = Sql(conn)
        if q.pg:
            q.run("SELECT pg_advisory_xact_lock(hashtext('claimflow.worklist'))")
        q.analyze_if_stale("work_items", "claim_payments", "adjustments", "service_line_payments")
        _collect(q, run_date, cfg)
        counts = _apply(q, run_date, now, actor, cfg)
        summary = {**counts, **_open_summary(q)}
        summary["run_date"] = run_date.isoformat()
        audit(
            conn,
            actor=actor,
            action="build_worklist",
            object_type="worklist",
            object_id=run_date.isoformat(),
            detail={k: summary[k] for k in ("opened", "updated", "reopened", "closed", "open")},
        )
        q.drop(
            "cf_wi_src",
            "cf_wi_codes",
            "cf_wi_new",
            "cf_wi_cur",
            "cf_wi_den",
            "cf_wi_allowed",
            "cf_wi_rates",
            "cf_wi_rate",
            "cf_wi_lines",
            "cf_wi_auth",
        )
    return summary


def _money_type(q: Sql) -> str:
    return "BIGINT" if q.sqlite else "NUMERIC(14,2)"


def _add_days(q: Sql, date_expr: str, days_expr: str) -> str:
    if q.sqlite:
        return f"date({date_expr}, '+' || CAST({days_expr} AS TEXT) || ' days')"
    return f"(CAST({date_expr} AS DATE) + CAST({days_expr} AS INTEGER))"


def _money_text(q: Sql, expr: str) -> str:
    """A money expression as text with two decimals (for event details; exact, no float)."""
    if q.sqlite:
        return (
            f"(CASE WHEN {expr} < 0 THEN '-' ELSE '' END || CAST(abs({expr}) / 100 AS TEXT) || '.' || "
            f"substr('0' || CAST(abs({expr}) % 100 AS TEXT), -2))"
        )
    return f"CAST({expr} AS TEXT)"


def _agg_sql(q: Sql, inner_from: str) -> str:
    """Comma-separated distinct sorted ``code`` values of ``SELECT code FROM <inner_from>``."""
    if q.pg:
        return f"(SELECT string_agg(DISTINCT x.code, ',' ORDER BY x.code) FROM {inner_from})"
    return f"(SELECT group_concat(y.code) FROM (SELECT DISTINCT x.code AS code FROM {inner_from} ORDER BY x.code) y)"


def _collect(q: Sql, d: dt.date, cfg: WorklistConfig) -> None:
    money = _money_type(q)
    q.drop("cf_wi_src", "cf_wi_codes")
    q.run(f"""CREATE TEMPORARY TABLE cf_wi_src (queue VARCHAR(30), claim_id INTEGER, reason_key VARCHAR(120),
              payer_id INTEGER, reason TEXT, amount {money}, next_action VARCHAR(30), due_base DATE,
              refund_due INTEGER)""")
    q.run(
        "CREATE TEMPORARY TABLE cf_wi_codes (queue VARCHAR(30), claim_id INTEGER, reason_key VARCHAR(120), "
        "code VARCHAR(60))"
    )
    p: dict[str, Any] = {"d": d, "zero": Decimal("0")}
    cols = "queue, claim_id, reason_key, payer_id, reason, amount, next_action, due_base, refund_due"

    # ---- scrub holds -------------------------------------------------------------------------------
    q.run(f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'scrub_holds', c.id, 'scrub', c.payer_id,
               'Held by the scrubber before sending: fix the claim and release it', c.total_charge,
               'correct_and_resubmit', c.service_date_from, 0
        FROM claims c WHERE c.status = {bind(S.SCRUB_FAILED)}
          AND EXISTS (SELECT 1 FROM scrub_results sr WHERE sr.claim_id = c.id AND sr.resolved = false)""")
    q.run("""INSERT INTO cf_wi_codes SELECT DISTINCT 'scrub_holds', sr.claim_id, 'scrub', sr.rule
        FROM scrub_results sr JOIN cf_wi_src s ON s.claim_id = sr.claim_id AND s.queue = 'scrub_holds'
        WHERE sr.resolved = false""")

    # ---- rejections (latest attempt rejected: TA1, 999 set/group, 277CA) -------------------------
    latest = "s.attempt = (SELECT MAX(s2.attempt) FROM submissions s2 WHERE s2.claim_id = c.id)"
    q.run(f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'rejections', c.id, 'attempt:' || CAST(s.attempt AS TEXT), c.payer_id,
               CASE WHEN EXISTS (SELECT 1 FROM claim_statuses cs WHERE cs.level = 'claim'
                                 AND cs.patient_control_number = s.patient_control_number AND cs.accepted = false)
                    THEN 'Rejected by the payer''s front end (277CA): correct the claim and send it again'
                    ELSE 'Rejected by the clearinghouse (999/TA1): correct the claim and send it again' END,
               c.total_charge, 'correct_and_resubmit', c.service_date_from, 0
        FROM claims c JOIN submissions s ON s.claim_id = c.id AND {latest}
        WHERE c.status = {bind(S.REJECTED)} AND s.status = 'rejected'""")
    rej = (
        "FROM cf_wi_src w JOIN submissions s ON s.claim_id = w.claim_id "
        "AND w.reason_key = 'attempt:' || CAST(s.attempt AS TEXT) "
    )
    q.run(f"""INSERT INTO cf_wi_codes SELECT DISTINCT 'rejections', w.claim_id, w.reason_key,
               '277CA ' || cs.category || COALESCE(':' || cs.status_code, '')
        {rej} JOIN claim_statuses cs ON cs.level = 'claim' AND cs.patient_control_number = s.patient_control_number
              AND cs.accepted = false
        WHERE w.queue = 'rejections'""")
    ack_match = (
        "((a.kind = '999_set' AND a.acked_gs06 = s.gs06 AND a.acked_st02 = s.st02) "
        "OR (a.kind = '999_group' AND a.acked_gs06 = s.gs06) "
        "OR (a.kind = 'TA1' AND a.acked_isa13 = i.isa13)) "
        "AND (a.matched_interchange_id IS NULL OR a.matched_interchange_id = s.interchange_id "
        "OR a.kind = 'TA1') AND a.accepted = false"
    )
    q.run(f"""INSERT INTO cf_wi_codes SELECT DISTINCT 'rejections', w.claim_id, w.reason_key,
               CASE a.kind WHEN '999_set' THEN '999 IK5 ' WHEN '999_group' THEN '999 AK9 ' ELSE 'TA1 ' END
               || a.code || COALESCE('-' || a.note_code, '')
        {rej} JOIN interchanges i ON i.id = s.interchange_id JOIN acknowledgments a ON {ack_match}
        WHERE w.queue = 'rejections'""")
    q.run(f"""INSERT INTO cf_wi_codes SELECT DISTINCT 'rejections', w.claim_id, w.reason_key,
               e.level || COALESCE(' ' || e.segment_id, '') || COALESCE(' ' || e.element_position, '')
               || COALESCE(' error ' || e.error_code, '')
        {rej} JOIN interchanges i ON i.id = s.interchange_id JOIN acknowledgments a ON {ack_match}
        JOIN acknowledgment_errors e ON e.acknowledgment_id = a.id
             AND (e.patient_control_number IS NULL OR e.patient_control_number = s.patient_control_number)
        WHERE w.queue = 'rejections'""")

    # ---- the current adjudication of each claim ----------------------------------------------------
    q.temp_table(
        "cf_wi_cur",
        f"""SELECT cp.claim_id AS claim_id, MAX(cp.id) AS cp_id FROM claim_payments cp
        JOIN claims c ON c.id = cp.claim_id
        WHERE cp.posted_at IS NOT NULL AND cp.status_code NOT IN ('22', '23', '25')
          AND c.status <> {bind(S.CLOSED)}
          AND NOT EXISTS (SELECT 1 FROM claim_payments r WHERE r.reversal_of_id = cp.id)
        GROUP BY cp.claim_id""",
    )

    # ---- denials -----------------------------------------------------------------------------------
    q.temp_table(
        "cf_wi_den",
        f"""SELECT cur.claim_id AS claim_id, cur.cp_id AS cp_id, a.group_code AS group_code,
               {category_sql("a.reason_code")} AS category, a.reason_code AS reason_code, a.amount AS amount,
               a.service_line_payment_id AS slp_id
        FROM cf_wi_cur cur JOIN adjustments a ON a.claim_payment_id = cur.cp_id
        WHERE a.group_code <> 'PR' AND a.reason_code NOT IN {non_denial_codes_sql()} AND a.amount > 0""",
    )
    actions = " ".join(f"WHEN '{cat}' THEN '{act}'" for cat, act in DENIAL_ACTIONS.items())
    q.run(f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'denials', dn.claim_id, 'denial:' || dn.group_code || ':' || dn.category, c.payer_id,
               'Denied (' || REPLACE(dn.category, '_', ' ') || ', group ' || dn.group_code || ') '
               || CASE WHEN COUNT(dn.slp_id) = 0 THEN 'at claim level'
                       WHEN COUNT(dn.slp_id) = COUNT(*) THEN 'on ' || CAST(COUNT(DISTINCT dn.slp_id) AS TEXT)
                            || ' line(s)'
                       ELSE 'at claim level and on ' || CAST(COUNT(DISTINCT dn.slp_id) AS TEXT) || ' line(s)' END,
               SUM(dn.amount), CASE dn.category {actions} ELSE 'ask_status' END, c.service_date_from, 0
        FROM cf_wi_den dn JOIN claims c ON c.id = dn.claim_id
        GROUP BY dn.claim_id, dn.group_code, dn.category, c.payer_id, c.service_date_from""")
    q.run("""INSERT INTO cf_wi_codes SELECT DISTINCT 'denials', dn.claim_id,
               'denial:' || dn.group_code || ':' || dn.category, dn.group_code || '-' || dn.reason_code
        FROM cf_wi_den dn""")
    q.run("""INSERT INTO cf_wi_codes SELECT DISTINCT 'denials', dn.claim_id,
               'denial:' || dn.group_code || ':' || dn.category, rc.code
        FROM cf_wi_den dn JOIN remark_codes rc ON rc.claim_payment_id = dn.cp_id
             AND (rc.service_line_payment_id IS NULL OR rc.service_line_payment_id = dn.slp_id)""")

    # ---- underpayments -----------------------------------------------------------------------------
    pr_sum = (
        "COALESCE((SELECT SUM(a.amount) FROM adjustments a WHERE a.service_line_payment_id = slp.id "
        "AND a.group_code = 'PR'), 0)"
    )
    q.temp_table(
        "cf_wi_allowed",
        f"""SELECT slp.id AS slp_id, cp.id AS cp_id, c.payer_id AS payer_id,
               slp.procedure_code AS procedure_code, COALESCE(slp.units, 1) AS units,
               COALESCE(slp.allowed, slp.paid + {pr_sum}) AS allowed
        FROM service_line_payments slp JOIN claim_payments cp ON cp.id = slp.claim_payment_id
        JOIN claims c ON c.id = cp.claim_id
        WHERE cp.posted_at IS NOT NULL AND cp.status_code NOT IN ('4', '22', '23', '25') AND slp.paid > 0
          AND slp.procedure_code IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM claim_payments r WHERE r.reversal_of_id = cp.id)""",
    )
    # The payer's rate for a procedure and number of units: an allowed amount on more than half (and at
    # least RATE_MIN_LINES) of its paid lines. Percent-of-charge payers have none, so they are not flagged.
    q.temp_table(
        "cf_wi_rates",
        """SELECT payer_id, procedure_code, units, allowed, COUNT(*) AS n
        FROM cf_wi_allowed GROUP BY payer_id, procedure_code, units, allowed""",
    )
    q.temp_table(
        "cf_wi_rate",
        f"""SELECT r.payer_id AS payer_id, r.procedure_code AS procedure_code, r.units AS units,
               r.allowed AS allowed FROM cf_wi_rates r
        WHERE r.n >= {RATE_MIN_LINES} AND 2 * r.n > (SELECT SUM(r2.n) FROM cf_wi_rates r2 WHERE r2.payer_id = r.payer_id
              AND r2.procedure_code = r.procedure_code AND r2.units = r.units)""",
    )
    fee_per_unit = (
        "COALESCE((SELECT f.allowed FROM fee_schedule f WHERE f.payer_id = al.payer_id "
        "AND f.procedure_code = al.procedure_code), (SELECT f.allowed FROM fee_schedule f "
        "WHERE f.payer_id IS NULL AND f.procedure_code = al.procedure_code))"
    )
    fee = (
        f"CAST(ROUND({fee_per_unit} * al.units) AS BIGINT)"
        if q.sqlite
        else f"ROUND({fee_per_unit} * al.units, 2)"
    )
    q.temp_table(
        "cf_wi_lines",
        f"""SELECT al.slp_id AS slp_id, cur.claim_id AS claim_id, al.payer_id AS payer_id,
               al.procedure_code AS procedure_code, al.allowed AS allowed, {fee} AS fee, rt.allowed AS seen,
               slp.service_line_id AS service_line_id, sl.line_number AS line_number
        FROM cf_wi_cur cur JOIN cf_wi_allowed al ON al.cp_id = cur.cp_id
        JOIN service_line_payments slp ON slp.id = al.slp_id
        LEFT JOIN service_lines sl ON sl.id = slp.service_line_id
        LEFT JOIN cf_wi_rate rt ON rt.payer_id = al.payer_id AND rt.procedure_code = al.procedure_code
             AND rt.units = al.units""",
    )
    line_key = "'line:' || COALESCE(CAST(ln.service_line_id AS TEXT), 'p' || CAST(ln.slp_id AS TEXT))"
    q.run(f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'underpayments', ln.claim_id, {line_key}, ln.payer_id,
               'Line ' || COALESCE(CAST(ln.line_number AS TEXT), '?') || ' (' || ln.procedure_code || ') allowed below '
               || CASE WHEN ln.fee IS NOT NULL THEN 'the fee schedule'
                       ELSE 'the rate this payer allowed before for the procedure' END,
               COALESCE(ln.fee, ln.seen) - ln.allowed, 'appeal', c.service_date_from, 0
        FROM cf_wi_lines ln JOIN claims c ON c.id = ln.claim_id
        WHERE COALESCE(ln.fee, ln.seen) > ln.allowed""")
    q.run(f"""INSERT INTO cf_wi_codes SELECT DISTINCT 'underpayments', ln.claim_id, {line_key},
               a.group_code || '-' || a.reason_code
        FROM cf_wi_lines ln JOIN adjustments a ON a.service_line_payment_id = ln.slp_id
        WHERE COALESCE(ln.fee, ln.seen) > ln.allowed""")

    # ---- no response -------------------------------------------------------------------------------
    age = q.days_between(":d", q.date_of("s.created_at"))
    rules = "LEFT JOIN payer_rules pr ON pr.payer_id = c.payer_id"
    p.update(n277=cfg.no_277ca_days, n835=cfg.no_835_days)
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'no_response', c.id, 'no_277ca', c.payer_id,
               'No claim acknowledgment (277CA) since the claim was sent: ask the clearinghouse or payer',
               c.total_charge, 'ask_status', c.service_date_from, 0
        FROM claims c JOIN submissions s ON s.claim_id = c.id AND {latest} {rules}
        WHERE c.status = {bind(S.SUBMITTED)} AND {age} >= COALESCE(pr.no_277ca_days, :n277)
          AND NOT EXISTS (SELECT 1 FROM claim_statuses cs WHERE cs.patient_control_number = s.patient_control_number)
          AND NOT EXISTS (SELECT 1 FROM claim_payments cp WHERE cp.claim_id = c.id)""",
        p,
    )
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'no_response', c.id, 'no_835', c.payer_id,
               CASE SUBSTR(COALESCE((SELECT cs.category FROM claim_statuses cs
                                     WHERE cs.level = 'claim' AND cs.patient_control_number = s.patient_control_number
                                     ORDER BY cs.id DESC LIMIT 1), ''), 1, 1)
                 WHEN 'P' THEN 'No 835 yet; the payer''s claim status (277) says pended: wait, or send what it asks for'
                 WHEN 'F' THEN 'No 835 yet; the payer''s claim status (277) says finalized: ask for the remittance'
                 WHEN 'D' THEN 'No 835 yet; the payer''s claim status (277) does not find the claim: resubmit it'
                 ELSE 'Accepted by the payer but no payment or denial (835) yet: ask the payer for the claim status'
               END,
               c.total_charge, 'ask_status', c.service_date_from, 0
        FROM claims c JOIN submissions s ON s.claim_id = c.id AND {latest} {rules}
        WHERE c.status = {bind(S.ACCEPTED)} AND {age} >= COALESCE(pr.no_835_days, :n835)
          AND NOT EXISTS (SELECT 1 FROM claim_payments cp WHERE cp.claim_id = c.id)""",
        p,
    )

    # ---- secondary due and credit balances (tonight's reconciliation snapshot) ---------------------
    snap = "b.run_date = (SELECT MAX(b2.run_date) FROM claim_balances b2 WHERE b2.run_date <= :d)"
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'secondary_due', c.id, 'secondary',
               COALESCE((SELECT MIN(cv.payer_id) FROM coverages cv WHERE cv.patient_id = c.patient_id
                         AND cv.priority = 2), c.payer_id),
               'Primary payer left patient responsibility and the patient has secondary coverage: bill the secondary',
               b.patient_responsibility, 'bill_secondary', c.service_date_from, 0
        FROM claim_balances b JOIN claims c ON c.id = b.claim_id
        WHERE {snap} AND b.secondary_due = true AND c.status <> {bind(S.CLOSED)}""",
        p,
    )
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'credit_balances', c.id, 'insurance_credit', c.payer_id,
               'The payer paid more than the claim''s insurance balance (credit): refund it or confirm the recoupment',
               -b.insurance_balance, 'refund', NULL, 1
        FROM claim_balances b JOIN claims c ON c.id = b.claim_id
        WHERE {snap} AND b.insurance_balance < :zero""",
        p,
    )
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'credit_balances', c.id, 'patient_credit', c.payer_id,
               'The patient paid more than their share on this claim (credit): apply it or refund it',
               -b.patient_balance, 'refund', NULL, 1
        FROM claim_balances b JOIN claims c ON c.id = b.claim_id
        WHERE {snap} AND b.patient_balance < :zero""",
        p,
    )
    _collect_authorizations(q, d, cfg, cols)


#: Usage rows of prior authorizations that count (as ``claimflow.inquiries.authorizations.COUNTED_SQL``: not the
#: lines of held, rejected or voided claims).
_AUTH_COUNTED = f"c.status NOT IN ({bind(S.SCRUB_FAILED)}, {bind(S.REJECTED)}) AND c.frequency <> '8'"


def _collect_authorizations(q: Sql, d: dt.date, cfg: WorklistConfig, cols: str) -> None:
    """Authorizations running out of days or units, each on the latest claim that used it (a work item
    belongs to a claim). Due: the end date (expiring) or the held claims' timely-filing deadline."""
    q.temp_table(
        "cf_wi_auth",
        f"""SELECT pa.id AS auth_id, pa.auth_number AS auth_number, pa.payer_id AS payer_id,
               pa.patient_id AS patient_id, pa.units_authorized AS authorized, pa.end_date AS end_date,
               SUM(u.units) AS used, MAX(u.claim_id) AS claim_id
        FROM prior_authorizations pa JOIN prior_authorization_usage u ON u.authorization_id = pa.id
        JOIN claims c ON c.id = u.claim_id AND {_AUTH_COUNTED}
        WHERE pa.status <> 'void'
        GROUP BY pa.id, pa.auth_number, pa.payer_id, pa.patient_id, pa.units_authorized, pa.end_date""",
    )
    p: dict[str, Any] = {"d": d, "n": cfg.auth_expiring_days, "zero": Decimal("0")}
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'authorizations', a.claim_id, 'auth:' || CAST(a.auth_id AS TEXT) || '\\:expiring', a.payer_id,
               'Prior authorization ' || a.auth_number || ' ends ' || CAST(a.end_date AS TEXT)
               || ' with units left: ask the payer for an extension if care goes on',
               :zero, 'request_authorization', a.end_date, 2
        FROM cf_wi_auth a
        WHERE a.end_date >= :d AND a.end_date <= {_add_days(q, ":d", ":n")} AND a.used < a.authorized""",
        p,
    )
    held = (
        "FROM claims h WHERE h.patient_id = a.patient_id AND h.payer_id = a.payer_id "
        f"AND h.status = {bind(S.SCRUB_FAILED)} AND EXISTS (SELECT 1 FROM scrub_results sr WHERE sr.claim_id = h.id "
        "AND sr.resolved = false AND sr.rule = 'prior_auth_exhausted')"
    )
    q.run(
        f"""INSERT INTO cf_wi_src ({cols})
        SELECT 'authorizations', a.claim_id, 'auth:' || CAST(a.auth_id AS TEXT) || '\\:exhausted', a.payer_id,
               'Prior authorization ' || a.auth_number || ' has no units left and claims of the same patient '
               || 'are held for it: ask the payer for more units or a new authorization',
               (SELECT SUM(h.total_charge) {held}), 'request_authorization',
               (SELECT MIN(h.service_date_from) {held}), 0
        FROM cf_wi_auth a WHERE a.used >= a.authorized AND EXISTS (SELECT 1 {held})""",
        p,
    )
    q.run("""INSERT INTO cf_wi_codes SELECT DISTINCT 'authorizations', s.claim_id, s.reason_key,
               CASE WHEN s.reason_key LIKE '%\\:exhausted' THEN 'prior_auth_exhausted' ELSE 'auth_expiring' END
        FROM cf_wi_src s WHERE s.queue = 'authorizations'""")


def _apply(q: Sql, d: dt.date, now: dt.datetime, actor: str, cfg: WorklistConfig) -> dict[str, int]:
    """Match tonight's problems to work items; close, update, reopen, insert; one event per change."""
    money = _money_type(q)
    p: dict[str, Any] = {
        "d": d,
        "now": now,
        "actor": actor[:120],
        "refund": cfg.refund_days,
        "tf_default": cfg.default_filing_days,
        "p1": Decimal("1000"),
        "p2": Decimal("250"),
        "p3": Decimal("50"),
    }
    tf_cases = []
    for i, (ptype, days) in enumerate(sorted(cfg.filing_days.items())):
        p[f"tf_t{i}"], p[f"tf_d{i}"] = ptype, days
        tf_cases.append(f"WHEN py.payer_type = :tf_t{i} THEN :tf_d{i}")
    filing = f"COALESCE(pr.timely_filing_days, CASE {' '.join(tf_cases)} ELSE :tf_default END)"
    due = (
        f"CASE WHEN MAX(s.refund_due) = 1 THEN {_add_days(q, ':d', ':refund')} "
        "WHEN MAX(s.refund_due) = 2 THEN MIN(s.due_base) "  # the due date itself (an authorization's end)
        f"ELSE {_add_days(q, 'MIN(s.due_base)', f'MIN({filing})')} END"
    )
    q.drop("cf_wi_new")
    q.run(f"""CREATE TEMPORARY TABLE cf_wi_new (queue VARCHAR(30), claim_id INTEGER, reason_key VARCHAR(120),
              payer_id INTEGER, reason_codes VARCHAR(200), reason TEXT, amount {money}, next_action VARCHAR(30),
              due_date DATE, refund_due INTEGER, priority INTEGER, work_item_id INTEGER, action VARCHAR(10))""")
    codes = _agg_sql(
        q, "cf_wi_codes x WHERE x.queue = s.queue AND x.claim_id = s.claim_id AND x.reason_key = s.reason_key"
    )
    q.run(
        f"""INSERT INTO cf_wi_new (queue, claim_id, reason_key, payer_id, reason_codes, reason, amount,
              next_action, due_date, refund_due)
        SELECT s.queue, s.claim_id, s.reason_key, MIN(s.payer_id), {codes}, MIN(s.reason), SUM(s.amount),
               MIN(s.next_action), {due}, MAX(s.refund_due)
        FROM cf_wi_src s LEFT JOIN payers py ON py.id = s.payer_id LEFT JOIN payer_rules pr ON pr.payer_id = s.payer_id
        GROUP BY s.queue, s.claim_id, s.reason_key""",
        p,
    )
    q.run("""UPDATE cf_wi_new SET work_item_id = (SELECT w.id FROM work_items w WHERE w.queue = cf_wi_new.queue
              AND w.claim_id = cf_wi_new.claim_id AND w.reason_key = cf_wi_new.reason_key)""")
    # Credit balances keep the deadline set when they were first seen.
    q.run("""UPDATE cf_wi_new SET due_date = (SELECT w.due_date FROM work_items w WHERE w.id = cf_wi_new.work_item_id)
             WHERE refund_due = 1 AND work_item_id IS NOT NULL""")
    left = q.days_between("due_date", ":d")
    q.run(
        f"""UPDATE cf_wi_new SET priority = CASE
                WHEN {left} <= 14 OR amount >= :p1 THEN 1 WHEN {left} <= 30 OR amount >= :p2 THEN 2
                WHEN {left} <= 60 OR amount >= :p3 THEN 3 ELSE 4 END""",
        p,
    )
    changed = " OR ".join(
        f"NOT {q.same(f'w.{c}', f'cf_wi_new.{c}')}"
        for c in ("payer_id", "reason_codes", "reason", "amount", "next_action", "due_date", "priority")
    )
    q.run(f"""UPDATE cf_wi_new SET action = (SELECT CASE
                WHEN w.status = {bind(W.CLOSED)} AND w.resolution = {bind(CLOSED_BY_PERSON)} THEN 'skip'
                WHEN w.status = {bind(W.CLOSED)} THEN 'reopen'
                WHEN {changed} THEN 'update' ELSE 'touch' END
              FROM work_items w WHERE w.id = cf_wi_new.work_item_id)
              WHERE work_item_id IS NOT NULL""")
    q.run("UPDATE cf_wi_new SET action = 'insert' WHERE work_item_id IS NULL")

    ev = "INSERT INTO work_item_events (work_item_id, at, actor, kind, detail) "
    run_date = "CAST(:d AS TEXT)" if q.sqlite else "CAST(CAST(:d AS DATE) AS TEXT)"

    # 1. close what is gone
    gone = (
        f"w.status IN ({bind(W.OPEN)}, {bind(W.IN_PROGRESS)}) AND w.queue IN {_BUILT_SQL} AND NOT EXISTS "
        "(SELECT 1 FROM cf_wi_new n WHERE n.work_item_id = w.id)"
    )
    closing = q.json_object(run_date=run_date, resolution=f"CAST({bind(RESOLVED)} AS TEXT)")
    closed = q.run(
        ev + f"SELECT w.id, :now, :actor, 'closed', {closing} FROM work_items w WHERE {gone}", p
    ).rowcount
    q.run(
        f"""UPDATE work_items SET status = {bind(W.CLOSED)}, resolution = {bind(RESOLVED)}, closed_at = :now, updated_at = :now
              WHERE id IN (SELECT w.id FROM work_items w WHERE {gone})""",
        p,
    )

    # 2. update and reopen what is still (or again) there
    detail = q.json_object(
        run_date=run_date,
        amount=_money_text(q, "n.amount"),
        priority="n.priority",
        due_date="CAST(n.due_date AS TEXT)",
        reason_codes="n.reason_codes",
    )
    q.run(
        ev
        + f"""SELECT n.work_item_id, :now, :actor, CASE n.action WHEN 'reopen' THEN 'reopened'
                   ELSE 'updated' END, {detail} FROM cf_wi_new n WHERE n.action IN ('update', 'reopen')""",
        p,
    )
    counts = {str(r[0]): int(r[1]) for r in q.run("SELECT action, COUNT(*) FROM cf_wi_new GROUP BY action")}
    sets = ", ".join(
        f"{c} = n.{c}"
        for c in ("payer_id", "reason_codes", "reason", "amount", "next_action", "due_date", "priority")
    )
    q.run(
        f"""UPDATE work_items SET {sets}, last_seen = :d, updated_at = :now,
                  status = CASE WHEN work_items.status = {bind(W.CLOSED)} THEN {bind(W.OPEN)} ELSE work_items.status END,
                  resolution = CASE WHEN work_items.status = {bind(W.CLOSED)} THEN NULL ELSE work_items.resolution END,
                  closed_at = CASE WHEN work_items.status = {bind(W.CLOSED)} THEN NULL ELSE work_items.closed_at END
              FROM cf_wi_new n WHERE n.work_item_id = work_items.id AND n.action IN ('update', 'reopen')""",
        p,
    )
    q.run(
        """UPDATE work_items SET last_seen = :d
             WHERE id IN (SELECT n.work_item_id FROM cf_wi_new n WHERE n.action = 'touch')""",
        p,
    )

    # 3. insert what is new
    q.run(
        f"""INSERT INTO work_items (queue, claim_id, reason_key, payer_id, reason_codes, reason, amount, next_action,
                  priority, due_date, status, opened_on, last_seen, created_at)
              SELECT queue, claim_id, reason_key, payer_id, reason_codes, reason, amount, next_action, priority,
                  due_date, {bind(W.OPEN)}, :d, :d, :now
              FROM cf_wi_new WHERE action = 'insert'""",
        p,
    )
    opened = q.json_object(
        run_date=run_date,
        queue="w.queue",
        reason_key="w.reason_key",
        amount=_money_text(q, "w.amount"),
        next_action="w.next_action",
    )
    q.run(
        ev
        + f"""SELECT w.id, :now, :actor, 'opened', {opened} FROM work_items w
                   WHERE NOT EXISTS (SELECT 1 FROM work_item_events e WHERE e.work_item_id = w.id)""",
        p,
    )
    return {
        "opened": int(counts.get("insert", 0)),
        "updated": int(counts.get("update", 0)),
        "reopened": int(counts.get("reopen", 0)),
        "closed": int(closed or 0),
    }


def _open_summary(q: Sql) -> dict[str, Any]:
    rows = q.run(f"""SELECT queue, COUNT(*), SUM(amount) FROM work_items
                     WHERE status IN ({bind(W.OPEN)}, {bind(W.IN_PROGRESS)}) GROUP BY queue""").all()
    queues: dict[str, dict[str, Any]] = {name: {"items": 0, "amount": "0.00"} for name in QUEUES}
    for name, n, amount in rows:
        queues[str(name)] = {"items": int(n), "amount": f"{q.money(amount):.2f}"}
    return {"open": sum(int(v["items"]) for v in queues.values()), "queues": queues}


def describe(summary: dict[str, Any]) -> str:
    """The build's counts in revenue-cycle words: ``312 open work items: 52 denials ($15,327.00), …``."""
    parts = [
        f"{v['items']} {k.replace('_', ' ')} (${Decimal(v['amount']):,.2f})"
        for k, v in summary["queues"].items()
        if v["items"]
    ]
    return (
        f"{summary['open']} open work items: "
        + (", ".join(parts) or "none")
        + f"; tonight {summary['opened']} opened, {summary['updated']} updated, "
        f"{summary['reopened']} reopened, {summary['closed']} closed as resolved"
    )


# --------------------------------------------------------------------------------------------------
# reading and working items
# --------------------------------------------------------------------------------------------------

LIST_KEYS = (
    "id",
    "queue",
    "claim",
    "payer",
    "reason_codes",
    "reason",
    "amount",
    "next_action",
    "due_date",
    "status",
    "assignee",
)


def list_items(engine: Engine, *, queue: str | None = None, status: str = "open") -> list[dict[str, Any]]:
    """Work items as dicts with :data:`LIST_KEYS` (+ ``priority``), most urgent first. ``status``: ``open``
    (open and in progress) or ``all``. Money is Decimal, dates are dates."""
    if queue is not None and queue not in QUEUES:
        raise WorkItemError(f"unknown queue {queue!r}; queues: {', '.join(QUEUES)}")
    if status not in ("open", "all"):
        raise WorkItemError("status must be open or all")
    where, params = [], {}
    if queue:
        where.append("w.queue = :queue")
        params["queue"] = queue
    if status == "open":
        where.append(f"w.status IN ({bind(W.OPEN)}, {bind(W.IN_PROGRESS)})")
    sql = (
        "SELECT w.id, w.queue, c.claim_number, py.payer_id, w.reason_codes, w.reason, w.amount, w.next_action, "
        "w.due_date, w.status, w.assignee, w.priority FROM work_items w JOIN claims c ON c.id = w.claim_id "
        "LEFT JOIN payers py ON py.id = w.payer_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY CASE WHEN w.status = 'closed' THEN 1 ELSE 0 END, w.priority, w.due_date, w.amount DESC, w.id"
    )
    with engine.connect() as conn:
        q = Sql(conn)
        rows = q.run(sql, params).all()
    return [
        {
            "id": r[0],
            "queue": r[1],
            "claim": r[2],
            "payer": r[3],
            "reason_codes": r[4].split(",") if r[4] else [],
            "reason": r[5],
            "amount": q.money(r[6]),
            "next_action": r[7],
            "due_date": q.date(r[8]),
            "status": r[9],
            "assignee": r[10],
            "priority": r[11],
        }
        for r in rows
    ]


def _item(q: Sql, item_id: int) -> tuple[str, str | None]:
    row = q.run("SELECT status, notes FROM work_items WHERE id = :id", {"id": item_id}).first()
    if row is None:
        raise WorkItemError(f"work item {item_id} does not exist")
    return str(row[0]), row[1]


def _event(q: Sql, item_id: int, now: dt.datetime, actor: str, kind: str, detail: dict[str, Any]) -> None:
    from claimflow.db.models import WorkItemEvent

    q.conn.execute(
        insert(WorkItemEvent).values(
            work_item_id=item_id, at=now, actor=actor[:120], kind=kind, detail=detail
        )
    )


def _note_line(now: dt.datetime, actor: str, body: str) -> str:
    return f"{now:%Y-%m-%d %H:%M} {actor}: {body}"


def assign(engine: Engine, item_id: int, to: str, *, actor: str) -> None:
    """Assign an item to a person; an open item becomes ``in_progress``."""
    name = to.strip()
    if not name:
        raise WorkItemError("assign needs a name (--to NAME)")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        q = Sql(conn)
        status, _ = _item(q, item_id)
        if status == W.CLOSED:
            raise WorkItemError(f"work item {item_id} is closed")
        q.run(
            "UPDATE work_items SET assignee = :to, updated_at = :now, "
            f"status = CASE WHEN status = {bind(W.OPEN)} THEN {bind(W.IN_PROGRESS)} ELSE status END WHERE id = :id",
            {"to": name[:80], "now": now, "id": item_id},
        )
        _event(q, item_id, now, actor, "assigned", {"to": name[:80]})
        audit(
            conn,
            actor=actor,
            action="work_item_assign",
            object_type="work_item",
            object_id=item_id,
            detail={"to": name[:80]},
        )


def add_note(engine: Engine, item_id: int, body: str, *, actor: str) -> None:
    """Append a note. The text is the billing office's (it may name people): it is kept on the item and its
    event, never in the audit log or the analyst views."""
    body = body.strip()
    if not body:
        raise WorkItemError("a note needs text")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        q = Sql(conn)
        _, notes = _item(q, item_id)
        line = _note_line(now, actor, body)
        q.run(
            "UPDATE work_items SET notes = :notes, updated_at = :now WHERE id = :id",
            {"notes": f"{notes}\n{line}" if notes else line, "now": now, "id": item_id},
        )
        _event(q, item_id, now, actor, "note", {"text": body})
        audit(
            conn,
            actor=actor,
            action="work_item_note",
            object_type="work_item",
            object_id=item_id,
            detail={"chars": len(body)},
        )


def close_item(engine: Engine, item_id: int, why: str, *, actor: str) -> None:
    """Close an item by hand (the nightly build will not reopen it)."""
    why = why.strip()
    if not why:
        raise WorkItemError("closing needs a reason (--why TEXT)")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        q = Sql(conn)
        status, notes = _item(q, item_id)
        if status == W.CLOSED:
            raise WorkItemError(f"work item {item_id} is already closed")
        line = _note_line(now, actor, f"closed: {why}")
        q.run(
            f"UPDATE work_items SET status = {bind(W.CLOSED)}, resolution = {bind(CLOSED_BY_PERSON)}, closed_at = :now, "
            "updated_at = :now, notes = :notes WHERE id = :id",
            {"now": now, "id": item_id, "notes": f"{notes}\n{line}" if notes else line},
        )
        _event(q, item_id, now, actor, "closed", {"resolution": CLOSED_BY_PERSON, "why": why})
        audit(
            conn,
            actor=actor,
            action="work_item_close",
            object_type="work_item",
            object_id=item_id,
            detail={"resolution": CLOSED_BY_PERSON, "from_status": status},
        )
