"""The de-identified analyst layer: views without names, dates of birth, member IDs or addresses.

* **PostgreSQL**: schema ``analyst`` holding one view per analyst-facing table (``analyst.claims``,
  ``analyst.claim_balances``, …). :func:`grant_analyst` creates a role that can read those views and
  nothing else (views run with their owner's rights, so the role needs no grant on any base table).
* **SQLite** (no schemas): the same views named ``analyst_<name>`` (``analyst_claims``, …).

Patients appear only as ``patient_key``: the first 32 hex digits of ``sha256(salt || ':' || patient id)``.
Keys live in ``patient_keys`` (never granted) and are computed once per patient — in SQL on PostgreSQL
(built-in ``sha256()``), in Python on SQLite (``hashlib``; identical values) — by
:func:`refresh_patient_keys`, which every nightly reconciliation and :func:`grant_analyst` call. Stored
keys are never recomputed, so they stay stable even if the salt setting changes; to rotate, delete
``patient_keys`` and reconcile again (historic ``aging_buckets`` keep the old keys).

The salt comes from ``CLAIMFLOW_PATIENT_KEY_SALT`` (the environment, or ``.env`` through
:class:`claimflow.settings.Settings`); the default (:data:`DEFAULT_SALT`) is public, so with it anyone
can map patient ids to keys and back. :func:`grant_analyst` therefore refuses to run while the salt is
the default, and while any stored key was made with the default salt (rotate first: delete
``patient_keys`` and reconcile again).

:func:`grant_analyst` also takes away what PostgreSQL gives every role through ``PUBLIC``: temporary
tables (``TEMPORARY`` on the database; roles that write claimflow's tables keep it explicitly — posting
uses temporary tables), ``CREATE`` on schema ``public``, and the large-object functions (``lo_create``,
``lo_import``, …) — and refuses while ``lo_compat_privileges`` is on.

The views keep dates of service, claim numbers and amounts (a limited data set, not Safe Harbor
de-identification): share exports accordingly.

Money columns: NUMERIC(14,2) on PostgreSQL (``Decimal`` via psycopg); **integer cents** in SQLite views.
:func:`read_view` returns a DataFrame with ``Decimal`` money on both backends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, text

# Patient keys live in the storage layer (adjudication.reconcile refreshes them nightly, and adjudication
# must not import this services module); re-exported here, where analysts and the CLI look for them.
from claimflow.db.patient_keys import (
    DEFAULT_SALT,
    KEY_LENGTH,
    SALT_ENV,
    configured_salt,
    patient_key,  # noqa: F401 (re-exported)
    patient_salt,  # noqa: F401 (re-exported)
    refresh_patient_keys,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SCHEMA = "analyst"

_PK = "LEFT JOIN patient_keys pk ON pk.patient_id = {alias}.patient_id"

#: name → SELECT. Explicit column lists: a column added to a base table later never leaks by itself.
VIEWS: dict[str, str] = {
    "payers": "SELECT id, payer_id AS payer_code, name, payer_type, filing_indicator, partner FROM payers",
    "claims": f"""SELECT c.id, c.claim_number, c.claim_type, c.status, pk.patient_key, c.payer_id,
        py.payer_id AS payer_code, c.billing_provider_id, c.rendering_provider_id, c.responsibility,
        c.primary_claim_id, c.frequency, c.place_of_service, c.bill_type, c.total_charge,
        c.service_date_from, c.service_date_to, c.payer_claim_number, c.created_at, c.submitted_at,
        c.status_changed_at
        FROM claims c JOIN payers py ON py.id = c.payer_id {_PK.format(alias="c")}""",
    "service_lines": """SELECT id, claim_id, line_number, line_control_number, procedure_code, modifiers,
        revenue_code, charge, units, unit_basis, service_date, place_of_service FROM service_lines""",
    "submissions": """SELECT id, claim_id, attempt, patient_control_number, interchange_id, frequency, status,
        created_at, replaces_submission_id FROM submissions""",
    "claim_balances": f"""SELECT b.run_date, b.claim_id, c.claim_number, pk.patient_key, b.payer_id,
        py.payer_id AS payer_code, b.status, b.charge, b.payer_paid, b.contractual, b.other_adjustments,
        b.patient_responsibility, b.patient_paid, b.provider_adjustments, b.insurance_write_off,
        b.patient_write_off, b.insurance_balance, b.patient_balance, b.service_date, b.age_days,
        b.secondary_due
        FROM claim_balances b JOIN claims c ON c.id = b.claim_id JOIN payers py ON py.id = b.payer_id
        {_PK.format(alias="b")}""",
    "patient_balances": f"""SELECT b.run_date, pk.patient_key, b.claims, b.charges, b.payer_paid,
        b.adjustments, b.patient_responsibility, b.patient_paid, b.unapplied_credit, b.refunds_due,
        b.write_offs, b.insurance_balance, b.patient_balance
        FROM patient_balances b {_PK.format(alias="b")}""",
    "aging_buckets": 'SELECT run_date, dimension, "key", bucket, amount, claims FROM aging_buckets',
    "kpis": "SELECT run_date, name, value, numerator, denominator, definition FROM kpis",
    "remittances": """SELECT id, interchange_id, isa13, gs06, st02, handling_code, payment_amount,
        credit_debit, payment_method, payment_date, trace_number, payer_identifier, payer_name,
        payee_identifier, production_date, balanced, payer_id FROM remittances""",
    "claim_payments": """SELECT id, remittance_id, segment_no, patient_control_number, status_code, charge,
        paid, patient_responsibility, filing_indicator, payer_claim_number, facility_type, frequency,
        deductible, coinsurance, copay, contractual, other_adjustments, statement_from, statement_to,
        received_date, claim_id, match_method, posted_at, reversal_of_id, correction_of_id,
        original_reference_number FROM claim_payments""",
    "service_line_payments": """SELECT id, claim_payment_id, segment_no, procedure_qualifier, procedure_code,
        modifiers, revenue_code, charge, paid, units, original_procedure, line_control_number,
        service_date, allowed, service_line_id FROM service_line_payments""",
    "adjustments": """SELECT id, claim_payment_id, service_line_payment_id, segment_no, position, group_code,
        reason_code, amount, quantity FROM adjustments""",
    "remark_codes": """SELECT id, claim_payment_id, service_line_payment_id, segment_no, position, source, code
        FROM remark_codes""",
    "provider_adjustments": """SELECT id, remittance_id, segment_no, position, provider_identifier,
        fiscal_period_date, reason_code, reference, amount, claim_id FROM provider_adjustments""",
    "balance_exceptions": """SELECT id, source, level, kind, interchange_id, remittance_id, claim_payment_id,
        claim_id, reference, expected, found, run_date, explained, explanation, created_at
        FROM balance_exceptions""",
    "ledger_entries": f"""SELECT e.id, e.txn_key, e.entry_type, e.account, e.amount, e.claim_id,
        pk.patient_key, e.payer_id, e.claim_payment_id, e.patient_payment_id, e.provider_adjustment_id,
        e.effective_date, e.created_at
        FROM ledger_entries e {_PK.format(alias="e")}""",
    "patient_payments": f"""SELECT p.id, pk.patient_key, p.claim_id, p.amount, p.received_on, p.method,
        p.posted_at, p.created_at FROM patient_payments p {_PK.format(alias="p")}""",
    "unmatched_payments": "SELECT id, claim_payment_id, reason, resolved, created_at FROM unmatched_payments",
    "reconciliation_runs": "SELECT id, run_date, status, started_at, finished_at, summary FROM reconciliation_runs",
    # Work queues (migration 0006): no notes and no event details (free text typed by people may hold PHI).
    "work_items": """SELECT w.id, w.queue, w.claim_id, c.claim_number, w.payer_id, py.payer_id AS payer_code,
        w.reason_key, w.reason_codes, w.reason, w.amount, w.next_action, w.priority, w.due_date, w.status,
        w.assignee, w.resolution, w.opened_on, w.last_seen, w.closed_at, w.created_at, w.updated_at
        FROM work_items w JOIN claims c ON c.id = w.claim_id LEFT JOIN payers py ON py.id = w.payer_id""",
    "work_item_events": "SELECT id, work_item_id, at, actor, kind FROM work_item_events",
    # Patient billing (migration 0010; adjudication.statements): patient_key, never names or addresses.
    "statements": f"""SELECT s.id, s.statement_id, pk.patient_key, s.run_date, s.cycle, s.stage, s.balance,
        s.amount_due, s.due_date, s.plan_id, s.created_at FROM statements s {_PK.format(alias="s")}""",
    "statement_lines": """SELECT l.id, l.statement_id, l.claim_id, l.service_date, l.procedure_codes, l.charge,
        l.insurance_paid, l.insurance_adjusted, l.patient_paid, l.patient_owes FROM statement_lines l""",
    "payment_plans": f"""SELECT p.id, pk.patient_key, p.total, p.installments, p.installment_amount,
        p.day_of_month, p.start_date, p.first_due, p.status, p.status_changed_at, p.created_at
        FROM payment_plans p {_PK.format(alias="p")}""",
    "payment_events": f"""SELECT e.id, e.event_type, e.amount_cents, e.currency, e.statement_id, pk.patient_key,
        e.patient_payment_id, e.outcome, e.created_at FROM payment_events e {_PK.format(alias="e")}""",
    "refunds": f"""SELECT r.id, r.payee, pk.patient_key, r.payer_id, r.claim_id, r.amount, r.status, r.found_on,
        r.issued_on FROM refunds r {_PK.format(alias="r")}""",
}


def _ts(dialect: str, expr: str) -> str:
    """A date or timestamp expression as a timestamp (text ``YYYY-MM-DD HH:MM:SS`` on SQLite)."""
    return f"datetime({expr})" if dialect == "sqlite" else f"CAST({expr} AS TIMESTAMP)"


def _day(dialect: str, expr: str) -> str:
    return f"date({expr})" if dialect == "sqlite" else f"CAST({expr} AS DATE)"


def _days(dialect: str, later: str, earlier: str) -> str:
    if dialect == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


def _scrub_reasons(d: str) -> str:
    """One row per scrub finding: the rule that held the claim (the finding text may quote values: not here)."""
    return f"""SELECT s.id, s.claim_id, c.claim_number, c.payer_id, py.payer_id AS payer_code, c.claim_type,
        s.rule, s.resolved, s.created_at, {_day(d, "s.created_at")} AS found_on
        FROM scrub_results s JOIN claims c ON c.id = s.claim_id JOIN payers py ON py.id = c.payer_id"""


def _rejection_reasons(d: str) -> str:
    """Front-end rejections: 277CA claim statuses not accepted (STC01-1/-2/-3), and TA1/999 answers that
    rejected (code, IK502/AK905/TA105 note, IK3 segment ID and IK4 element position and error code; never
    the bad value). 999 rows name the claims of the rejected transaction set (or group) through submissions."""
    t = "CAST(NULL AS TEXT)"
    return f"""SELECT '277CA' AS source, cs.id AS source_id, cs.interchange_id, cs.claim_id, c.claim_number,
        c.payer_id, py.payer_id AS payer_code, cs.category AS code, cs.status_code AS reason_code,
        cs.entity_code, {t} AS segment_id, {t} AS element_position, {t} AS error_code,
        COALESCE(cs.status_date, {_day(d, "i.created_at")}) AS reported_on
        FROM claim_statuses cs JOIN interchanges i ON i.id = cs.interchange_id
        LEFT JOIN claims c ON c.id = cs.claim_id LEFT JOIN payers py ON py.id = c.payer_id
        WHERE cs.level = 'claim' AND cs.accepted = false
        UNION ALL
        SELECT CASE WHEN a.kind = 'TA1' THEN 'TA1' ELSE '999' END, a.id, a.interchange_id, s.claim_id,
        c.claim_number, c.payer_id, py.payer_id, a.code, a.note_code, {t}, e.segment_id, e.element_position,
        e.error_code, {_day(d, "i.created_at")}
        FROM acknowledgments a JOIN interchanges i ON i.id = a.interchange_id
        LEFT JOIN acknowledgment_errors e ON e.acknowledgment_id = a.id
        LEFT JOIN submissions s ON s.interchange_id = a.matched_interchange_id
             AND (a.acked_gs06 IS NULL OR s.gs06 = a.acked_gs06) AND (a.acked_st02 IS NULL OR s.st02 = a.acked_st02)
        LEFT JOIN claims c ON c.id = s.claim_id LEFT JOIN payers py ON py.id = c.payer_id
        WHERE a.accepted = false"""


def _days_to_pay(d: str) -> str:
    """Per paid claim: first submission day, effective day of its first posted payment (BPR16, else
    DTM*405, else the posting day) and the days between; group by payer_code for days to pay by payer."""
    return f"""SELECT c.id AS claim_id, c.claim_number, c.claim_type, c.payer_id, py.payer_id AS payer_code,
        {_day(d, "f.first_at")} AS submitted_on, p.paid_on, {_days(d, "p.paid_on", _day(d, "f.first_at"))} AS days_to_pay
        FROM claims c JOIN payers py ON py.id = c.payer_id
        JOIN (SELECT claim_id, MIN(created_at) AS first_at FROM submissions GROUP BY claim_id) f ON f.claim_id = c.id
        JOIN (SELECT cp.claim_id, MIN(COALESCE(r.payment_date, r.production_date, {_day(d, "cp.posted_at")})) AS paid_on
              FROM claim_payments cp JOIN remittances r ON r.id = cp.remittance_id
              WHERE cp.claim_id IS NOT NULL AND cp.posted_at IS NOT NULL AND cp.paid > 0
                AND cp.status_code IN ('1', '2', '3', '19', '20', '21')
              GROUP BY cp.claim_id) p ON p.claim_id = c.id"""


def _claim_timeline(d: str) -> str:
    """A claim's events without PHI: created, scrubbed (rule), submitted/corrected/voided (CLM05-3),
    accepted/rejected (277CA category:status), paid/denied/reversed (CLP02, CLP04), work item events."""
    n = "CAST(NULL AS TEXT)"
    money = "CAST(NULL AS INTEGER)" if d == "sqlite" else "CAST(NULL AS NUMERIC(14, 2))"
    return f"""SELECT c.id AS claim_id, c.claim_number, {_ts(d, "c.created_at")} AS at, 'created' AS kind,
        {n} AS detail, {money} AS amount FROM claims c
        UNION ALL
        SELECT c.id, c.claim_number, {_ts(d, "s.created_at")}, 'scrubbed', s.rule, {money}
        FROM scrub_results s JOIN claims c ON c.id = s.claim_id
        UNION ALL
        SELECT c.id, c.claim_number, {_ts(d, "s.created_at")},
               CASE s.frequency WHEN '7' THEN 'corrected' WHEN '8' THEN 'voided' ELSE 'submitted' END,
               'attempt ' || CAST(s.attempt AS TEXT) || ', CLM05-3 ' || s.frequency, {money}
        FROM submissions s JOIN claims c ON c.id = s.claim_id
        UNION ALL
        SELECT c.id, c.claim_number, {_ts(d, "COALESCE(cs.status_date, i.created_at)")},
               CASE WHEN cs.accepted = true THEN 'accepted' WHEN cs.accepted = false THEN 'rejected'
                    ELSE 'status' END,
               '277CA ' || cs.category || ':' || COALESCE(cs.status_code, ''), {money}
        FROM claim_statuses cs JOIN claims c ON c.id = cs.claim_id JOIN interchanges i ON i.id = cs.interchange_id
        UNION ALL
        SELECT c.id, c.claim_number, {_ts(d, "COALESCE(r.payment_date, r.production_date, cp.posted_at)")},
               CASE cp.status_code WHEN '22' THEN 'reversed' WHEN '4' THEN 'denied' ELSE 'paid' END,
               'CLP02 ' || cp.status_code, cp.paid
        FROM claim_payments cp JOIN claims c ON c.id = cp.claim_id JOIN remittances r ON r.id = cp.remittance_id
        WHERE cp.posted_at IS NOT NULL
        UNION ALL
        SELECT c.id, c.claim_number, {_ts(d, "e.at")}, 'work_item_' || e.kind, w.queue, {money}
        FROM work_item_events e JOIN work_items w ON w.id = e.work_item_id JOIN claims c ON c.id = w.claim_id"""


def _denials(d: str) -> str:
    """Every denial adjustment, claim and line level, by the one definition
    (``adjudication.carc.DENIAL_DEFINITION``), with its category and the claim payment's effective date."""
    from adjudication.carc import category_sql, denial_adjustment_sql
    from adjudication.denials import EFFECTIVE_SQL, claim_payment_scope_sql

    return f"""SELECT a.id AS adjustment_id, cp.id AS claim_payment_id, cp.claim_id, c.claim_number, c.payer_id,
        py.payer_id AS payer_code, cp.status_code,
        CASE WHEN a.service_line_payment_id IS NULL THEN 'claim' ELSE 'line' END AS level,
        a.service_line_payment_id, a.group_code, a.reason_code, {category_sql("a.reason_code")} AS category,
        a.amount, {EFFECTIVE_SQL} AS effective_date,
        CASE WHEN cp.id = (SELECT MIN(f.id) FROM claim_payments f WHERE f.claim_id = cp.claim_id
                           AND {claim_payment_scope_sql("f")}) THEN 1 ELSE 0 END AS first_adjudication
        FROM adjustments a JOIN claim_payments cp ON cp.id = a.claim_payment_id
        JOIN remittances r ON r.id = cp.remittance_id JOIN claims c ON c.id = cp.claim_id
        JOIN payers py ON py.id = c.payer_id
        WHERE {claim_payment_scope_sql("cp")} AND {denial_adjustment_sql("a")}"""


