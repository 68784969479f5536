"""Posting stored 835 remittances to our claims and to the double-entry ledger — set-based.

The loader stores each 835 as rows (remittances, claim_payments, service_line_payments, adjustments,
remark_codes, provider_adjustments). :func:`post_remittances` then does, in one transaction, with a
handful of ``INSERT … SELECT`` / ``UPDATE … FROM`` statements (no per-row ORM work; the same SQL runs on
SQLite and PostgreSQL):

1. **Charges**: every submitted primary claim without a ``chg:<claim_id>`` transaction gets one; a
   submitted secondary/tertiary claim gets ``cob:<claim_id>`` instead (no revenue, see :mod:`adjudication.ledger`).
2. **Match** each unposted claim payment to our claim: by patient control number (CLP01 =
   submissions.patient_control_number, exact); then, for payers that truncate CLP01, by prefix (CLP01 is
   a prefix of exactly one claim's PCN, at least :data:`MIN_PREFIX` characters); then by payer claim
   number (CLP07 = the REF*1K of a 277CA, or the CLP07 of an earlier payment on the claim). CLP02=23
   (not our claim) and 25 (predetermination) are never matched.
3. **Reversals** (CLP02=22) are paired with the original claim payment they negate
   (``reversal_of_id``: same claim, not yet reversed, exact negation of CLP03/CLP04 preferred, else same
   payer claim number; among equal candidates the one with the reversal's CLP07, so the reversal of a
   replaced claim never takes back its replacement's payment); the next payment on that claim is the
   **correction** (``correction_of_id``).
4. **Service lines** by REF*6R (line control number), falling back to procedure + modifiers + charge +
   date when that identifies exactly one line of the claim.
5. **Ledger**: ``pay:``, ``co:``, ``oa:``, ``pr:`` per claim payment, ``rev:`` (the exact negation of the
   original's rows) per reversal, ``plb:`` per PLB adjustment, ``unm:`` for unmatched money (see
   :mod:`adjudication.ledger` for the scheme). ``UNIQUE(txn_key, account)`` makes a second posting of the
   same rows impossible: it fails with IntegrityError and the transaction rolls back.
6. **Claim status** from the latest claim payment of each claim: CLP02 4 → denied, 22 → reversed;
   1/2/3/19/20/21: paid when CLP04 ≥ CLP03; CLP04 = 0 with a denial CARC (:mod:`adjudication.carc`) on a
   non-PR adjustment → denied; CLP04 = 0 otherwise (patient responsibility, contractual) → paid (the
   patient owes); else partially_paid. Only transitions the lifecycle allows are made. A reversal does not
   make a claim ``reversed`` while another payment of it is still live (the replacement's payment posted
   before the original's reversal arrived).
7. **Duplicates and stacking**: an open payment that repeats a live one (same payer, CLP01, CLP02,
   CLP03, CLP04, CLP05, CLP07 as a posted, not reversed payment or an earlier one of this batch — within
   one file or across files) is **held**: ``claim_payments.duplicate_of_id`` is set, it is never posted
   to the claim (until an operator clears that column) and is listed in ``unmatched_payments`` with
   reason ``duplicate_claim_payment``. A reversal followed by a payment with the same amounts is a
   correction, not a repeat. A **fallback** match (truncated CLP01, CLP07) stands only when the claim has
   no live payment from the same payer (posted, or matched exactly in this batch) and no earlier fallback
   match in this run; otherwise the payment is held unmatched (``fallback_claim_already_paid``,
   ``fallback_one_per_claim_per_run``). Counts: ``duplicates_held``, ``fallback_held``.
8. **Unmatched** claim payments go to ``unmatched_payments`` with a reason, never dropped; they are
   retried on every run (and marked resolved when they finally match). Their money (held duplicates
   included: it arrived) sits in unapplied cash until worked.
9. **PLB** adjustments are linked to a claim when PLB03-2 is our PCN or a payer claim number.
10. **Patient credits** waiting for patient responsibility are applied to it
   (:func:`adjudication.patient_payments.apply_patient_credits`).

Matching and pairing happen in a temporary copy of the open claim payments (``cf_cp``); the
claim_payments table itself is written once, at the end (claim_id, match_method, reversal_of_id,
correction_of_id, posted_at). On PostgreSQL the run starts by refreshing planner statistics of the tables
it reads (a bulk load since autovacuum last looked would otherwise give quadratic plans) and takes an
advisory lock, so two postings never interleave.

Limits: claim payments that belong to a claim we submitted as secondary are posted like any other;
a crossover payment from a secondary payer on our *primary* claim's PCN is posted against that claim's
insurance balance (it shows as a payer credit to be worked), not against the patient's share.

Secondary coverage: when a primary payment (CLP02 1; 19/20 are crossovers the payer forwarded) leaves patient responsibility and the patient
has a priority-2 coverage but no secondary claim exists, the claim is counted in ``secondary_due``
here and flagged ``claim_balances.secondary_due`` by the nightly reconciliation; the secondary claim (with
its loop 2320/2430 data) is created by :func:`claimflow.followup.secondary.issue_secondary_claims` after posting.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from claimflow.db.audit import audit
from claimflow.db.models import ClaimStatus as S
from eob import cas

from . import ledger as L
from ._sql import Sql, bind, bind_in
from .carc import non_denial_codes_sql
from .ledger import Account, EntryType
from .lifecycle import sources_for, sql_in
from .patient_payments import apply_patient_credits

#: Shortest CLP01 accepted as a truncated patient control number.
MIN_PREFIX = 6

#: CLP02 values posted as adjudications (1/2/3 processed as primary/secondary/tertiary, 4 denied,
#: 19/20/21 processed and forwarded).
POSTABLE = ("1", "2", "3", "4", "19", "20", "21")
NEVER_MATCHED = ("23", "25")

#: Matches that do not name our claim exactly (CLP01 truncated, CLP07): gated against stacking.
FALLBACK_METHODS = ("pcn_truncated", "payer_number")

#: ``unmatched_payments.reason`` of a claim payment held as a repeat of one already posted.
DUPLICATE = "duplicate_claim_payment"
#: Reasons of fallback matches held back: the claim already has a live payment from that payer; another
#: fallback-matched payment took the claim in this run.
FALLBACK_ALREADY_PAID = "fallback_claim_already_paid"
FALLBACK_ONE_PER_RUN = "fallback_one_per_claim_per_run"

_EFF = "COALESCE(r.payment_date, r.production_date, :as_of)"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def outcome_sql(cp: str = "cp", *, denial: str | None = None) -> str:
    """The claim status a claim payment leads to (see the module docstring, step 6). ``denial`` is an
    SQL condition "this claim payment has a denial CARC on a non-PR adjustment" (default: EXISTS on
    adjustments)."""
    if denial is None:
        denial = f"""EXISTS (
            SELECT 1 FROM adjustments da WHERE da.claim_payment_id = {cp}.id AND {cas.condition_sql(cas.NOT_PATIENT, "da")}
            AND da.amount <> 0 AND da.reason_code NOT IN {non_denial_codes_sql()})"""
    return f"""CASE
        WHEN {cp}.status_code = '22' THEN {bind(S.REVERSED)}
        WHEN {cp}.status_code = '4' THEN {bind(S.DENIED)}
        WHEN {cp}.paid <> 0 AND {cp}.paid >= {cp}.charge THEN {bind(S.PAID)}
        WHEN {cp}.paid = 0 AND {denial} THEN {bind(S.DENIED)}
        WHEN {cp}.paid = 0 THEN {bind(S.PAID)}
        ELSE {bind(S.PARTIALLY_PAID)} END"""


def post_remittances(engine: Engine, *, actor: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """Post every stored, not yet posted claim payment and PLB adjustment. Idempotent: a second run
    finds nothing to post. ``as_of`` (default today) is the effective date of postings whose remittance
    carries neither BPR16 nor DTM*405. Returns counts (JSON-able)."""
    as_of = as_of or dt.date.today()
    with engine.begin() as conn:
        q = Sql(conn).for_batch()
        if q.pg:
            q.run("SELECT pg_advisory_xact_lock(hashtext('claimflow.post_remittances'))")
        result = _post(q, actor=actor, as_of=as_of, now=_utcnow())
        audit(
            conn,
            actor=actor,
            action="post_remittances",
            object_type="batch",
            object_id=as_of.isoformat(),
            detail=result,
        )
    return result


def post_charges(engine: Engine, *, actor: str) -> int:
    """Post ``chg:<claim_id>`` for every submitted claim that has none (also done by posting)."""
    with engine.begin() as conn:
        q = Sql(conn)
        n = _post_charges(q, _utcnow())
        if n:
            audit(
                conn,
                actor=actor,
                action="post_charges",
                object_type="batch",
                object_id=None,
                detail={"claims": n},
            )
    return n


# --------------------------------------------------------------------------------------------------


def _post(q: Sql, *, actor: str, as_of: dt.date, now: dt.datetime) -> dict[str, Any]:
    """One posting run: the steps of the module docstring, in that order, each a function below, all in
    the caller's transaction. Temporary tables carry the run from step to step (``cf_cp``: the open claim
    payments being matched; ``cf_post_adj``: their CAS totals; ``cf_post_batch``: the ones that post)."""
    p = {"as_of": as_of, "now": now}
    _refresh_statistics(q)
    charges = _post_charges(q, now)
    _open_claim_payments(q)
    matched, reversals_paired, duplicates, fallback_held = _match_and_pair(q)
    _cas_totals(q)
    batch = _posting_batch(q, p)
    corrections = _pair_corrections(q)
    lines_matched, lines_unmatched = _match_lines(q)
    entries = _post_payer_payments(q, p) + _post_cas(q, p) + _post_reversals(q, p) + _clear_unapplied(q, p)
    resolved = _resolve_unmatched(q)
    status_changes, status_blocked = _update_claim_status(q, now)
    secondary_due = _count_secondary_due(q)
    paid_total, reversed_total, n_reversals = _batch_totals(q)
    _audit_reversals(q, actor, now)
    _write_claim_payments(q, p)
    new_unmatched, unmatched_entries = _record_unmatched(q, p)
    entries += unmatched_entries
    plb_linked = _link_plb(q)
    plb_posted, plb_entries = _post_plb(q, p)
    entries += plb_entries
    open_unmatched = int(q.scalar("SELECT COUNT(*) FROM unmatched_payments WHERE resolved = false") or 0)
    credits = apply_patient_credits(q.conn, as_of)  # new patient responsibility absorbs waiting credits
    q.drop("cf_cp", "cf_post_batch", "cf_post_adj", "cf_post_latest", "cf_rev_keys")
    return {
        "as_of": as_of.isoformat(),
        "charges_posted": charges,
        "claim_payments_posted": batch - n_reversals,
        "reversals_posted": n_reversals,
        "reversals_paired": reversals_paired,
        "corrections_paired": corrections,
        "matched_by": matched,
        "duplicates_held": duplicates,
        "fallback_held": fallback_held,
        "service_lines_matched": lines_matched,
        "service_lines_unmatched": lines_unmatched,
        "unmatched_new": new_unmatched,
        "unmatched_resolved": resolved,
        "unmatched_open": open_unmatched,
        "plb_linked": plb_linked,
        "plb_posted": plb_posted,
        "ledger_entries": entries + 2 * charges,
        "status_changes": status_changes,
        "status_blocked": status_blocked,
        "secondary_due": secondary_due,
        "paid": f"{paid_total:.2f}",
        "reversed": f"{reversed_total:.2f}",
        **credits,
    }


def _refresh_statistics(q: Sql) -> None:
    """Fresh statistics: the loader may have added most of these rows since autovacuum last looked."""
    q.analyze_if_stale(
        "claim_payments",
        "service_line_payments",
        "adjustments",
        "submissions",
        "ledger_entries",
        "claims",
        "service_lines",
        "provider_adjustments",
    )


def _open_claim_payments(q: Sql) -> None:
    """``cf_cp``: a private copy of the open claim payments, exact PCN matches made. Matching and pairing
    work on it; claim_payments itself is updated once, at the end (:func:`_write_claim_payments`)."""
    never = sql_in(NEVER_MATCHED)
    q.temp_table(
        "cf_cp",
        f"""SELECT cp.id AS id, cp.patient_control_number AS pcn, cp.status_code AS status_code,
                   cp.payer_claim_number AS payer_claim_number, cp.paid AS paid, cp.charge AS charge,
                   cp.remittance_id AS remittance_id, COALESCE(cp.claim_id, s.claim_id) AS claim_id,
                   CASE WHEN cp.claim_id IS NOT NULL THEN COALESCE(cp.match_method, 'preset')
                        WHEN s.claim_id IS NOT NULL THEN 'pcn' END AS method,
                   cp.reversal_of_id AS reversal_of_id, cp.correction_of_id AS correction_of_id,
                   COALESCE(cp.patient_responsibility, 0) AS pr, COALESCE(cp.payer_claim_number, '') AS clp07,
                   {payer_key("r")} AS payer_key,
                   cp.duplicate_of_id AS dup_of, CAST(NULL AS VARCHAR(40)) AS hold
            FROM claim_payments cp
            JOIN remittances r ON r.id = cp.remittance_id
            LEFT JOIN submissions s ON s.patient_control_number = cp.patient_control_number
                                   AND cp.status_code NOT IN {never}
            WHERE cp.posted_at IS NULL""",
    )


def _match_and_pair(q: Sql) -> tuple[dict[str, int], int, int, dict[str, int]]:
    """Steps 2, 3 and 7: match claims, pair reversals, hold repeats and gated fallback matches. Returns
    (matched by method, reversals paired, duplicates held, fallback matches held by reason)."""
    matched = _match_claims(q)
    reversals_paired = _pair_reversals(q)
    duplicates = _hold_duplicates(q)
    fallback_held = _gate_fallback(q, matched)
    if q.run(
        """UPDATE cf_cp SET reversal_of_id = NULL
           WHERE reversal_of_id IN (SELECT id FROM cf_cp WHERE dup_of IS NOT NULL OR hold IS NOT NULL)"""
    ).rowcount:
        # A reversal paired with a payment that is now held: pair it again among the payments that post.
        reversals_paired = _pair_reversals(q)
    return matched, reversals_paired, duplicates, fallback_held


def _cas_totals(q: Sql) -> None:
    """``cf_post_adj``: CAS totals per claim payment (and whether any non-PR adjustment carries a denial
    CARC), in one pass over the adjustments of the matched open claim payments."""
    postable = sql_in(POSTABLE)
    q.temp_table(
        "cf_post_adj",
        f"""SELECT a.claim_payment_id AS cp_id,
                   {cas.sum_sql(cas.CONTRACTUAL)} AS co,
                   {cas.sum_sql(cas.PATIENT_RESPONSIBILITY)} AS pr,
                   {cas.sum_sql(cas.OTHER)} AS oa,
                   MAX(CASE WHEN {cas.condition_sql(cas.NOT_PATIENT)} AND a.amount <> 0
                             AND a.reason_code NOT IN {non_denial_codes_sql()} THEN 1 ELSE 0 END) AS denial,
                   {cas.sum_sql(cas.CONTRACTUAL, also=L.PRIOR_PAYER_CAS_SQL.format(a="a", c="c"))} AS co23,
                   {cas.sum_sql(cas.OTHER, also=L.PRIOR_PAYER_CAS_SQL.format(a="a", c="c"))} AS oa23,
                   MAX(CASE WHEN NOT {L.FOLLOWS_BILLED_CLAIM_SQL.format(c="c")} THEN 0
                            ELSE cp.charge - (SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e
                                              WHERE e.claim_id = c.id AND e.entry_type = {bind(EntryType.COB_TRANSFER)}
                                                AND e.account = {bind(Account.AR_PAYER)}) END) AS prior
            FROM cf_cp cp JOIN adjustments a ON a.claim_payment_id = cp.id
            JOIN claims c ON c.id = cp.claim_id
            WHERE cp.claim_id IS NOT NULL AND cp.status_code IN {postable} AND cp.dup_of IS NULL
            GROUP BY a.claim_payment_id""",
    )
    # Secondary/tertiary claims: what earlier payers settled is not this claim's (adjudication.ledger).
    co_post, oa_post = L.cob_adjusted_sql("co", "oa", "co23", "oa23", "prior")
    q.run(f"UPDATE cf_post_adj SET co = {co_post}, oa = {oa_post} WHERE prior <> 0 OR co23 <> 0 OR oa23 <> 0")


def _posting_batch(q: Sql, p: dict[str, Any]) -> int:
    """``cf_post_batch``: the claim payments (and paired reversals) this run posts, each with its effective
    date and the claim status it leads to. Returns their number."""
    postable = sql_in(POSTABLE)
    return q.temp_table(
        "cf_post_batch",
        f"""SELECT cp.id AS cp_id, cp.claim_id AS claim_id, c.patient_id AS patient_id,
                   c.payer_id AS payer_id, cp.status_code AS status_code, cp.paid AS paid,
                   cp.reversal_of_id AS reversal_of_id, {_EFF} AS eff,
                   CASE WHEN cp.status_code = '22' THEN 'reversal' ELSE 'payment' END AS kind,
                   {outcome_sql("cp", denial="COALESCE(a.denial, 0) = 1")} AS outcome
            FROM cf_cp cp
            JOIN claims c ON c.id = cp.claim_id
            JOIN remittances r ON r.id = cp.remittance_id
            LEFT JOIN cf_post_adj a ON a.cp_id = cp.id
            WHERE cp.dup_of IS NULL
              AND (cp.status_code IN {postable} OR (cp.status_code = '22' AND cp.reversal_of_id IS NOT NULL))
            ORDER BY cp.id""",
        p,
    )


#: Appended to a night's bulk ledger INSERT … SELECT: rows go in in (txn_key, account) order, the unique
#: index's order. At 1,000,000 claims the unordered inserts (hash-join order) touched the ledger's B-trees
#: at random and each entry cost more than its share of a sort; the night's driving temporary tables are
#: kept in id order for the same reason (a 959,901-claim UPDATE: 55 s in random order, 40 s in id order).
_IN_KEY_ORDER = " ORDER BY 1, 3"

#: Columns of the ledger rows posted from ``cf_post_batch`` (alias ``b``), and their values after txn_key,
#: entry_type, account and amount.
_BATCH_COLS = (
    "txn_key, entry_type, account, amount, claim_id, patient_id, payer_id, claim_payment_id, "
    "effective_date, created_at"
)
_BATCH_COMMON = "b.claim_id, b.patient_id, b.payer_id, b.cp_id, b.eff, :now"


def _post_payer_payments(q: Sql, p: dict[str, Any]) -> int:
    """``pay:`` per payment: cash +paid / ar_payer −paid."""
    return q.run(
        f"""INSERT INTO ledger_entries ({_BATCH_COLS})
            SELECT {q.key("pay:", "b.cp_id")}, {bind(EntryType.PAYER_PAYMENT)}, {bind(Account.CASH)}, b.paid, {_BATCH_COMMON}
            FROM cf_post_batch b WHERE b.kind = 'payment' AND b.paid <> 0
            UNION ALL
            SELECT {q.key("pay:", "b.cp_id")}, {bind(EntryType.PAYER_PAYMENT)}, {bind(Account.AR_PAYER)}, -b.paid, {_BATCH_COMMON}
            FROM cf_post_batch b WHERE b.kind = 'payment' AND b.paid <> 0{_IN_KEY_ORDER}""",
        p,
    ).rowcount


def _post_cas(q: Sql, p: dict[str, Any]) -> int:
    """``co:``/``oa:``/``pr:``: CAS adjustments, one transaction per claim payment and group family."""
    entries = 0
    for prefix, entry_type, debit, column in (
        ("co:", EntryType.CONTRACTUAL, Account.CONTRACTUAL, "co"),
        ("oa:", EntryType.OTHER_ADJUSTMENT, Account.ADJUSTMENTS, "oa"),
        ("pr:", EntryType.PR_TRANSFER, Account.AR_PATIENT, "pr"),
    ):
        entries += q.run(
            f"""INSERT INTO ledger_entries ({_BATCH_COLS})
                SELECT {q.key(prefix, "b.cp_id")}, {bind(entry_type)}, {bind(debit)}, a.{column}, {_BATCH_COMMON}
                FROM cf_post_batch b JOIN cf_post_adj a ON a.cp_id = b.cp_id WHERE a.{column} <> 0
                UNION ALL
                SELECT {q.key(prefix, "b.cp_id")}, {bind(entry_type)}, {bind(Account.AR_PAYER)}, -a.{column}, {_BATCH_COMMON}
                FROM cf_post_batch b JOIN cf_post_adj a ON a.cp_id = b.cp_id WHERE a.{column} <> 0{_IN_KEY_ORDER}""",
            p,
        ).rowcount
    return entries


def _post_reversals(q: Sql, p: dict[str, Any]) -> int:
    """``rev:``: the exact negation of every row the original posted (found by its txn_keys), under new
    keys. Originals posted in this same batch are already in the ledger (inserted before)."""
    reversible = bind_in(L.REVERSIBLE)
    q.temp_table(
        "cf_rev_keys",
        " UNION ALL ".join(
            f"""SELECT b.cp_id AS cp_id, b.eff AS eff, {q.key(k, "b.reversal_of_id")} AS txn_key
                FROM cf_post_batch b WHERE b.kind = 'reversal'"""
            for k in ("pay:", "co:", "oa:", "pr:")
        ),
    )
    return q.run(
        f"""INSERT INTO ledger_entries ({_BATCH_COLS})
            SELECT {q.key("rev:", "k.cp_id")} || ':' || e.txn_key, {bind(EntryType.REVERSAL)}, e.account, -e.amount,
                   e.claim_id, e.patient_id, e.payer_id, k.cp_id, k.eff, :now
            FROM cf_rev_keys k
            JOIN ledger_entries e ON e.txn_key = k.txn_key AND e.entry_type IN {reversible}""",
        p,
    ).rowcount


def _clear_unapplied(q: Sql, p: dict[str, Any]) -> int:
    """``unm-clear:``: payments that sat in unapplied cash (unmatched on an earlier run) and now match."""
    return q.run(
        f"""INSERT INTO ledger_entries ({_BATCH_COLS})
            SELECT {q.key("unm-clear:", "b.cp_id")}, {bind(EntryType.UNAPPLIED)}, {bind(Account.UNAPPLIED_CASH)}, -e.amount, {_BATCH_COMMON}
            FROM cf_post_batch b JOIN ledger_entries e
              ON e.txn_key = {q.key("unm:", "b.cp_id")} AND e.account = {bind(Account.UNAPPLIED_CASH)}
            UNION ALL
            SELECT {q.key("unm-clear:", "b.cp_id")}, {bind(EntryType.UNAPPLIED)}, {bind(Account.CASH)}, e.amount, {_BATCH_COMMON}
            FROM cf_post_batch b JOIN ledger_entries e
              ON e.txn_key = {q.key("unm:", "b.cp_id")} AND e.account = {bind(Account.UNAPPLIED_CASH)}""",
        p,
    ).rowcount


def _resolve_unmatched(q: Sql) -> int:
    """Unmatched payments that post in this run are resolved."""
    return q.run(
        """UPDATE unmatched_payments SET resolved = true
           WHERE resolved = false AND claim_payment_id IN (SELECT cp_id FROM cf_post_batch)"""
    ).rowcount


def _batch_totals(q: Sql) -> tuple[Decimal, Decimal, int]:
    """Paid, reversed (money) and the number of reversals of this run."""
    paid_total = q.money(q.scalar("SELECT SUM(paid) FROM cf_post_batch WHERE kind = 'payment'"))
    reversed_total = q.money(q.scalar("SELECT SUM(paid) FROM cf_post_batch WHERE kind = 'reversal'"))
    n_reversals = int(q.scalar("SELECT COUNT(*) FROM cf_post_batch WHERE kind = 'reversal'") or 0)
    return paid_total, reversed_total, n_reversals


def _audit_reversals(q: Sql, actor: str, now: dt.datetime) -> None:
    """One audit row per posted reversal."""
    rev_detail = q.json_object(claim_id="b.claim_id", original_claim_payment_id="b.reversal_of_id")
    q.run(
        f"""INSERT INTO audit_log (at, actor, action, object_type, object_id, detail)
            SELECT :now, :actor, 'reversal', 'claim_payment', CAST(b.cp_id AS TEXT), {rev_detail}
            FROM cf_post_batch b WHERE b.kind = 'reversal'""",
        {"now": now, "actor": actor[:120]},
    )


def _write_claim_payments(q: Sql, p: dict[str, Any]) -> None:
    """The one write to claim_payments: matches (also of payments left unposted), pairs, posted_at."""
    q.run(
        """UPDATE claim_payments SET claim_id = u.claim_id, match_method = u.method,
                  reversal_of_id = u.reversal_of_id, correction_of_id = u.correction_of_id,
                  duplicate_of_id = u.dup_of,
                  posted_at = CASE WHEN u.posted = 1 THEN :now ELSE NULL END
           FROM (SELECT c.id AS id, c.claim_id AS claim_id, c.method AS method,
                        c.reversal_of_id AS reversal_of_id, c.correction_of_id AS correction_of_id,
                        c.dup_of AS dup_of, CASE WHEN b.cp_id IS NULL THEN 0 ELSE 1 END AS posted
                 FROM cf_cp c LEFT JOIN cf_post_batch b ON b.cp_id = c.id
                 WHERE b.cp_id IS NOT NULL OR c.claim_id IS NOT NULL OR c.dup_of IS NOT NULL) u
           WHERE u.id = claim_payments.id""",
        p,
    )
    if q.pg:
        q.run("ANALYZE claim_payments")


def _post_charges(q: Sql, now: dt.datetime) -> int:
    first = "(SELECT claim_id, MIN(created_at) AS first_at FROM submissions GROUP BY claim_id)"
    cols = "txn_key, entry_type, account, amount, claim_id, patient_id, payer_id, effective_date, created_at"
    sel = f"""SELECT {q.key("chg:", "c.id")}, {bind(EntryType.CHARGE)}, {{acct}}, {{sign}}c.total_charge, c.id,
                     c.patient_id, c.payer_id, {q.date_of("f.first_at")}, :now
              FROM claims c JOIN {first} f ON f.claim_id = c.id
              WHERE c.total_charge <> 0 AND NOT {L.FOLLOWS_BILLED_CLAIM_SQL.format(c="c")}
                AND {q.not_posted("chg:", "c.id")}"""
    n = q.run(
        f"INSERT INTO ledger_entries ({cols}) "
        + sel.format(acct=bind(Account.AR_PAYER), sign="")
        + " UNION ALL "
        + sel.format(acct=bind(Account.REVENUE), sign="-")
        + _IN_KEY_ORDER,
        {"now": now},
    ).rowcount
    return n // 2 + _post_cob(q, now)


def _post_cob(q: Sql, now: dt.datetime) -> int:
    """``cob:<claim_id>`` for every submitted secondary/tertiary claim: no revenue; the patient share the
    claim it follows left (Σ ar_patient of its ``pr:``/``rev:`` rows) moves to this claim's ar_payer."""
    first = "(SELECT claim_id, MIN(created_at) AS first_at FROM submissions GROUP BY claim_id)"
    prior = f"""(SELECT s.id AS claim_id, MAX(p.id) AS prior_id FROM claims s
                 JOIN claims p ON (p.id = s.primary_claim_id AND s.responsibility = 'S')
                   OR (p.primary_claim_id = s.primary_claim_id AND p.responsibility = 'S'
                       AND s.responsibility = 'T')
                 WHERE {L.FOLLOWS_BILLED_CLAIM_SQL.format(c="s")} GROUP BY s.id)"""
    q.temp_table(
        "cf_cob",
        f"""SELECT c.id AS claim_id, c.patient_id AS patient_id, c.payer_id AS payer_id, pr.prior_id AS prior_id,
                   p.payer_id AS prior_payer_id, {q.date_of("f.first_at")} AS eff,
                   (SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e
                    WHERE e.claim_id = pr.prior_id AND e.account = {bind(Account.AR_PATIENT)}
                      AND e.entry_type IN ({bind(EntryType.PR_TRANSFER)}, {bind(EntryType.REVERSAL)})) AS amount
            FROM claims c JOIN {first} f ON f.claim_id = c.id
            JOIN {prior} pr ON pr.claim_id = c.id JOIN claims p ON p.id = pr.prior_id
            WHERE {q.not_posted("cob:", "c.id")}""",
    )
    cols = "txn_key, entry_type, account, amount, claim_id, patient_id, payer_id, effective_date, created_at"
    n = q.run(
        f"""INSERT INTO ledger_entries ({cols})
            SELECT {q.key("cob:", "b.claim_id")}, {bind(EntryType.COB_TRANSFER)}, {bind(Account.AR_PAYER)}, b.amount, b.claim_id,
                   b.patient_id, b.payer_id, b.eff, :now FROM cf_cob b WHERE b.amount <> 0
            UNION ALL
            SELECT {q.key("cob:", "b.claim_id")}, {bind(EntryType.COB_TRANSFER)}, {bind(Account.AR_PATIENT)}, -b.amount, b.prior_id,
                   b.patient_id, b.prior_payer_id, b.eff, :now FROM cf_cob b WHERE b.amount <> 0""",
        {"now": now},
    ).rowcount
    q.drop("cf_cob")
    return n // 2


