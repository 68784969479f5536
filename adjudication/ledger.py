"""The double-entry ledger: accounts, txn_key scheme, and the Python-side writer.

Every business event is one or more *transactions*; a transaction is identified by its ``txn_key`` and
consists of ledger rows that **sum to zero** (debits positive, credits negative). ``ledger_entries`` has
``UNIQUE(txn_key, account)`` and every ``txn_key`` is derived from the id of the source row it posts, so
the database itself refuses to post the same thing twice: a second attempt collides on the key and the
whole posting transaction rolls back.

Accounts (the sign is the normal balance)::

    ar_payer         + asset      what payers still owe on our claims (insurance balance)
    ar_patient       + asset      what patients owe (patient balance)
    cash             + asset      money received (payer EFT/checks, patient payments)
    revenue          − income     gross charges
    contractual      + contra     CO adjustments (fee schedule reductions, contractual denials)
    adjustments      + contra     OA / PI / CR and any other non-PR group adjustments
    write_off        + contra     balances we gave up on (small balances, bad debt, …)
    interest_income  − income     payer interest (PLB L6)
    unapplied_cash   − liability  payer money for a claim payment we could not match to a claim
    payer_offsets    ± clearing   provider-level adjustments (PLB) that name no claim of ours
    patient_credit   − liability  patient money not (yet) applied to a claim balance
    refunds_due      − liability  patient credits we decided to pay back

txn_key scheme (ids are database ids of the source rows)::

    chg:<claim_id>                     charge at submission     ar_payer +charge   / revenue −charge
                                       (primary claims only)
    cob:<claim_id>                     secondary/tertiary claim ar_payer +X (this claim, next payer)
                                       submitted                / ar_patient −X (the claim it follows)
    pay:<claim_payment_id>             payer payment (CLP04)    cash +paid          / ar_payer −paid
    co:<claim_payment_id>              Σ CO adjustments         contractual +       / ar_payer −
    oa:<claim_payment_id>              Σ OA/PI/CR/other         adjustments +       / ar_payer −
    pr:<claim_payment_id>              Σ PR (patient resp.)     ar_patient +        / ar_payer −
    rev:<reversal_cp_id>:<orig key>    reversal (CLP02=22)      exact negation of each original row
    plb:<provider_adjustment_id>       PLB adjustment           cash −amount        / counter +amount
    unm:<claim_payment_id>             unmatched payment        cash +paid          / unapplied_cash −paid
    unm-clear:<claim_payment_id>       matched later            unapplied_cash +    / cash −
    ppay:<patient_payment_id>:<n>      patient payment, n-th    cash +x             / ar_patient −x (claim)
                                       application                  or patient_credit −x (no open claim)
    psw:<claim_id>:<n>                 credit swept off an      ar_patient +x       / patient_credit −x
                                       adjudicated claim
    pcr:<claim_id>:<n>                 credit applied           patient_credit +x   / ar_patient −x
    rfd:<patient_id>:<date>            credit → refund due      patient_credit +x   / refunds_due −x
    rfi:<refund_id>                    refund issued            refunds_due +x (patient) or ar_payer +x (payer,
                                       (adjudication.statements)    claim overpaid) / cash −x
    orf:<payment_event_id>             online payment given     ar_patient +x (no claim) / cash −x
                                       back (charge.refunded)
    wo:<claim_id>:<side>:<date>        write-off                write_off +x        / ar_payer|ar_patient −x

Coordination of benefits (secondary/tertiary claims, ``claims.primary_claim_id`` set, responsibility S/T):
an encounter's revenue is booked **once**, by the primary claim's ``chg:``. A secondary claim bills the
next payer for the patient share the earlier payer left; it books no revenue. When it is first submitted,
``cob:<claim_id>`` moves X = the patient responsibility the claim it follows left (Σ ar_patient of that
claim's ``pr:`` and reversal rows; the primary for S, the S claim for T) from that claim's ar_patient to
this claim's ar_payer (the secondary payer now owes it). The secondary 835 then posts ``pay:``/``co:``/
``oa:``/``pr:`` against this claim as usual, except CAS with CARC 23 (prior payer's adjudication, the
OA-23 = charge − X a secondary payer reports): that amount was never in this claim's ar_payer, so it is
not posted (:data:`PRIOR_PAYER_CAS_SQL`). Whatever the secondary leaves as PR comes back to ar_patient on
the secondary claim; a tertiary claim takes it over with its own ``cob:``. Per encounter:
Σ revenue = primary charge; Σ ar_payer + Σ ar_patient over its claims = what is still owed.

CAS adjustments are posted per claim payment and group (``co:``/``oa:``/``pr:``) rather than per CAS
triplet: the same information at a third of the rows (the triplets stay in ``adjustments``), and the
keys are still derived from source rows so double posting is still refused by the database.

PLB (``provider_adjustments``; a positive amount reduces the payment, BPR02 = ΣCLP04 − ΣPLB): cash moves
by −amount and the counter-account takes +amount: ``interest_income`` for L6 (interest, negative
amount: cash up, income credited); ``ar_payer`` of the named claim when PLB03-2 names one of our claims
(WO overpayment recovery, 72 authorized return, FB forwarding balance, …: the payer took money back or
forwarded a balance against that claim, which re-opens/credits its insurance balance); ``payer_offsets``
when it names no claim (a payer-level clearing account the billing office works).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Connection, insert

from claimflow.db.models import LedgerEntry

from .errors import LedgerImbalance


class Account(StrEnum):
    """``ledger_entries.account``: where the money sits (the table in the module docstring). A ``StrEnum``
    of its own, apart from :class:`EntryType`: several names exist in both (``write_off``,
    ``contractual``) and mean different things, so each lives in its own namespace."""

    AR_PAYER = "ar_payer"
    AR_PATIENT = "ar_patient"
    CASH = "cash"
    REVENUE = "revenue"
    CONTRACTUAL = "contractual"
    ADJUSTMENTS = "adjustments"
    WRITE_OFF = "write_off"
    INTEREST_INCOME = "interest_income"
    UNAPPLIED_CASH = "unapplied_cash"
    PAYER_OFFSETS = "payer_offsets"
    PATIENT_CREDIT = "patient_credit"
    REFUNDS_DUE = "refunds_due"


ACCOUNTS: tuple[Account, ...] = tuple(Account)


class EntryType(StrEnum):
    """``ledger_entries.entry_type``: the kind of business event a row belongs to."""

    CHARGE = "charge"
    PAYER_PAYMENT = "payer_payment"
    CONTRACTUAL = "contractual"
    OTHER_ADJUSTMENT = "other_adjustment"
    PR_TRANSFER = "pr_transfer"
    REVERSAL = "reversal"
    PROVIDER_ADJUSTMENT = "provider_adjustment"
    UNAPPLIED = "unapplied"
    PATIENT_PAYMENT = "patient_payment"
    REFUND_DUE = "refund_due"
    CREDIT_SWEEP = "credit_sweep"
    CREDIT_APPLIED = "credit_applied"
    WRITE_OFF = "write_off"
    COB_TRANSFER = "cob_transfer"
    #: A refund paid out (``rfi:``, :mod:`adjudication.statements`).
    REFUND_ISSUED = "refund_issued"
    #: An online payment given back (``orf:``, :mod:`adjudication.statements`).
    ONLINE_REFUND = "online_refund"


#: CAS on a secondary/tertiary claim's 835 that only restates what an earlier payer settled (CARC 23, "the
#: impact of prior payer(s) adjudication including payments and/or adjustments"): never posted to the
#: ledger (the earlier claim's rows already did), never counted in claim_balances. ``{a}`` = adjustments,
#: ``{c}`` = claims.
#: A secondary/tertiary claim that follows a claim claimflow billed (its primary has submissions). Only such
#: a claim takes part in the ``cob:`` scheme above. A follow-up claim whose primary was adjudicated before
#: claimflow (the primary never went out from here, so its charge is in nobody's ledger) is booked like a
#: primary: its own ``chg:``, and every CAS of its 835 posted, CARC 23 included.
FOLLOWS_BILLED_CLAIM_SQL = (
    "({c}.primary_claim_id IS NOT NULL AND EXISTS "
    "(SELECT 1 FROM submissions fbs WHERE fbs.claim_id = {c}.primary_claim_id))"
)

PRIOR_PAYER_CAS_SQL = "(" + FOLLOWS_BILLED_CLAIM_SQL + " AND {a}.reason_code = '23')"


def _least(x: str, y: str) -> str:
    return f"(CASE WHEN ({x}) < ({y}) THEN ({x}) ELSE ({y}) END)"


def _pos(x: str) -> str:
    return f"(CASE WHEN ({x}) > 0 THEN ({x}) ELSE 0 END)"


def cob_adjusted_sql(co: str, oa: str, co23: str, oa23: str, prior: str) -> tuple[str, str]:
    """The CO and OA totals of one 835 claim payment as posted (SQL expressions), given its CO/OA totals,
    the CARC 23 part of each and ``prior`` = CLP03 − what ``cob:`` moved to the claim (0 for a primary
    claim): the amount earlier payers settled. It is dropped from the CAS — CARC 23 first, then the rest
    from CO, then OA (a payer that denies a secondary claim CO-29 for the whole CLP03 reports the prior
    payer's part as CO) — so only the part of the CAS that concerns this claim's ar_payer is posted."""
    rem = _pos(f"{prior} - {co23} - {oa23}")
    dco = _least(_pos(f"{co} - {co23}"), rem)
    doa = _least(_pos(f"{oa} - {oa23}"), f"{rem} - {dco}")
    return f"({co} - {co23} - {dco})", f"({oa} - {oa23} - {doa})"


#: Entry types of a claim payment that a reversal negates.
REVERSIBLE: tuple[EntryType, ...] = (
    EntryType.PAYER_PAYMENT,
    EntryType.CONTRACTUAL,
    EntryType.OTHER_ADJUSTMENT,
    EntryType.PR_TRANSFER,
)


@dataclass(frozen=True, slots=True)
class Entry:
    txn_key: str
    entry_type: str
    account: str
    amount: Decimal
    effective_date: dt.date
    claim_id: int | None = None
    patient_id: int | None = None
    payer_id: int | None = None
    claim_payment_id: int | None = None
    patient_payment_id: int | None = None


def write_entries(conn: Connection, entries: Iterable[Entry]) -> int:
    """Insert entries after checking that every txn_key sums to zero; zero-amount rows are dropped.

    Raises :class:`LedgerImbalance` (nothing written) if a transaction does not balance, and lets the
    database's IntegrityError through if a txn_key/account was posted before.
    """
    rows = [e for e in entries if e.amount != 0]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for e in rows:
        if not isinstance(e.amount, Decimal):
            raise TypeError("ledger amounts are Decimal")
        totals[e.txn_key] += e.amount
    bad = sorted(k for k, v in totals.items() if v != 0)
    if bad:
        raise LedgerImbalance(f"{len(bad)} transaction(s) do not sum to zero, e.g. {bad[0]}")
    if rows:
        conn.execute(
            insert(LedgerEntry),
            [
                {
                    "txn_key": e.txn_key,
                    "entry_type": e.entry_type,
                    "account": e.account,
                    "amount": e.amount,
                    "claim_id": e.claim_id,
                    "patient_id": e.patient_id,
                    "payer_id": e.payer_id,
                    "claim_payment_id": e.claim_payment_id,
                    "patient_payment_id": e.patient_payment_id,
                    "effective_date": e.effective_date,
                }
                for e in rows
            ],
        )
    return len(rows)
