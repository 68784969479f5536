"""835 balancing: report, never fix.

The three balancing rules of 005010X221A1 checked here:

* **transaction** — ``BPR02 = ΣCLP04 − ΣPLB amounts`` (PLB amounts are positive when they reduce the
  payment);
* **claim** — ``CLP03 − CLP04 = Σ claim-level CAS + Σ line-level CAS``;
* **line** — ``SVC02 − SVC03 = Σ line-level CAS``.

A remittance that does not balance is still parsed and stored; each failed rule becomes one
:class:`BalanceException` (with provenance, the claim's patient control number or the line) that a
person explains or the payer corrects. Amounts are compared exactly, as Decimals.

Example::

    for exc in check_claim(claim):
        print(exc.level, exc.reference, exc.expected, exc.found)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from parsers.records import ClaimPayment, RemittanceTotals, ServiceLine

ZERO = Decimal(0)


class BalanceException(NamedTuple):
    """One balancing rule that does not hold."""

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # SE (transaction), CLP (claim) or SVC (line)
    level: str  # "transaction", "claim" or "line"
    kind: str  # "payment", "claim_adjustments" or "line_adjustments"
    patient_control_number: str | None  # CLP01 (claim and line levels)
    line_control_number: str | None  # REF*6R (line level)
    reference: str  # ST02, the PCN, or "PCN line <REF*6R or segment number>"
    expected: Decimal  # BPR02 / CLP03 − CLP04 / SVC02 − SVC03
    found: Decimal  # ΣCLP04 − ΣPLB / ΣCAS / ΣCAS

    @property
    def difference(self) -> Decimal:
        return self.expected - self.found


def _line_exception(
    claim: ClaimPayment, ln: ServiceLine, expected: Decimal, found: Decimal
) -> BalanceException:
    ref = ln.control_number or f"segment {ln.segment_no}"
    return BalanceException(
        claim.file_sha256,
        claim.isa13,
        claim.gs06,
        claim.st02,
        ln.segment_no,
        "line",
        "line_adjustments",
        claim.patient_control_number,
        ln.control_number,
        f"{claim.patient_control_number} line {ref}",
        expected,
        found,
    )


def check_claim(claim: ClaimPayment) -> list[BalanceException]:
    """Claim- and line-level balancing of one claim payment; an empty list when it balances."""
    out: list[BalanceException] | None = None
    total = ZERO
    for a in claim.adjustments:
        total += a[2]
    for ln in claim.lines:
        line_cas = ZERO
        for a in ln.adjustments:
            line_cas += a[2]
        total += line_cas
        if ln.charge - ln.paid != line_cas:
            if out is None:
                out = []
            out.append(_line_exception(claim, ln, ln.charge - ln.paid, line_cas))
    expected = claim.charge - claim.paid
    if expected == total:
        return out if out is not None else []
    exc = BalanceException(
        claim.file_sha256,
        claim.isa13,
        claim.gs06,
        claim.st02,
        claim.segment_no,
        "claim",
        "claim_adjustments",
        claim.patient_control_number,
        None,
        claim.patient_control_number,
        expected,
        total,
    )
    return [exc, *(out or ())]


def check_transaction(
    totals: RemittanceTotals | Decimal, legacy_totals: RemittanceTotals | None = None
) -> list[BalanceException]:
    """Transaction-level balancing: ``BPR02 = ΣCLP04 − ΣPLB``, from the transaction's totals record.

    Call as ``check_transaction(totals)``. (``check_transaction(bpr02, totals)`` is accepted too; the
    BPR02 then comes from the first argument.)
    """
    if isinstance(totals, RemittanceTotals):
        t, payment = totals, totals.payment_amount
    else:
        if legacy_totals is None:
            raise TypeError("check_transaction(totals) needs a RemittanceTotals")
        t, payment = legacy_totals, totals
    found = t.total_paid - t.provider_adjustments
    if payment == found:
        return []
    return [
        BalanceException(
            t.file_sha256,
            t.isa13,
            t.gs06,
            t.st02,
            t.segment_no,
            "transaction",
            "payment",
            None,
            None,
            t.st02 or "",
            payment,
            found,
        )
    ]


def iter_exceptions(records: Iterable[object]) -> Iterator[BalanceException]:
    """Every balance exception of an 835 record stream, in file order."""
    for rec in records:
        if type(rec) is ClaimPayment:
            yield from check_claim(rec)
        elif type(rec) is RemittanceTotals:
            yield from check_transaction(rec)
