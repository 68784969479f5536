"""837I, Health Care Claim: Institutional, 005010X223A2 — loop 2300 and below.

One outpatient emergency visit::

    CLM*PCN0002*1250***13:A:1**A*Y*Y~          CLM05 = facility type (bill type digits 1-2) : A : frequency
    DTP*434*RD8*20240110-20240110~              statement covers period (required)
    CL1*1*7*01~                                 admission type, source (point of origin), patient status
    HI*ABK:R0789~                               principal diagnosis
    HI*APR:R0789~                               patient's reason for visit (unscheduled outpatient)
    HI*ABF:I10*ABF:E119~                        other diagnoses, 12 per segment, two segments at most
    NM1*71*1*KILDARE*JAMES****XX*1003000126~    2310A attending provider
    PRV*AT*PXC*207P00000X~
    LX*1~
    SV2*0450*HC:99284*1250*UN*1~                revenue code, HCPCS, charge, basis, units
    DTP*472*D8*20240110~
    REF*6R*L0002-1~

An inpatient claim adds ``DTP*435*DT*202401101430`` (admission date and hour), ``HI*ABJ`` (admitting
diagnosis) and room-and-board lines in days (``SV2*0120**3000*DA*3~``); a final inpatient bill (frequency 1
or 4) also ``DTP*096*TM*1100`` (discharge hour, written before DTP*434 as the guide orders them). A drug
line (HCPCS J-code) may carry loop 2410 with its NDC: ``LIN**N4*00409123401~ CTP****0.25*ML~``.
"""

from __future__ import annotations

from edi.claim import Claim, ClaimFrequency, EntityCode, ProviderCode
from edi.writer import format_amount
from edi.x837 import common
from edi.x837.common import (
    SAFE_CODES,
    VERSION_837I,
    BuildContext,
    claim_references,
    fail,
    loop2400,
    provider_loop,
    secondary_loops,
)

VERSION = VERSION_837I
MAX_OTHER_DIAGNOSES = 24  # two HI*ABF segments of 12
MAX_REASONS_FOR_VISIT = 3
MAX_LINES = 999

_L_CLM = ("2300 CLM01", "2300 CLM05")
_L_CLM_CODES = ("2300 CLM07", "2300 CLM08", "2300 CLM09")
_L_CL1 = ("2300 CL101", "2300 CL102", "2300 CL103")
_L_ADM_HOUR = ("2300 DTP03 (435)",)
_L_DISCHARGE = ("2300 DTP03 (096)",)
_L_ABK = ("2300 HI01-2 (ABK)",)
_L_ABJ = ("2300 HI01-2 (ABJ)",)
_L_APR = tuple(f"2300 HI{i:02d}-2 (APR)" for i in range(1, MAX_REASONS_FOR_VISIT + 1))
_L_ABF = tuple(f"2300 HI{(i % 12) + 1:02d}-2 (ABF)" for i in range(MAX_OTHER_DIAGNOSES))
_L_DX_BY_COUNT = tuple((_L_ABK + _L_ABF)[:n] for n in range(14))
_L_POA = tuple(f"2300 HI{(i % 12) + 1:02d}-9 (POA)" for i in range(MAX_OTHER_DIAGNOSES + 1))


def clm_segment(claim: Claim, bill_type: str) -> str:
    """``CLM*PCN0002*1250***13:A:1**A*Y*Y~``: CLM05 is facility type code, ``A``, frequency (bill type
    digit 3); CLM06 is not used on the 837I."""
    return (
        f"CLM*{claim.patient_control_number}*{format_amount(claim.total_charge)}***"
        f"{bill_type[:2]}:A:{bill_type[2:]}**{claim.assignment}*{claim.benefits_assigned}*"
        f"{claim.release_of_information}~"
    )


def cl1_segment(claim: Claim) -> str:
    """``CL1*1*7*01~``: admission type, admission source, patient (discharge) status."""
    return f"CL1*{claim.admission_type or ''}*{claim.admission_source or ''}*{claim.patient_status}~"