#: Views whose SQL differs by dialect (date arithmetic, casts): name → builder(dialect).
DIALECT_VIEWS = {
    "denials": _denials,
    "scrub_reasons": _scrub_reasons,
    "rejection_reasons": _rejection_reasons,
    "days_to_pay": _days_to_pay,
    "claim_timeline": _claim_timeline,
}
VIEWS.update({name: build("postgresql") for name, build in DIALECT_VIEWS.items()})


def view_sql(dialect: str, name: str) -> str:
    """The SELECT of view ``name`` for ``dialect``."""
    build = DIALECT_VIEWS.get(name)
    return build(dialect) if build else VIEWS[name]


#: Views over tables a later migration creates: created by :func:`create_views` only once that table
#: exists (migration 0002 runs before them; the migration that adds the table calls create_views again).
LATER_VIEWS: dict[str, str] = {
    "work_items": "work_items",
    "work_item_events": "work_item_events",
    "claim_timeline": "work_item_events",
    "statements": "statements",
    "statement_lines": "statement_lines",
    "payment_plans": "payment_plans",
    "payment_events": "payment_events",
    "refunds": "refunds",
}
#: Columns a view shows once a later migration added them (an earlier migration's create_views leaves
#: them out): view → (table, column).
LATER_COLUMNS: dict[str, tuple[str, str]] = {
    "submissions": ("submissions", "replaces_submission_id"),
    "claim_payments": ("claim_payments", "original_reference_number"),
}

