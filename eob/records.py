"""EOBs: one explanation of benefits per 835 claim payment, as a patient statement or a posting needs it.

An :class:`EOB` joins the transaction header (payer, check/EFT trace, payment method and date) to one
:class:`~parsers.records.ClaimPayment` and breaks its adjustments down:

* patient responsibility (CAS group ``PR``) into deductible (PR-1), coinsurance (PR-2), copay (PR-3) and
  other PR;
* the other groups into contractual (``CO``), other adjustments (``OA``), payer-initiated reductions
  (``PI``) and corrections (``CR``);
* CARCs as ``"CO-45"`` (group-reason) and RARCs (MIA/MOA at claim level, LQ*HE at line level) —
  computed on access (``carc_codes`` / ``rarc_codes`` properties), so building an EOB stays cheap.

Which bucket an adjustment counts in is :mod:`eob.cas` (one table, shared with the loader and the
posting SQL). Claim-level breakdown fields sum the claim's own CAS and all of its lines' CAS; each
:class:`EOBLine` has the same breakdown for its line alone. ``patient_responsibility`` is what the payer
reported (CLP05); ``patient_responsibility_adjusted`` is ΣPR from the CAS segments — they normally
agree, and when they do not, the CAS detail is what a statement can explain.

Build them streaming with :func:`iter_eobs` (records in → EOBs out) or one at a time with
:func:`build_eob`. EOBs hold patient *control numbers*, never names or member IDs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import NamedTuple

from eob.cas import Breakdown as Breakdown  # re-exported: the EOB API names them
from eob.cas import breakdown as breakdown
from eob.cas import sums
from parsers.native import SPEEDUPS
from parsers.records import Adjustment, ClaimPayment, Remittance

ZERO = Decimal(0)


class EOBLine(NamedTuple):
    """One service line of an EOB."""

    segment_no: int
    control_number: str | None  # REF*6R: our line item control number
    procedure_qualifier: str
    procedure_code: str
    modifiers: tuple[str, ...]
    revenue_code: str
    service_date_from: dt.date | None  # DTM*472, or DTM*150
    service_date_to: dt.date | None  # DTM*472, or DTM*151
    units: Decimal | None
    charge: Decimal
    allowed: Decimal | None  # AMT*B6
    paid: Decimal
    patient_responsibility: Decimal  # ΣPR of the line's CAS
    deductible: Decimal
    coinsurance: Decimal
    copay: Decimal
    other_patient_responsibility: Decimal
    contractual: Decimal
    other_adjustments: Decimal
    payer_initiated: Decimal
    corrections: Decimal
    adjustments: Sequence[Adjustment]
    rarc_codes: Sequence[str]  # LQ*HE

    @property
    def carc_codes(self) -> tuple[str, ...]:
        """``("CO-45", "PR-2")``: group-reason of the line's adjustments, first appearance order."""
        return tuple(dict.fromkeys(f"{a.group}-{a.reason}" for a in self.adjustments))


class EOB(NamedTuple):
    """Explanation of benefits for one claim payment (2100 loop) of an 835."""

    file_sha256: str | None
    isa13: str | None
    gs06: str | None
    st02: str | None
    segment_no: int  # CLP
    payer_name: str
    payer_id: str
    payee_name: str
    payee_id: str  # NPI (N1*PE*…*XX) or tax ID
    trace_number: str  # TRN02: check or EFT number
    payment_method: str  # BPR04: ACH, CHK, NON …
    handling_code: str  # BPR01 (H: notification only, no money moves)
    payment_date: dt.date | None  # BPR16
    patient_control_number: str  # CLP01: our claim
    payer_claim_control_number: str  # CLP07
    original_reference_number: str | None  # REF*F8: the payer's claim this payment corrects
    claim_status: str  # CLP02
    reversal: bool  # CLP02 = 22
    filing_indicator: str
    facility_type: str
    frequency: str
    statement_from: dt.date | None
    statement_to: dt.date | None
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05 (0 when absent)
    patient_responsibility_adjusted: Decimal  # ΣPR of claim and line CAS
    deductible: Decimal
    coinsurance: Decimal
    copay: Decimal
    other_patient_responsibility: Decimal
    contractual: Decimal
    other_adjustments: Decimal
    payer_initiated: Decimal
    corrections: Decimal
    adjustments: Sequence[Adjustment]  # claim-level CAS
    claim_remark_codes: tuple[str, ...]  # MIA/MOA RARCs
    lines: tuple[EOBLine, ...]

    @property
    def carc_codes(self) -> tuple[str, ...]:
        """Group-reason CARCs of the claim and its lines (``"CO-45"``), first appearance order."""
        seen = dict.fromkeys(f"{a.group}-{a.reason}" for a in self.adjustments)
        for ln in self.lines:
            seen.update(dict.fromkeys(f"{a.group}-{a.reason}" for a in ln.adjustments))
        return tuple(seen)

    @property
    def rarc_codes(self) -> tuple[str, ...]:
        """RARCs of the claim (MIA/MOA) and its lines (LQ*HE), first appearance order."""
        seen = dict.fromkeys(self.claim_remark_codes)
        for ln in self.lines:
            seen.update(dict.fromkeys(ln.rarc_codes))
        return tuple(seen)