def _match_claims(q: Sql) -> dict[str, int]:
    """Exact PCN matches were made when cf_cp was built; now truncated PCNs, then payer claim numbers."""
    never = sql_in(NEVER_MATCHED)
    open_cp = f"u.claim_id IS NULL AND u.status_code NOT IN {never}"
    exact = int(q.scalar("SELECT COUNT(*) FROM cf_cp WHERE method = 'pcn'") or 0)
    truncated = 0
    lengths = [
        int(r[0])
        for r in q.run(f"SELECT DISTINCT length(u.pcn) FROM cf_cp u WHERE {open_cp}")
        if r[0] is not None and int(r[0]) >= MIN_PREFIX
    ]
    for length in sorted(lengths):
        # One length at a time so the join key (substr of our PCN) is a plain expression: a hash join.
        truncated += q.run(
            f"""UPDATE cf_cp SET claim_id = m.claim_id, method = 'pcn_truncated'
                FROM (SELECT u.id AS id, MIN(s.claim_id) AS claim_id
                      FROM cf_cp u
                      JOIN submissions s ON substr(s.patient_control_number, 1, {length}) = u.pcn
                      WHERE {open_cp} AND length(u.pcn) = {length}
                        AND length(s.patient_control_number) > {length}
                      GROUP BY u.id HAVING COUNT(DISTINCT s.claim_id) = 1) m
                WHERE cf_cp.id = m.id"""
        ).rowcount
    # The claim a payer claim number names is decided once per distinct CLP07 (per open payment, a file
    # of N loops sharing one CLP07 looked at N × N claim payments).
    q.temp_table(
        "cf_clp07",
        f"""SELECT x.clp07 AS clp07, MIN(x.claim_id) AS claim_id FROM (
                SELECT k.clp07 AS clp07, c.id AS claim_id
                FROM (SELECT DISTINCT u.payer_claim_number AS clp07 FROM cf_cp u
                      WHERE {open_cp} AND u.payer_claim_number IS NOT NULL) k
                JOIN claims c ON c.payer_claim_number = k.clp07
                UNION
                SELECT k.clp07, o.claim_id
                FROM (SELECT DISTINCT u.payer_claim_number AS clp07 FROM cf_cp u
                      WHERE {open_cp} AND u.payer_claim_number IS NOT NULL) k
                JOIN claim_payments o ON o.payer_claim_number = k.clp07 AND o.claim_id IS NOT NULL
                UNION
                SELECT o.payer_claim_number, o.claim_id FROM cf_cp o
                WHERE o.claim_id IS NOT NULL AND o.payer_claim_number IS NOT NULL
              ) x GROUP BY x.clp07 HAVING COUNT(DISTINCT x.claim_id) = 1""",
    )
    by_number = q.run(
        f"""UPDATE cf_cp SET claim_id = m.claim_id, method = 'payer_number'
            FROM (SELECT u.id AS id, k.claim_id AS claim_id FROM cf_cp u
                  JOIN cf_clp07 k ON k.clp07 = u.payer_claim_number
                  WHERE {open_cp}) m
            WHERE cf_cp.id = m.id"""
    ).rowcount
    q.drop("cf_clp07")
    return {"pcn": exact, "pcn_truncated": truncated, "payer_number": by_number}