#: Money columns per view (integer cents on SQLite; :func:`read_view` converts them).
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims": ("total_charge",),
    "service_lines": ("charge",),
    "claim_balances": (
        "charge",
        "payer_paid",
        "contractual",
        "other_adjustments",
        "patient_responsibility",
        "patient_paid",
        "provider_adjustments",
        "insurance_write_off",
        "patient_write_off",
        "insurance_balance",
        "patient_balance",
    ),
    "patient_balances": (
        "charges",
        "payer_paid",
        "adjustments",
        "patient_responsibility",
        "patient_paid",
        "unapplied_credit",
        "refunds_due",
        "write_offs",
        "insurance_balance",
        "patient_balance",
    ),
    "aging_buckets": ("amount",),
    "remittances": ("payment_amount",),
    "claim_payments": (
        "charge",
        "paid",
        "patient_responsibility",
        "deductible",
        "coinsurance",
        "copay",
        "contractual",
        "other_adjustments",
    ),
    "service_line_payments": ("charge", "paid", "allowed"),
    "adjustments": ("amount",),
    "provider_adjustments": ("amount",),
    "balance_exceptions": ("expected", "found"),
    "ledger_entries": ("amount",),
    "patient_payments": ("amount",),
    "work_items": ("amount",),
    "claim_timeline": ("amount",),
    "denials": ("amount",),
    "statements": ("balance", "amount_due"),
    "statement_lines": ("charge", "insurance_paid", "insurance_adjusted", "patient_paid", "patient_owes"),
    "payment_plans": ("total", "installment_amount"),
    "refunds": ("amount",),
}


