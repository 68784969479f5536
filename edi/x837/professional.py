"""837P, Health Care Claim: Professional, 005010X222A1 — loop 2300 and below.

One professional claim (patient is the subscriber, one office visit with a modifier)::

    CLM*PCN0001*125***11:B:1*Y*A*Y*Y~          2300: CLM05 = place of service : B : frequency
    REF*G1*AUTH0001~                           prior authorization
    HI*ABK:E119*ABF:I10~                       ICD-10-CM, principal first, no decimal point
    NM1*82*1*WELBY*MARCUS****XX*1245319599~    2310B rendering provider (when not the billing NPI)
    PRV*PE*PXC*207Q00000X~
    LX*1~                                      2400
    SV1*HC:99213:25*125*UN*1***1:2~            SV107 points into HI (1-based)
    DTP*472*D8*20240110~
    REF*6R*L0001-1~                            line item control number, echoed in the 835

A drug line (HCPCS J-code) may carry loop 2410 with its NDC and quantity, after REF*6R:
``LIN**N4*00409123401~ CTP****0.25*ML~`` (Medicaid requires it). A replacement (frequency 7) or void (8) carries ``REF*F8*<payer claim control number>``. A secondary claim
adds 2320/2330A/2330B for the primary payer and 2430 ``SVD``/``CAS``/``DTP*573`` on each adjudicated line.
"""

from __future__ import annotations

from edi.claim import Claim, EntityCode, ProviderCode, ServiceLine
from edi.writer import format_amount, format_quantity
from edi.x837 import common
from edi.x837.common import (
    PLAIN,
    SAFE_CODES,
    VERSION_837P,
    BuildContext,
    claim_references,
    fail,
    loop2400,
    provider_loop,
    secondary_loops,
)

VERSION = VERSION_837P
MAX_DIAGNOSES = 12
MAX_LINES = 50
MAX_POINTERS = common.MAX_POINTERS

_L_CLM = ("2300 CLM01",)
_L_CLM_CODES = ("2300 CLM05-1", "2300 CLM06", "2300 CLM07", "2300 CLM08", "2300 CLM09")
_L_HI = tuple(f"2300 HI{i:02d}-2" for i in range(1, MAX_DIAGNOSES + 1))
_L_HI_BY_COUNT = tuple(_L_HI[:n] for n in range(MAX_DIAGNOSES + 1))


def clm_segment(claim: Claim) -> str:
    """``CLM*PCN0001*125***11:B:1*Y*A*Y*Y~``: CLM05 is place of service, ``B``, frequency code."""
    return (
        f"CLM*{claim.patient_control_number}*{format_amount(claim.total_charge)}***"
        f"{claim.place_of_service}:B:{claim.frequency}*{claim.signature_on_file}*{claim.assignment}*"
        f"{claim.benefits_assigned}*{claim.release_of_information}~"
    )


def hi_segment(diagnoses: list[str]) -> str:
    """``HI*ABK:E119*ABF:I10*ABF:Z7984~``: principal (ABK) then up to 11 others (ABF)."""
    return "HI*ABK:" + "*ABF:".join(diagnoses) + "~"


def procedure_composite(code: str, modifiers: tuple[str, ...]) -> str:
    """C003 composite: ``HC:99213:25``."""
    return "HC:" + code + (":" + ":".join(modifiers) if modifiers else "")


def sv1_segment(line: ServiceLine, composite: str, place_of_service: str, pointers: str) -> str:
    """``SV1*HC:99213:25*125*UN*1***1:2~``; SV105 only when the line's place of service differs."""
    return (
        f"SV1*{composite}*{format_amount(line.charge)}*{line.unit_basis}*{format_quantity(line.units)}*"
        f"{place_of_service}**{pointers}~"
    )


def loop2300(
    out: list[str], claim: Claim, ctx: BuildContext, values: list[str], labels: list[tuple[str, ...]]
) -> None:
    """Append CLM through the last 2400 line (several segments per list item; SE01 counts terminators)."""
    amt = ctx.amt
    d8 = ctx.d8
    append = out.append
    pos = claim.place_of_service
    sig, assign, ben, roi = (
        claim.signature_on_file,
        claim.assignment,
        claim.benefits_assigned,
        claim.release_of_information,
    )
    freq = PLAIN[claim.frequency]
    pcn = claim.patient_control_number
    clm = f"CLM*{pcn}*{amt[claim.total_charge]}***{pos}:B:{freq}*{sig}*{assign}*{ben}*{roi}~"
    values.append(pcn)
    labels.append(_L_CLM)
    if not (
        pos in SAFE_CODES
        and sig in SAFE_CODES
        and assign in SAFE_CODES
        and ben in SAFE_CODES
        and roi in SAFE_CODES
    ):
        values += (pos, sig, assign, ben, roi)
        labels.append(_L_CLM_CODES)
    if claim.onset_date is not None:
        clm += f"DTP*431*D8*{d8[claim.onset_date]}~"
    corrects = freq == "7" or freq == "8"
    if corrects or claim.prior_authorization:  # most claims have neither: skip the call
        clm += claim_references(claim, corrects, values, labels)
    dx = claim.diagnoses
    ndx = len(dx)
    if not ndx:
        raise fail(claim, "2300 HI01", "at least one diagnosis is required")
    if ndx > MAX_DIAGNOSES:
        raise fail(claim, "2300 HI", f"at most {MAX_DIAGNOSES} diagnoses on an 837P")
    append(clm + "HI*ABK:" + "*ABF:".join(dx) + "~")
    values += dx
    labels.append(_L_HI_BY_COUNT[ndx])
    ref = claim.referring_provider
    if ref is not None:
        out += provider_loop("2310A", EntityCode.REFERRING, None, ref, claim, ctx)
    rend = claim.rendering_provider
    if rend is not None and rend.npi != claim.billing_provider.npi:
        block = ctx.provider_blocks.get(("2310B", id(rend)))
        out += (
            block
            if block is not None
            else provider_loop("2310B", EntityCode.RENDERING, ProviderCode.PERFORMING, rend, claim, ctx)
        )
    if claim.other_coverages:
        default_payer, default_date = secondary_loops(out, claim, ctx, values, labels, institutional=False)
    else:
        default_payer = default_date = None
    lines = claim.lines
    if not lines:
        raise fail(claim, "2400 LX", "at least one service line is required")
    if len(lines) > MAX_LINES:
        raise fail(claim, "2400 LX", f"at most {MAX_LINES} service lines on an 837P")
    loop2400(out, claim, ctx, values, labels, default_payer, default_date, institutional=False)


def append_claim(out: list[str], claim: Claim, ctx: BuildContext, parent_hl: int, hl: int) -> int:
    """Append one 837P claim — 2000B (HL ``hl``) through its last 2400 — to ``out``; return the last HL
    number used (:func:`edi.x837.common.append_claim` with this guide's 2300)."""
    return common.append_claim(loop2300, out, claim, ctx, parent_hl, hl)


def claim_segments(claim: Claim, ctx: BuildContext | None = None) -> list[str]:
    """One claim's segments (terminated) from its 2000B HL down (HL 2 under billing provider 1), for
    tests and tools that need a single claim."""
    return common.single_claim_segments(loop2300, claim, ctx)