def payer_key(r: str = "r") -> str:
    """Who paid, for duplicate detection and fallback gating: the remittance's payer identifier (N1*PR /
    TRN03), else the resolved payer. The same expression on both sides of every comparison."""
    return f"COALESCE({r}.payer_identifier, {r}.trace_payer, CAST({r}.payer_id AS TEXT), '')"


def _live(o: str) -> str:
    """``o`` (a claim payment id) has not been taken back: no posted reversal and no reversal paired
    with it in this batch."""
    return f"""NOT EXISTS (SELECT 1 FROM claim_payments x WHERE x.reversal_of_id = {o} AND x.posted_at IS NOT NULL)
            AND {o} NOT IN (SELECT x.reversal_of_id FROM cf_cp x WHERE x.reversal_of_id IS NOT NULL)"""


def _hold_duplicates(q: Sql) -> int:
    """Mark (``cf_cp.dup_of``) each open payment that repeats a live one: same payer, CLP01, CLP02,
    CLP03, CLP04, CLP05 and CLP07 as a posted payment that was not reversed, or as an earlier open
    payment of this batch. A reversal followed by a new payment with the same amounts is a correction,
    not a repeat: its original is no longer live. Returns how many were newly marked.

    Within the batch each identity's first live payment is found by one GROUP BY (a self-join on the
    identity would be quadratic in a file that repeats one CLP thousands of times)."""
    postable = sql_in(POSTABLE)
    identity = ("payer_key", "pcn", "status_code", "charge", "paid", "pr", "clp07")
    cols = ", ".join(f"o.{c} AS {c}" for c in identity)
    return q.run(
        f"""UPDATE cf_cp SET dup_of = d.oid
            FROM (SELECT x.id AS id, MIN(x.oid) AS oid FROM (
                    SELECT u.id AS id, o.id AS oid
                    FROM cf_cp u
                    JOIN claim_payments o ON o.patient_control_number = u.pcn AND o.posted_at IS NOT NULL
                    JOIN remittances ro ON ro.id = o.remittance_id
                    WHERE u.dup_of IS NULL AND u.status_code IN {postable}
                      AND o.status_code = u.status_code AND o.charge = u.charge AND o.paid = u.paid
                      AND COALESCE(o.patient_responsibility, 0) = u.pr
                      AND COALESCE(o.payer_claim_number, '') = u.clp07
                      AND {payer_key("ro")} = u.payer_key AND {_live("o.id")}
                    UNION ALL
                    SELECT u.id, f.first_id
                    FROM cf_cp u
                    JOIN (SELECT {cols}, MIN(o.id) AS first_id FROM cf_cp o
                          WHERE o.status_code IN {postable} AND o.dup_of IS NULL
                            AND NOT EXISTS (SELECT 1 FROM cf_cp x WHERE x.reversal_of_id = o.id)
                          GROUP BY {", ".join(f"o.{c}" for c in identity)}) f
                      ON {" AND ".join(f"f.{c} = u.{c}" for c in identity)} AND f.first_id < u.id
                    WHERE u.dup_of IS NULL AND u.status_code IN {postable}
                  ) x GROUP BY x.id) d
            WHERE cf_cp.id = d.id"""
    ).rowcount