def _dx(code: str, qualifier: str, poa: str) -> str:
    """``ABF:E119`` or with a present-on-admission indicator in component 9: ``ABF:E119:::::::Y``."""
    return f"{qualifier}:{code}:::::::{poa}" if poa else f"{qualifier}:{code}"


def hi_segments(claim: Claim, values: list[str], labels: list[tuple[str, ...]]) -> list[str]:
    """Principal (``HI*ABK:R0789~``), admitting (``HI*ABJ``), reason for visit (``HI*APR``) and other
    diagnoses (``HI*ABF:I10*ABF:E119~``, 12 per segment), in the guide's order."""
    dx = claim.diagnoses
    if not dx:
        raise fail(claim, "2300 HI01", "the principal diagnosis is required")
    if len(dx) > 1 + MAX_OTHER_DIAGNOSES:
        raise fail(claim, "2300 HI", f"at most {1 + MAX_OTHER_DIAGNOSES} diagnoses on an 837I")
    poa = claim.poa_indicators
    if not poa and not claim.admitting_diagnosis and not claim.reason_for_visit and len(dx) <= 13:
        values += dx
        labels.append(_L_DX_BY_COUNT[len(dx)])
        if len(dx) == 1:
            return [f"HI*ABK:{dx[0]}~"]
        return [f"HI*ABK:{dx[0]}~HI*ABF:" + "*ABF:".join(dx[1:]) + "~"]
    if poa and len(poa) != len(dx):
        raise fail(claim, "2300 HI01-9", "present-on-admission indicators must parallel the diagnoses")
    out = [f"HI*{_dx(dx[0], 'ABK', poa[0] if poa else '')}~"]
    values.append(dx[0])
    labels.append(_L_ABK)
    if claim.admitting_diagnosis:
        out.append(f"HI*ABJ:{claim.admitting_diagnosis}~")
        values.append(claim.admitting_diagnosis)
        labels.append(_L_ABJ)
    rfv = claim.reason_for_visit
    if rfv:
        if len(rfv) > MAX_REASONS_FOR_VISIT:
            raise fail(claim, "2300 HI (APR)", f"at most {MAX_REASONS_FOR_VISIT} reasons for visit")
        out.append("HI*" + "*".join(f"APR:{r}" for r in rfv) + "~")
        values += rfv
        labels.append(_L_APR[: len(rfv)])
    others = dx[1:]
    for k in range(0, len(others), 12):
        chunk = others[k : k + 12]
        if poa:
            pchunk = poa[1 + k : 1 + k + 12]
            out.append("HI*" + "*".join(_dx(c, "ABF", p) for c, p in zip(chunk, pchunk, strict=True)) + "~")
        else:
            out.append("HI*ABF:" + "*ABF:".join(chunk) + "~")
    if others:
        values += others
        labels.append(_L_ABF[: len(others)])
    if poa:
        values += poa
        labels.append(_L_POA[: len(poa)])
    return out


def admission_segment(
    claim: Claim, ctx: BuildContext, values: list[str], labels: list[tuple[str, ...]]
) -> str:
    """``DTP*435*DT*202401101430~`` with the hour (HH or HHMM), else ``DTP*435*D8*20240110~``."""
    assert claim.admission_date is not None
    hour = claim.admission_hour
    if hour:
        values.append(hour)
        labels.append(_L_ADM_HOUR)
        hhmm = hour + "00" if len(hour) == 2 else hour
        return f"DTP*435*DT*{ctx.d8[claim.admission_date]}{hhmm}~"
    return f"DTP*435*D8*{ctx.d8[claim.admission_date]}~"