_tn = tuple.__new__


def build_eob_python(remittance: Remittance, claim: ClaimPayment) -> EOB:
    """The EOB of ``claim``, paid under ``remittance`` (its transaction's header).

    :func:`build_eob` is this function, or its C twin from :mod:`parsers.native` when installed (same
    result, field for field and Decimal for Decimal; tests/unit/parsers/test_native.py compares them).

    Hot path (one call per claim payment): sums in local variables, records built with
    ``tuple.__new__``, ServiceLine fields read by position (see :class:`parsers.records.ServiceLine`).
    """
    tn = _tn
    z = ZERO
    # claim totals: the claim's own CAS first, then each line's sums are added (eob.cas.sums: the rule;
    # no call for an empty CAS list, the usual case at claim level)
    t_ded = t_coi = t_cop = t_oth = t_co = t_oa = t_pi = t_cr = z
    if claim.adjustments:
        t_ded, t_coi, t_cop, t_oth, t_co, t_oa, t_pi, t_cr = sums(claim.adjustments)
    lines = []
    for ln in claim.lines:
        adjs = ln[18]
        ded = coi = cop = oth = co = oa = pi = cr = z
        if adjs:
            ded, coi, cop, oth, co, oa, pi, cr = sums(adjs)
            t_co += co
            t_oa += oa
            t_pi += pi
            t_cr += cr
            t_ded += ded
            t_coi += coi
            t_cop += cop
            t_oth += oth
        sfrom = sto = ln[13]
        if sfrom is None:
            sfrom, sto = ln[14], ln[15]
        # EOBLine field order
        lines.append(
            tn(
                EOBLine,
                (ln[0], ln[16], ln[1], ln[2], ln[3], ln[7], sfrom, sto, ln[8], ln[5], ln[17], ln[6],
                 ded + coi + cop + oth, ded, coi, cop, oth, co, oa, pi, cr, adjs, ln[19]),
            )
        )  # fmt: skip
    pr = claim.patient_responsibility
    return tn(
        EOB,
        (
            claim.file_sha256,
            claim.isa13,
            claim.gs06,
            claim.st02,
            claim.segment_no,
            remittance.payer_name,
            remittance.payer_id,
            remittance.payee_name,
            remittance.payee_id,
            remittance.trace_number,
            remittance.payment_method,
            remittance.handling_code,
            remittance.payment_date,
            claim.patient_control_number,
            claim.payer_claim_control_number,
            claim.original_reference_number,
            claim.status,
            claim.status == "22",
            claim.filing_indicator,
            claim.facility_type,
            claim.frequency,
            claim.statement_from,
            claim.statement_to,
            claim.charge,
            claim.paid,
            pr if pr is not None else z,
            t_ded + t_coi + t_cop + t_oth,
            t_ded,
            t_coi,
            t_cop,
            t_oth,
            t_co,
            t_oa,
            t_pi,
            t_cr,
            claim.adjustments,
            claim.remark_codes if (claim.inpatient or claim.outpatient) else (),
            tuple(lines),
        ),
    )


_REMITTANCE_FIELDS = ("payer_name", "payer_id", "payee_name", "payee_id", "trace_number", "payment_method",
                      "handling_code", "payment_date")  # fmt: skip
"""The header fields an EOB copies (positions handed to the C builder)."""


def _native_build_eob() -> object:
    """The C builder (:mod:`parsers.native`), told where each field it reads sits; None without it."""
    if SPEEDUPS is None:
        return None
    idx = {f: i for i, f in enumerate(ClaimPayment._fields)}
    assert not idx.keys() & set(_REMITTANCE_FIELDS)  # one namespace for both records' positions
    idx.update({f: Remittance._fields.index(f) for f in _REMITTANCE_FIELDS})
    SPEEDUPS.configure_eob(EOB, EOBLine, ZERO, idx)
    return SPEEDUPS.build_eob


build_eob: Callable[[Remittance, ClaimPayment], EOB] = _native_build_eob() or build_eob_python  # type: ignore[assignment]
"""The EOB of ``claim`` paid under ``remittance``: the C builder when installed, else :func:`build_eob_python`."""


def iter_eobs(records: Iterable[object]) -> Iterator[EOB]:
    """EOBs for the claim payments in a record stream from :func:`parsers.parse_file` (835)."""
    remittance: Remittance | None = None
    for rec in records:
        if type(rec) is ClaimPayment:
            if remittance is None:  # pragma: no cover - the parser always yields the header first
                raise ValueError("claim payment before its remittance header")
            yield build_eob(remittance, rec)
        elif type(rec) is Remittance:
            remittance = rec