def _gate_fallback(q: Sql, matched: dict[str, int]) -> dict[str, int]:
    """Fallback matches (truncated CLP01, CLP07) never stack payments on one claim. A fallback-matched
    payment is held (``cf_cp.hold``, its match undone) when the claim already has a live payment from the
    same payer — posted, or matched exactly in this batch; a correction after a reversal is fine, the
    original is no longer live — and only the first fallback match per claim posts in one run. Adjusts
    ``matched`` to the matches that stand; returns the held counts by reason."""
    postable = sql_in(POSTABLE)
    fallback = sql_in(FALLBACK_METHODS)
    open_fb = (
        f"u.method IN {fallback} AND u.status_code IN {postable} AND u.dup_of IS NULL AND u.hold IS NULL"
    )
    # The few fallback matches, then the claims' live payments from the same payer: hash joins against
    # this small table (a correlated EXISTS per match scanned cf_cp once per match).
    q.temp_table(
        "cf_fb",
        f"SELECT u.id AS id, u.claim_id AS claim_id, u.payer_key AS payer_key FROM cf_cp u WHERE {open_fb}",
    )
    paid = q.run(
        f"""UPDATE cf_cp SET hold = :already_paid
            WHERE id IN (
                SELECT f.id FROM cf_fb f
                JOIN claim_payments o ON o.claim_id = f.claim_id AND o.posted_at IS NOT NULL
                JOIN remittances ro ON ro.id = o.remittance_id
                WHERE o.status_code IN {postable} AND {payer_key("ro")} = f.payer_key AND {_live("o.id")}
                UNION
                SELECT f.id FROM cf_fb f
                JOIN cf_cp o ON o.claim_id = f.claim_id AND o.payer_key = f.payer_key
                WHERE o.status_code IN {postable} AND o.dup_of IS NULL AND o.method NOT IN {fallback}
                  AND o.id NOT IN (SELECT x.reversal_of_id FROM cf_cp x WHERE x.reversal_of_id IS NOT NULL))""",
        {"already_paid": FALLBACK_ALREADY_PAID},
    ).rowcount
    if paid:
        q.run(
            "DELETE FROM cf_fb WHERE id IN (SELECT id FROM cf_cp WHERE hold = :already_paid)",
            {"already_paid": FALLBACK_ALREADY_PAID},
        )
    one = q.run(
        """UPDATE cf_cp SET hold = :one_per_run
            WHERE id IN (
                SELECT f.id FROM cf_fb f
                JOIN (SELECT claim_id, MIN(id) AS first_id FROM cf_fb GROUP BY claim_id) g ON g.claim_id = f.claim_id
                WHERE f.id > g.first_id)""",
        {"one_per_run": FALLBACK_ONE_PER_RUN},
    ).rowcount
    q.drop("cf_fb")
    for method, n in q.run("SELECT method, COUNT(*) FROM cf_cp WHERE hold IS NOT NULL GROUP BY method").all():
        if method in matched:
            matched[method] -= int(n)
    q.run("UPDATE cf_cp SET claim_id = NULL, method = NULL WHERE hold IS NOT NULL")
    return {FALLBACK_ALREADY_PAID: paid, FALLBACK_ONE_PER_RUN: one}