def loop2300(
    out: list[str], claim: Claim, ctx: BuildContext, values: list[str], labels: list[tuple[str, ...]]
) -> None:
    """Append CLM through the last 2400 line."""
    bt = claim.bill_type
    if not bt or len(bt) != 3:
        raise fail(claim, "2300 CLM05", "bill type must be three characters (facility type + frequency)")
    if not claim.patient_status:
        raise fail(claim, "2300 CL103", "patient status code is required on an 837I")
    lines = claim.lines
    if not lines:
        raise fail(claim, "2400 LX", "at least one service line is required")
    if len(lines) > MAX_LINES:
        raise fail(claim, "2400 LX", f"at most {MAX_LINES} service lines on an 837I")
    d8 = ctx.d8
    amt = ctx.amt
    append = out.append
    pcn = claim.patient_control_number
    assign, ben, roi = claim.assignment, claim.benefits_assigned, claim.release_of_information
    text = f"CLM*{pcn}*{amt[claim.total_charge]}***{bt[:2]}:A:{bt[2:]}**{assign}*{ben}*{roi}~"
    values.append(pcn)
    values.append(bt)
    labels.append(_L_CLM)
    if not (assign in SAFE_CODES and ben in SAFE_CODES and roi in SAFE_CODES):
        values += (assign, ben, roi)
        labels.append(_L_CLM_CODES)
    discharge = claim.discharge_hour
    if discharge:
        values.append(discharge)
        labels.append(_L_DISCHARGE)
        text += f"DTP*096*TM*{discharge}00~" if len(discharge) == 2 else f"DTP*096*TM*{discharge}~"
    start = claim.statement_from or min(ln.service_date for ln in lines)
    end = claim.statement_to or max((ln.service_date_end or ln.service_date) for ln in lines)
    text += f"DTP*434*RD8*{d8[start]}-{d8[end]}~"
    if claim.admission_date is not None:
        text += admission_segment(claim, ctx, values, labels)
    adm_type, adm_source, status = (
        claim.admission_type or "",
        claim.admission_source or "",
        claim.patient_status,
    )
    text += f"CL1*{adm_type}*{adm_source}*{status}~"
    if not (
        status in SAFE_CODES
        and (not adm_type or adm_type in SAFE_CODES)
        and (not adm_source or adm_source in SAFE_CODES)
    ):
        values += (adm_type, adm_source, status)
        labels.append(_L_CL1)
    freq = bt[2:]
    corrects = freq in ("7", "8") or claim.frequency in (ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID)
    if corrects or claim.prior_authorization:  # most claims have neither: skip the call
        text += claim_references(claim, corrects, values, labels)
    append(text)
    out += hi_segments(claim, values, labels)
    att = claim.attending_provider
    if att is not None:
        block = ctx.provider_blocks.get(("2310A", id(att)))
        out += (
            block
            if block is not None
            else provider_loop("2310A", EntityCode.ATTENDING, ProviderCode.ATTENDING, att, claim, ctx)
        )
    rend = claim.rendering_provider
    if rend is not None and (att is None or rend.npi != att.npi):
        out += provider_loop("2310D", EntityCode.RENDERING, None, rend, claim, ctx)
    ref = claim.referring_provider
    if ref is not None:
        out += provider_loop("2310F", EntityCode.REFERRING, None, ref, claim, ctx)
    if claim.other_coverages:
        default_payer, default_date = secondary_loops(out, claim, ctx, values, labels, institutional=True)
    else:
        default_payer = default_date = None
    loop2400(out, claim, ctx, values, labels, default_payer, default_date, institutional=True)


def append_claim(out: list[str], claim: Claim, ctx: BuildContext, parent_hl: int, hl: int) -> int:
    """Append one 837I claim — 2000B (HL ``hl``) through its last 2400 — to ``out``; return the last HL
    number used (:func:`edi.x837.common.append_claim` with this guide's 2300)."""
    return common.append_claim(loop2300, out, claim, ctx, parent_hl, hl)


def claim_segments(claim: Claim, ctx: BuildContext | None = None) -> list[str]:
    """One claim's segments (terminated) from its 2000B HL down (HL 2 under billing provider 1)."""
    return common.single_claim_segments(loop2300, claim, ctx)