class AnalystError(Exception):
    """The analyst layer cannot do what was asked (e.g. roles on SQLite, a bad role name)."""


class DefaultSaltRefused(AnalystError):
    """Analysts would get patient keys anyone can reverse (the public default salt)."""


def view_name(dialect: str, name: str) -> str:
    """``analyst.claims`` on PostgreSQL, ``analyst_claims`` on SQLite."""
    if name not in VIEWS:
        raise AnalystError(f"no analyst view named {name!r}")
    return f"{SCHEMA}.{name}" if dialect == "postgresql" else f"{SCHEMA}_{name}"


def create_views(conn: Connection) -> None:
    """(Re)create every analyst view. Called by migration 0002; later migrations that alter a base
    table used here should drop the views first (:func:`drop_views`) and call this again at the end."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    from sqlalchemy import inspect

    tables = set(inspect(conn).get_table_names())
    for name in VIEWS:
        if name in LATER_VIEWS and LATER_VIEWS[name] not in tables:
            continue
        full = view_name(dialect, name)
        sql = view_sql(dialect, name)
        if name in LATER_COLUMNS:
            table, column = LATER_COLUMNS[name]
            if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
                sql = sql.replace(f", {column}", "").replace(f",\n        {column}", "")
        conn.execute(text(f"DROP VIEW IF EXISTS {full}"))
        conn.execute(text(f"CREATE VIEW {full} AS {sql}"))


def drop_views(conn: Connection) -> None:
    dialect = conn.dialect.name
    for name in VIEWS:
        conn.execute(text(f"DROP VIEW IF EXISTS {view_name(dialect, name)}"))
    if dialect == "postgresql":
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA}"))


_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


#: Large-object functions PUBLIC may execute by default (server-side import/export are superuser-only
#: already; revoked anyway in case ``lo_compat_privileges`` or a grant opened them).
LARGE_OBJECT_FUNCTIONS = (
    "lo_create(oid)",
    "lo_creat(integer)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_export(oid, text)",
    "lo_open(oid, integer)",
    "lo_put(oid, bigint, bytea)",
    "lo_get(oid)",
    "lo_get(oid, bigint, integer)",
    "lo_unlink(oid)",
    "lowrite(integer, bytea)",
    "loread(integer, integer)",
    "lo_truncate(integer, integer)",
    "lo_truncate64(integer, bigint)",
)


def check_salt() -> None:
    """Refuse the public default salt (:class:`DefaultSaltRefused`)."""
    salt = configured_salt()
    if not salt or salt == DEFAULT_SALT:
        raise DefaultSaltRefused(
            f"set {SALT_ENV} to a secret salt first: with the default salt every patient key can be reversed"
        )


def _default_salted_keys(conn: Connection) -> int:
    """How many stored patient keys were computed with the public default salt."""
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM patient_keys k WHERE k.patient_key = substr(encode(sha256(convert_to("
                f":salt || ':' || CAST(k.patient_id AS TEXT), 'UTF8')), 'hex'), 1, {KEY_LENGTH})"
            ),
            {"salt": DEFAULT_SALT},
        ).scalar_one()
    )


def grant_analyst(engine: Engine, role: str) -> list[str]:
    """PostgreSQL only: make ``role`` able to read the analyst views and nothing else. Idempotent.

    The role is created ``NOLOGIN`` when missing: it is a group role; give people access with
    ``GRANT <role> TO alice`` (their own LOGIN role, with their own credentials). An existing role is
    left as it is (its LOGIN attribute and password are not touched). Grants: USAGE on schema
    ``analyst``, SELECT on its views (also on views created later, through default privileges);
    every privilege on public tables and sequences is revoked, and CONNECT on the database is granted.

    Locked down against PUBLIC's defaults: TEMPORARY on the database is revoked from PUBLIC and the
    role (roles that can INSERT into claimflow's tables get TEMPORARY explicitly first: posting needs
    temporary tables), CREATE on schema ``public`` and on the database, and EXECUTE on the large-object
    functions from PUBLIC. Refuses (:class:`AnalystError`) with the default salt, with keys stored under
    the default salt, and while ``lo_compat_privileges`` is on. Run it as the tables' owner (as a
    superuser to also revoke the large-object functions). Returns notes on what it could not do.
    """
    if engine.dialect.name != "postgresql":
        raise AnalystError("analyst roles need PostgreSQL; on SQLite read the analyst_* views directly")
    if not _ROLE.match(role):
        raise AnalystError("role names are lower-case letters, digits and underscores (max 63)")
    check_salt()
    with engine.begin() as conn:
        if conn.execute(text("SHOW lo_compat_privileges")).scalar_one() == "on":
            raise AnalystError(
                "lo_compat_privileges is on (every role can read and write every large "
                "object): set it off in postgresql.conf first"
            )
        stale = _default_salted_keys(conn)
        if stale:
            raise DefaultSaltRefused(
                f"{stale} stored patient keys were made with the default salt: rotate them first "
                "(DELETE FROM patient_keys, then claimflow reconcile) with the secret salt set"
            )
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if not exists:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        refresh_patient_keys(conn)
        db = conn.execute(text("SELECT current_database()")).scalar_one()
        # Roles that write claimflow's tables (the pipeline) keep temporary tables explicitly.
        writers = (
            conn.execute(
                text(
                    "SELECT rolname FROM pg_roles WHERE rolname <> :r AND left(rolname, 3) <> 'pg_' "
                    "AND NOT rolsuper AND has_table_privilege(oid, 'public.ledger_entries', 'INSERT')"
                ),
                {"r": role},
            )
            .scalars()
            .all()
        )
        for writer in writers:
            conn.execute(text(f'GRANT TEMPORARY ON DATABASE "{db}" TO "{writer}"'))
        conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{db}" FROM PUBLIC'))
        conn.execute(text(f'REVOKE TEMPORARY, CREATE ON DATABASE "{db}" FROM "{role}"'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"'))
        conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"'))
        conn.execute(text(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{role}"'))
        conn.execute(text(f'REVOKE TRUNCATE, UPDATE, DELETE ON audit_log FROM PUBLIC, "{role}"'))
        conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        conn.execute(text(f'REVOKE CREATE ON SCHEMA public FROM "{role}"'))
        notes: list[str] = []
        superuser = conn.execute(text("SELECT current_setting('is_superuser')")).scalar_one() == "on"
        for fn in LARGE_OBJECT_FUNCTIONS:
            # pg_catalog functions belong to the bootstrap superuser: only a superuser can take PUBLIC's
            # EXECUTE away (per database). Anyone else is told, once, to rerun as a superuser.
            if superuser:
                conn.execute(text(f"REVOKE EXECUTE ON FUNCTION pg_catalog.{fn} FROM PUBLIC"))
            elif _public_can_execute(conn, f"pg_catalog.{fn}"):
                notes.append(
                    "PUBLIC may still call the large-object functions (lo_create, …): run "
                    "grant-analyst once as a PostgreSQL superuser to revoke them"
                )
                break
        conn.execute(text(f'GRANT USAGE ON SCHEMA {SCHEMA} TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO "{role}"'))
        conn.execute(text(f'ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO "{role}"'))
    return notes


def _public_can_execute(conn: Connection, signature: str) -> bool:
    """Whether PUBLIC (grantee 0) holds EXECUTE on the function (a NULL ACL means the default: yes)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
                "WHERE p.oid = CAST(:fn AS regprocedure) AND a.grantee = 0 AND a.privilege_type = 'EXECUTE')"
            ),
            {"fn": signature},
        ).scalar_one()
    )


def _cents_to_decimal(value: Any) -> Any:
    if value is None:
        return None
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def read_view(
    engine: Engine, name: str, where: str | None = None, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """``SELECT * FROM`` an analyst view into a DataFrame, money as ``Decimal`` on both backends.

    ``where`` is a SQL condition with ``:named`` parameters, e.g.
    ``read_view(engine, "claim_balances", "run_date = :d", {"d": date(2026, 11, 25)})``.
    """
    import pandas as pd

    sql = f"SELECT * FROM {view_name(engine.dialect.name, name)}"
    if where:
        sql += f" WHERE {where}"
    bound = dict(params or {})
    if engine.dialect.name == "sqlite":
        bound = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in bound.items()}
    with engine.connect() as conn:
        result = conn.execute(text(sql), bound)
        columns = list(result.keys())
        rows = [list(r) for r in result]
    if engine.dialect.name == "sqlite":
        for i, col in enumerate(columns):
            if col in MONEY_COLUMNS.get(name, ()):
                for row in rows:
                    row[i] = _cents_to_decimal(row[i])
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)