def _pair_reversals(q: Sql) -> int:
    """Pair each open, matched reversal with the original payment it takes back: first by exact
    negation of CLP03/CLP04, then (for payers whose reversal amounts differ) by payer claim number.
    The original is the latest posted (or earlier in this batch), not yet reversed payment on the claim;
    when two reversals want the same original the earlier reversal gets it."""
    postable = sql_in(POSTABLE)
    # Candidate originals: posted payments on the claims that have an open reversal, and this batch.
    q.temp_table(
        "cf_orig",
        f"""SELECT o.id AS id, o.claim_id AS claim_id, o.paid AS paid, o.charge AS charge,
                   o.payer_claim_number AS payer_claim_number, 1 AS posted
            FROM claim_payments o
            WHERE o.posted_at IS NOT NULL AND o.status_code IN {postable}
              AND o.claim_id IN (SELECT claim_id FROM cf_cp WHERE status_code = '22' AND claim_id IS NOT NULL)
              AND NOT EXISTS (SELECT 1 FROM claim_payments x WHERE x.reversal_of_id = o.id)
            UNION ALL
            SELECT o.id, o.claim_id, o.paid, o.charge, o.payer_claim_number, 0
            FROM cf_cp o WHERE o.claim_id IS NOT NULL AND o.status_code IN {postable}
              AND o.dup_of IS NULL AND o.hold IS NULL
              AND o.claim_id IN (SELECT claim_id FROM cf_cp WHERE status_code = '22' AND claim_id IS NOT NULL)""",
    )
    for condition in (
        "o.paid = -r.paid AND o.charge = -r.charge",
        "r.payer_claim_number IS NOT NULL AND o.payer_claim_number = r.payer_claim_number",
    ):
        q.run(
            f"""WITH taken AS (
                    SELECT DISTINCT reversal_of_id AS oid FROM cf_cp WHERE reversal_of_id IS NOT NULL
                ), cand AS (
                    SELECT r.id AS rid, o.id AS oid,
                           ROW_NUMBER() OVER (PARTITION BY r.id ORDER BY
                               CASE WHEN o.payer_claim_number = r.payer_claim_number THEN 0 ELSE 1 END,
                               o.posted DESC, o.id DESC) AS rn
                    FROM cf_cp r
                    JOIN cf_orig o ON o.claim_id = r.claim_id AND (o.posted = 1 OR o.id < r.id)
                    LEFT JOIN taken t ON t.oid = o.id
                    WHERE r.status_code = '22' AND r.claim_id IS NOT NULL AND r.reversal_of_id IS NULL
                      AND t.oid IS NULL AND {condition}
                ), pick AS (
                    SELECT rid, oid, ROW_NUMBER() OVER (PARTITION BY oid ORDER BY rid) AS rn2
                    FROM cand WHERE rn = 1
                )
                UPDATE cf_cp SET reversal_of_id = pick.oid
                FROM pick WHERE pick.rid = cf_cp.id AND pick.rn2 = 1"""
        )
    q.drop("cf_orig")
    return int(
        q.scalar(
            "SELECT COUNT(*) FROM cf_cp WHERE claim_id IS NOT NULL AND status_code = '22' AND reversal_of_id IS NOT NULL"
        )
        or 0
    )


def _pair_corrections(q: Sql) -> int:
    """The first payment on a claim after a paired reversal is its correction (``correction_of_id`` =
    the original the reversal took back)."""
    postable = sql_in(POSTABLE)
    count = "SELECT COUNT(*) FROM cf_cp WHERE correction_of_id IS NOT NULL"
    before = int(q.scalar(count) or 0)
    q.run(
        f"""WITH rv AS (
                SELECT r.id AS rid, r.claim_id AS claim_id, r.reversal_of_id AS oid FROM claim_payments r
                WHERE r.status_code = '22' AND r.reversal_of_id IS NOT NULL
                  AND r.claim_id IN (SELECT claim_id FROM cf_post_batch)
                UNION ALL
                SELECT b.cp_id, b.claim_id, b.reversal_of_id FROM cf_post_batch b WHERE b.kind = 'reversal'
            ), pays AS (
                SELECT c.id AS id, c.claim_id AS claim_id FROM claim_payments c
                WHERE c.posted_at IS NOT NULL AND c.status_code IN {postable}
                  AND c.claim_id IN (SELECT claim_id FROM rv)
                UNION ALL
                SELECT b.cp_id, b.claim_id FROM cf_post_batch b WHERE b.kind = 'payment'
            ), nx AS (
                SELECT rv.rid AS rid, rv.oid AS oid, c.id AS cid,
                       ROW_NUMBER() OVER (PARTITION BY rv.rid ORDER BY c.id) AS rn
                FROM rv JOIN pays c ON c.claim_id = rv.claim_id AND c.id > rv.rid
            ), pick AS (
                SELECT cid, oid, ROW_NUMBER() OVER (PARTITION BY cid ORDER BY rid DESC) AS rn2
                FROM nx WHERE rn = 1
            )
            UPDATE cf_cp SET correction_of_id = pick.oid
            FROM pick
            WHERE pick.cid = cf_cp.id AND pick.rn2 = 1 AND cf_cp.correction_of_id IS NULL"""
    )
    # (rowcount of a WITH … UPDATE is not reported by every driver)
    return int(q.scalar(count) or 0) - before


def _match_lines(q: Sql) -> tuple[int, int]:
    """Service line payments of this batch → our service lines: REF*6R, else procedure + modifiers +
    charge + date when that identifies exactly one line of the claim."""
    by_6r = q.run(
        """UPDATE service_line_payments SET service_line_id = m.sl_id
           FROM (SELECT p.id AS slp_id, sl.id AS sl_id
                 FROM cf_post_batch b
                 JOIN service_line_payments p ON p.claim_payment_id = b.cp_id
                 JOIN service_lines sl ON sl.line_control_number = p.line_control_number AND sl.claim_id = b.claim_id
                 WHERE p.service_line_id IS NULL) m
           WHERE service_line_payments.id = m.slp_id"""
    ).rowcount
    by_content = q.run(
        """UPDATE service_line_payments SET service_line_id = m.sl_id
           FROM (SELECT p.id AS slp_id, MIN(sl.id) AS sl_id
                 FROM cf_post_batch b
                 JOIN service_line_payments p ON p.claim_payment_id = b.cp_id
                 JOIN service_lines sl ON sl.claim_id = b.claim_id
                  AND (sl.procedure_code = p.procedure_code
                       OR (sl.procedure_code IS NULL AND sl.revenue_code = COALESCE(p.revenue_code, p.procedure_code)))
                  AND COALESCE(sl.modifiers, '') = COALESCE(p.modifiers, '')
                  AND sl.charge = p.charge
                  AND (p.service_date IS NULL OR sl.service_date = p.service_date)
                 WHERE p.service_line_id IS NULL
                   AND NOT EXISTS (SELECT 1 FROM service_line_payments t
                                   WHERE t.claim_payment_id = p.claim_payment_id AND t.service_line_id = sl.id)
                 GROUP BY p.id HAVING COUNT(*) = 1) m
           WHERE service_line_payments.id = m.slp_id"""
    ).rowcount
    unmatched = int(
        q.scalar(
            """SELECT COUNT(*) FROM cf_post_batch b JOIN service_line_payments p ON p.claim_payment_id = b.cp_id
           WHERE p.service_line_id IS NULL"""
        )
        or 0
    )
    return by_6r + by_content, unmatched


def _update_claim_status(q: Sql, now: dt.datetime) -> tuple[dict[str, int], int]:
    q.temp_table(
        "cf_post_latest",
        """SELECT b.claim_id AS claim_id, b.outcome AS outcome FROM cf_post_batch b
           JOIN (SELECT claim_id, MAX(cp_id) AS cp_id FROM cf_post_batch GROUP BY claim_id) m
             ON m.cp_id = b.cp_id
           ORDER BY b.claim_id""",
    )
    # A reversal that arrives after the replacement's payment (frequency 7) takes back the original only:
    # the claim keeps the outcome of its payment that is still live.
    live = sql_in(POSTABLE)
    q.run(
        f"""DELETE FROM cf_post_latest WHERE outcome = {bind(S.REVERSED)} AND (
              EXISTS (SELECT 1 FROM claim_payments lp WHERE lp.claim_id = cf_post_latest.claim_id
                      AND lp.posted_at IS NOT NULL AND lp.status_code IN {live} AND lp.duplicate_of_id IS NULL
                      AND NOT EXISTS (SELECT 1 FROM claim_payments x WHERE x.reversal_of_id = lp.id
                                      AND x.posted_at IS NOT NULL)
                      AND lp.id NOT IN (SELECT b.reversal_of_id FROM cf_post_batch b WHERE b.kind = 'reversal'))
              OR EXISTS (SELECT 1 FROM cf_post_batch bp WHERE bp.claim_id = cf_post_latest.claim_id
                         AND bp.kind = 'payment'
                         AND bp.cp_id NOT IN (SELECT b.reversal_of_id FROM cf_post_batch b WHERE b.kind = 'reversal')))"""
    )
    to_reversed = bind_in(sources_for(S.REVERSED))
    to_outcome = bind_in(sources_for(S.PAID))
    pending = """SELECT l.outcome, COUNT(*) FROM cf_post_latest l JOIN claims c ON c.id = l.claim_id
                 WHERE c.status <> l.outcome GROUP BY l.outcome"""
    wanted = {str(o): int(n) for o, n in q.run(pending).all()}
    q.run(
        f"""UPDATE claims SET status = l.outcome, status_changed_at = :now
            FROM cf_post_latest l
            WHERE l.claim_id = claims.id AND claims.status <> l.outcome
              AND ((l.outcome = {bind(S.REVERSED)} AND claims.status IN {to_reversed})
                   OR (l.outcome <> {bind(S.REVERSED)} AND claims.status IN {to_outcome}))""",
        {"now": now},
    )
    left = {str(o): int(n) for o, n in q.run(pending).all()}
    changed = {o: n - left.get(o, 0) for o, n in sorted(wanted.items()) if n - left.get(o, 0)}
    return changed, sum(left.values())


def _count_secondary_due(q: Sql) -> int:
    return int(
        q.scalar(
            """SELECT COUNT(DISTINCT b.claim_id) FROM cf_post_batch b
           JOIN cf_post_adj a ON a.cp_id = b.cp_id
           JOIN claims c ON c.id = b.claim_id
           WHERE b.status_code = '1' AND a.pr > 0 AND c.responsibility = 'P'
             AND EXISTS (SELECT 1 FROM coverages v WHERE v.patient_id = c.patient_id AND v.priority = 2
                         AND (v.effective_to IS NULL OR v.effective_to >= c.service_date_from))
             AND NOT EXISTS (SELECT 1 FROM claims s WHERE s.primary_claim_id = c.id)"""
        )
        or 0
    )


def _record_unmatched(q: Sql, p: dict[str, Any]) -> tuple[int, int]:
    """Open claim payments that did not make it into the batch (claim_payments.posted_at is still NULL)."""
    postable = sql_in(POSTABLE)
    q.temp_table(
        "cf_unm",
        """SELECT cp.id AS id, cp.status_code AS status_code, cp.claim_id AS claim_id, cp.paid AS paid,
                  cp.remittance_id AS remittance_id, cp.dup_of AS dup_of, cp.hold AS hold
           FROM cf_cp cp LEFT JOIN cf_post_batch b ON b.cp_id = cp.id WHERE b.cp_id IS NULL""",
    )
    new = q.run(
        f"""INSERT INTO unmatched_payments (claim_payment_id, reason, resolved, created_at)
            SELECT cp.id, CASE
                WHEN cp.dup_of IS NOT NULL THEN :duplicate
                WHEN cp.hold IS NOT NULL THEN cp.hold
                WHEN cp.status_code = '23' THEN 'CLP02=23: the payer says this is not our claim (forwarded)'
                WHEN cp.status_code = '25' THEN 'CLP02=25: predetermination pricing only, nothing to post'
                WHEN cp.status_code = '22' AND cp.claim_id IS NOT NULL
                    THEN 'reversal (CLP02=22) with no unreversed original payment on claim id '
                         || CAST(cp.claim_id AS TEXT)
                WHEN cp.status_code = '22' THEN 'reversal (CLP02=22) of a claim that is not ours'
                WHEN cp.status_code NOT IN {postable} THEN 'unsupported CLP02 status code'
                ELSE 'no unique claim by patient control number (exact or truncated) or payer claim number'
                END, false, :now
            FROM cf_unm cp
            WHERE NOT EXISTS (SELECT 1 FROM unmatched_payments u WHERE u.claim_payment_id = cp.id)""",
        {**p, "duplicate": DUPLICATE},
    ).rowcount
    # A payment waiting unmatched that is now held (as a repeat, or a fallback match that would stack)
    # says so.
    q.run(
        """UPDATE unmatched_payments SET reason = h.reason
            FROM (SELECT id, CASE WHEN dup_of IS NOT NULL THEN :duplicate ELSE hold END AS reason
                  FROM cf_unm WHERE dup_of IS NOT NULL OR hold IS NOT NULL) h
            WHERE unmatched_payments.claim_payment_id = h.id AND unmatched_payments.resolved = false
              AND unmatched_payments.reason <> h.reason""",
        {"duplicate": DUPLICATE},
    )
    # Money that arrived for an unmatched claim payment is cash we hold, in unapplied cash, until worked.
    sel = f"""SELECT {q.key("unm:", "cp.id")}, {bind(EntryType.UNAPPLIED)}, {{acct}}, {{sign}}cp.paid, r.payer_id, cp.id,
                     {_EFF}, :now
              FROM cf_unm cp JOIN remittances r ON r.id = cp.remittance_id
              WHERE cp.paid <> 0 AND {q.not_posted("unm:", "cp.id")}"""
    entries = q.run(
        "INSERT INTO ledger_entries (txn_key, entry_type, account, amount, payer_id, claim_payment_id, "
        "effective_date, created_at) "
        + sel.format(acct=bind(Account.CASH), sign="")
        + " UNION ALL "
        + sel.format(acct=bind(Account.UNAPPLIED_CASH), sign="-"),
        p,
    ).rowcount
    q.drop("cf_unm")
    return new, entries


def _link_plb(q: Sql) -> int:
    """PLB03-2 naming one of our claims: our PCN first, then a payer claim number (unique only).
    Only PLB adjustments not yet posted are linked (the link decides the posting's counter-account);
    they are collected in ``cf_plb`` (small) so every join below is an index lookup."""
    q.temp_table(
        "cf_plb",
        f"""SELECT pa.id AS id, pa.remittance_id AS remittance_id, pa.reason_code AS reason_code,
                   pa.reference AS reference, pa.amount AS amount, pa.claim_id AS claim_id,
                   CASE WHEN pa.claim_id IS NULL THEN 0 ELSE 1 END AS preset
            FROM provider_adjustments pa
            WHERE {q.not_posted("plb:", "pa.id")}""",
    )
    q.run(
        """UPDATE cf_plb SET claim_id = s.claim_id FROM submissions s
           WHERE cf_plb.claim_id IS NULL AND s.patient_control_number = cf_plb.reference"""
    )
    q.run(
        """UPDATE cf_plb SET claim_id = m.claim_id
           FROM (SELECT x.id AS id, MIN(x.claim_id) AS claim_id FROM (
                   SELECT pa.id AS id, c.id AS claim_id FROM cf_plb pa
                   JOIN claims c ON c.payer_claim_number = pa.reference
                   WHERE pa.claim_id IS NULL
                   UNION
                   SELECT pa.id, cp.claim_id FROM cf_plb pa
                   JOIN claim_payments cp ON cp.payer_claim_number = pa.reference
                   WHERE pa.claim_id IS NULL AND cp.claim_id IS NOT NULL
                 ) x GROUP BY x.id HAVING COUNT(DISTINCT x.claim_id) = 1) m
           WHERE cf_plb.id = m.id"""
    )
    return q.run(
        """UPDATE provider_adjustments SET claim_id = l.claim_id
           FROM cf_plb l WHERE l.id = provider_adjustments.id AND l.preset = 0 AND l.claim_id IS NOT NULL"""
    ).rowcount


def _post_plb(q: Sql, p: dict[str, Any]) -> tuple[int, int]:
    counter = (
        f"CASE WHEN pa.reason_code = 'L6' THEN {bind(Account.INTEREST_INCOME)} "
        f"WHEN pa.claim_id IS NOT NULL THEN {bind(Account.AR_PAYER)} ELSE {bind(Account.PAYER_OFFSETS)} END"
    )
    sel = f"""SELECT {q.key("plb:", "pa.id")}, {bind(EntryType.PROVIDER_ADJUSTMENT)}, {{acct}}, {{sign}}pa.amount, pa.claim_id,
                     c.patient_id, COALESCE(c.payer_id, r.payer_id), pa.id, {_EFF}, :now
              FROM cf_plb pa
              JOIN remittances r ON r.id = pa.remittance_id
              LEFT JOIN claims c ON c.id = pa.claim_id
              WHERE pa.amount <> 0"""
    entries = q.run(
        "INSERT INTO ledger_entries (txn_key, entry_type, account, amount, claim_id, patient_id, payer_id, "
        "provider_adjustment_id, effective_date, created_at) "
        + sel.format(acct=bind(Account.CASH), sign="-")
        + " UNION ALL "
        + sel.format(acct=counter, sign=""),
        p,
    ).rowcount
    q.drop("cf_plb")
    return entries // 2, entries


def money_str(value: Decimal) -> str:
    return f"{value:.2f}"
