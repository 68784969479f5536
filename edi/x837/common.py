"""Loops the 837P (005010X222A1) and 837I (005010X223A2) share.

Both guides use the same hierarchy::

    ST*837*0001*005010X222A1~
    BHT*0019*00*CF0000004170001*20240115*1230*CH~                   header
    NM1*41*2*CLAIMFLOW BILLING*****46*CLAIMFLOW~                       1000A submitter
    PER*IC*EDI DESK*TE*5555550100~
    NM1*40*2*CLEARINGHOUSE*****46*CLEARINGHOUSE~                        1000B receiver
    HL*1**20*1~                                                         2000A billing provider
    NM1*85*2*SUNRISE CLINIC*****XX*1234567893~ N3 N4 REF*EI            2010AA
    HL*2*1*22*1~                                                        2000B subscriber
    SBR*P********CI~
    NM1*IL*1*DOE*JANE*Q***MI*W123456789~ N3 N4                          2010BA
    NM1*PR*2*ACME HEALTH*****PI*12345~                                  2010BB payer
    HL*3*2*23*0~                                                        2000C patient (dependants only)
    PAT*19~ NM1*QC*1*DOE*JIMMY~ N3 N4 DMG                               2010CA
    CLM*...~                                                            2300 (guide specific)

The builders write segments as text with the canonical delimiters ``* : ~`` (f-strings, no per-element
objects) and collect every free-text value of a claim in a list, with a parallel list of labels naming the
loop and element it went into. One check over the joined values (:func:`edi.writer.make_text_checker`)
proves the claim X12-safe; only when it fails is the list walked to name the element for the error.
Errors name the claim by claim id and patient control number, never the value.

Builders append to the open transaction set's list of strings; an item may hold several segments. Since no
value can contain the terminator, SE01 is simply the number of ``~`` in the body, plus ST and SE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from edi.claim import (
    Address,
    Claim,
    ClaimFilingIndicator,
    ClaimFrequency,
    ClaimType,
    DrugUnit,
    EntityCode,
    OtherCoverage,
    Party,
    Payer,
    PayerResponsibility,
    Provider,
    ProviderCode,
    Relationship,
)
from edi.delimiters import DEFAULT_DELIMITERS, Delimiters
from edi.errors import X12WriteError
from edi.writer import D8Cache, format_amount, make_text_checker, unsafe_reason

VERSION_837P = "005010X222A1"
VERSION_837I = "005010X223A2"


class AmountCache(dict[Decimal, str]):
    """Memoized :func:`edi.writer.format_amount`: a practice bills the same few hundred fees all day."""

    __slots__ = ()

    def __missing__(self, key: Decimal) -> str:
        s = format_amount(key)
        self[key] = s
        return s


PLAIN: dict[object, str] = {
    m: m.value
    for e in (ClaimFrequency, ClaimFilingIndicator, PayerResponsibility, Relationship, ClaimType)
    for m in e
}
"""Enum member -> plain ``str``: an f-string formats a ``StrEnum`` ten times slower than a ``str``."""

SAFE_CODES = frozenset(
    {"Y", "N", "W", "I", "A", "B", "C", "P", "S", "T", "M", "F", "U", "UN", "MJ", "DA"}
    | {f"{n:02d}" for n in range(100)}
)
"""Short code values that are X12-safe by construction: fields holding one of these skip the text check."""


class BuildContext:
    """Per-build caches: formatted dates and amounts, pointer composites, loops shared by many claims.

    Shared loops (2010BB payer, 2310 providers) are cached by object identity: a practice sends thousands of
    claims to the same payer object, and the claims list keeps those objects alive for the whole build.
    """

    __slots__ = ("amt", "d8", "delimiters", "payer_blocks", "pointers", "provider_blocks", "safe")

    def __init__(self, delimiters: Delimiters = DEFAULT_DELIMITERS) -> None:
        self.delimiters = delimiters
        self.safe = make_text_checker(delimiters)
        self.d8 = D8Cache()
        self.amt = AmountCache()
        self.pointers: dict[tuple[int, ...], str] = {}
        self.payer_blocks: dict[int, tuple[str, ...]] = {}
        self.provider_blocks: dict[tuple[str, int], tuple[str, ...]] = {}

    def pointer_composite(self, pointers: tuple[int, ...]) -> str:
        """SV107 composite, e.g. ``(1, 2)`` -> ``"1:2"``; each pointer an ``int`` in 1..12."""
        s = self.pointers.get(pointers)
        if s is None:
            if not all(type(p) is int and 1 <= p <= 12 for p in pointers):
                raise fail(None, "2400 SV107", "diagnosis pointers must be whole numbers from 1 to 12")
            s = ":".join(str(p) for p in pointers)
            self.pointers[pointers] = s
        return s


def claim_ref(claim: Claim) -> str:
    """How errors name a claim: ``claim 42 (patient control number PCN0042)`` (our identifiers only)."""
    pcn = claim.patient_control_number
    if isinstance(pcn, str) and pcn and unsafe_reason(pcn) is None and len(pcn) <= 38:
        return f"claim {claim.claim_id} (patient control number {pcn})"
    return f"claim {claim.claim_id}"


def fail(claim: Claim | None, where: str, problem: str) -> X12WriteError:
    """An :class:`X12WriteError` naming the claim and ``where`` (``"2010BA NM103"``), never a value."""
    prefix = f"{claim_ref(claim)}: " if claim is not None else ""
    loop, _, element = where.partition(" ")
    place = f"{element} in loop {loop}" if element else where
    return X12WriteError(f"{prefix}{place}: {problem}")


def check_values(
    values: Sequence[str | None],
    labels: Sequence[str],
    claim: Claim | None,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
) -> None:
    """Strict check, one value at a time (headers and cached loops)."""
    for value, label in zip(values, labels, strict=True):
        if value:
            reason = unsafe_reason(value, delimiters)
            if reason:
                raise fail(claim, label, reason)


def verify_claim_text(
    values: list[str], labels: list[tuple[str, ...]], claim: Claim, ctx: BuildContext
) -> None:
    """Fast path: one check over all free-text values; on failure, find and name the element."""
    try:
        joined = "".join(values)
    except TypeError:
        joined = None
    if joined is not None and ctx.safe(joined):
        return
    flat = [lab for group in labels for lab in group]
    for i, value in enumerate(values):
        label = flat[i] if i < len(flat) else "2300 (unknown element)"
        if not isinstance(value, str):
            raise fail(claim, label, "required value is missing")
        reason = unsafe_reason(value, ctx.delimiters)
        if reason:
            raise fail(claim, label, reason)
    raise fail(claim, "2300", "a text value cannot be written as X12")  # pragma: no cover


# --------------------------------------------------------------------------------------------- segments


def address_segments(a: Address) -> tuple[str, str]:
    """N3/N4: ``N3*123 MAIN ST*SUITE 4~``, ``N4*SPRINGFIELD*IL*627011234~``."""
    n3 = f"N3*{a.line1}*{a.line2}~" if a.line2 else f"N3*{a.line1}~"
    n4 = f"N4*{a.city}*{a.state}*{a.postal_code}".rstrip("*") + "~"
    return n3, n4


def address_values(a: Address) -> tuple[str, str, str, str, str]:
    return (a.line1, a.line2 or "", a.city, a.state, a.postal_code)


def address_labels(loop: str) -> tuple[str, ...]:
    return (f"{loop} N301", f"{loop} N302", f"{loop} N401", f"{loop} N402", f"{loop} N403")


def provider_nm1(entity_code: EntityCode, p: Provider, *, force_organization: bool = False) -> str:
    """NM1 for a provider identified by NPI.

    ``NM1*82*1*WELBY*MARCUS****XX*1245319599~`` (person), ``NM1*85*2*SUNRISE CLINIC*****XX*1234567893~``.
    """
    if p.entity_type == "1" and not force_organization:
        return f"NM1*{entity_code}*1*{p.last_name}*{p.first_name or ''}****XX*{p.npi}~"
    return f"NM1*{entity_code}*2*{p.last_name}*****XX*{p.npi}~"


def prv_segment(code: ProviderCode, taxonomy: str) -> str:
    """``PRV*PE*PXC*207Q00000X~`` (PE performing, BI billing, AT attending)."""
    return f"PRV*{code}*PXC*{taxonomy}~"


def dtp_d8(qualifier: str, date_text: str) -> str:
    """``DTP*472*D8*20240110~``"""
    return f"DTP*{qualifier}*D8*{date_text}~"


def ref_segment(qualifier: str, value: str) -> str:
    """``REF*G1*AUTH12345~``"""
    return f"REF*{qualifier}*{value}~"


_CAS_ONE = {loop: (f"{loop} CAS01", f"{loop} CAS02") for loop in ("2320", "2430")}


def cas_segments(
    adjustments: Sequence[tuple[str, str, object]],
    loop: str,
    claim: Claim,
    values: list[str],
    labels: list[tuple[str, ...]],
) -> list[str]:
    """CAS, one per group code, up to six reason/amount pairs each: ``CAS*CO*45*20**253*1.5~``."""
    if len(adjustments) == 1:  # the usual case: one contractual write-off
        group, reason, amount = adjustments[0]
        values += (group, reason)
        labels.append(_CAS_ONE[loop])
        return [f"CAS*{group}*{reason}*{format_amount(amount)}~"]  # type: ignore[arg-type]
    groups: dict[str, list[tuple[str, object]]] = {}
    for group, reason, amount in adjustments:
        groups.setdefault(group, []).append((reason, amount))
    out: list[str] = []
    for group, items in groups.items():
        for k in range(0, len(items), 6):
            chunk = items[k : k + 6]
            body = "**".join(f"{reason}*{format_amount(amount)}" for reason, amount in chunk)  # type: ignore[arg-type]
            out.append(f"CAS*{group}*{body}~")
            values.append(group)
            values.extend(reason for reason, _ in chunk)
            labels.append((f"{loop} CAS01", *(f"{loop} CAS{2 + 3 * j:02d}" for j in range(len(chunk)))))
    if len(out) > 5:
        raise fail(claim, f"{loop} CAS", "more than 5 CAS segments (group codes x 6 adjustments)")
    return out


# ------------------------------------------------------------------------------------------------ header


def header_segments(
    bht03: str, created: dt.datetime, submitter: Party, receiver: Party, delimiters: Delimiters
) -> list[str]:
    """BHT, 1000A (NM1*41 + PER), 1000B (NM1*40).

    ``BHT*0019*00*CF000000417-0001*20240115*1230*CH~`` ``NM1*41*2*CLAIMFLOW*****46*CF01~``
    ``PER*IC*EDI DESK*TE*5555550100*EM*EDI@EXAMPLE.COM~`` ``NM1*40*2*CLEARINGHOUSE*****46*CH01~``
    """
    check_values(
        (
            bht03,
            submitter.name,
            submitter.identifier,
            submitter.contact_name,
            submitter.contact_phone,
            submitter.contact_email,
            receiver.name,
            receiver.identifier,
        ),
        (
            "HEADER BHT03",
            "1000A NM103",
            "1000A NM109",
            "1000A PER02",
            "1000A PER04",
            "1000A PER06",
            "1000B NM103",
            "1000B NM109",
        ),
        None,
        delimiters,
    )
    if not submitter.name or not submitter.identifier:
        raise fail(None, "1000A NM1", "submitter name and identifier are required")
    if not receiver.name or not receiver.identifier:
        raise fail(None, "1000B NM1", "receiver name and identifier are required")
    comms = []
    if submitter.contact_phone:
        comms.append(f"TE*{submitter.contact_phone}")
    if submitter.contact_email:
        comms.append(f"EM*{submitter.contact_email}")
    if not comms:
        raise fail(None, "1000A PER03", "the submitter needs a contact phone or email")
    return [
        f"BHT*0019*00*{bht03}*{created:%Y%m%d}*{created:%H%M}*CH~",
        f"NM1*41*2*{submitter.name}*****46*{submitter.identifier}~",
        f"PER*IC*{submitter.contact_name or ''}*{'*'.join(comms)}~",
        f"NM1*40*2*{receiver.name}*****46*{receiver.identifier}~",
    ]


# ------------------------------------------------------------------------------------- 2000A / 2010AA


def loop2000a_body(
    provider: Provider, *, institutional: bool, claim: Claim, delimiters: Delimiters
) -> list[str]:
    """2000A after its HL: PRV*BI (when a taxonomy is known) and 2010AA NM1*85, N3, N4, REF*EI.

    ``PRV*BI*PXC*207Q00000X~ NM1*85*2*SUNRISE CLINIC*****XX*1234567893~ N3*100 MAIN ST~
    N4*SPRINGFIELD*IL*627011234~ REF*EI*371234567~``
    """
    a = provider.address
    if a is None:
        raise fail(claim, "2010AA N3", "the billing provider address is required")
    if not provider.tax_id:
        raise fail(claim, "2010AA REF02", "the billing provider tax id (EIN) is required")
    check_values(
        (
            provider.taxonomy,
            provider.last_name,
            provider.first_name,
            provider.npi,
            *address_values(a),
            provider.tax_id,
        ),
        (
            "2000A PRV03",
            "2010AA NM103",
            "2010AA NM104",
            "2010AA NM109",
            *address_labels("2010AA"),
            "2010AA REF02",
        ),
        claim,
        delimiters,
    )
    out = [prv_segment(ProviderCode.BILLING, provider.taxonomy)] if provider.taxonomy else []
    out.append(provider_nm1(EntityCode.BILLING_PROVIDER, provider, force_organization=institutional))
    out.extend(address_segments(a))
    out.append(ref_segment("EI", provider.tax_id))
    return out


def billing_provider_key(p: Provider) -> tuple[object, ...]:
    """Claims with equal keys share one 2000A loop."""
    a = p.address
    addr = (a.line1, a.line2, a.city, a.state, a.postal_code) if a is not None else None
    return (p.npi, p.tax_id, p.entity_type, p.last_name, p.first_name, p.taxonomy, addr)


# --------------------------------------------------------------------------- 2000B / 2010BA / 2010BB


def loop2010bb(payer: Payer, claim: Claim, ctx: BuildContext) -> tuple[str, ...]:
    """Payer name (cached per payer object): ``NM1*PR*2*ACME HEALTH*****PI*12345~`` [N3 N4]."""
    hit = ctx.payer_blocks.get(id(payer))
    if hit is not None:
        return hit
    segs = [f"NM1*PR*2*{payer.name}*****PI*{payer.payer_id}~"]
    vals: list[str | None] = [payer.name, payer.payer_id]
    labs = ["2010BB NM103", "2010BB NM109"]
    if payer.address is not None:
        segs.extend(address_segments(payer.address))
        vals.extend(address_values(payer.address))
        labs.extend(address_labels("2010BB"))
    check_values(vals, labs, claim, ctx.delimiters)
    block = tuple(segs)
    ctx.payer_blocks[id(payer)] = block
    return block


_SUB_LABELS = (
    "2000B SBR03",
    "2010BA NM103",
    "2010BA NM104",
    "2010BA NM105",
    "2010BA NM109",
    *address_labels("2010BA"),
)
_PAT_LABELS = ("2010CA NM103", "2010CA NM104", "2010CA NM105", *address_labels("2010CA"))
_DMG_BA = ("2010BA DMG03",)
_DMG_CA = ("2010CA DMG03",)


def loop2000b(
    out: list[str],
    claim: Claim,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    parent_hl: int,
    hl: int,
) -> int:
    """Append 2000B (HL ``hl`` under ``parent_hl``) through 2010BB, and 2000C/2010CA when the patient is a
    dependant; return the last HL number used.

    ``HL*2*1*22*0~ SBR*P*18*GRP01******CI~ NM1*IL*1*DOE*JANE*Q***MI*W123456789~ N3*12 ELM ST~
    N4*SPRINGFIELD*IL*62701~ DMG*D8*19800101*F~ NM1*PR*2*ACME HEALTH*****PI*12345~`` and, for a child,
    ``HL*3*2*23*0~ PAT*19~ NM1*QC*1*DOE*JIMMY~ N3*12 ELM ST~ N4*SPRINGFIELD*IL*62701~ DMG*D8*20150101*M~``
    """
    sub = claim.subscriber
    sp = sub.person
    patient = claim.patient
    grp = sub.group_number or ""
    mn = sp.middle_name or ""
    payer = claim.payer
    resp = PLAIN[claim.responsibility]
    fi = PLAIN[payer.filing_indicator]
    a = sp.address
    if a is None:
        raise fail(claim, "2010BA N301", "the subscriber address is required")
    line2 = a.line2 or ""
    n3 = f"N3*{a.line1}*{line2}~" if line2 else f"N3*{a.line1}~"
    n4 = f"N4*{a.city}*{a.state}*{a.postal_code}".rstrip("*") + "~"
    if patient is None:
        gender = sp.gender
        out.append(
            f"HL*{hl}*{parent_hl}*22*0~SBR*{resp}*18*{grp}******{fi}~"
            f"NM1*IL*1*{sp.last_name}*{sp.first_name}*{mn}***MI*{sub.member_id}~{n3}{n4}"
            f"DMG*D8*{ctx.d8[sp.birth_date]}*{gender}~"
        )
        if gender not in SAFE_CODES:
            values.append(gender)
            labels.append(_DMG_BA)
    else:
        out.append(
            f"HL*{hl}*{parent_hl}*22*1~SBR*{resp}**{grp}******{fi}~"
            f"NM1*IL*1*{sp.last_name}*{sp.first_name}*{mn}***MI*{sub.member_id}~{n3}{n4}"
        )
    values += (
        grp,
        sp.last_name,
        sp.first_name,
        mn,
        sub.member_id,
        a.line1,
        line2,
        a.city,
        a.state,
        a.postal_code,
    )
    labels.append(_SUB_LABELS)
    block = ctx.payer_blocks.get(id(payer))
    out += block if block is not None else loop2010bb(payer, claim, ctx)
    if patient is None:
        return hl
    rel = claim.relationship
    if rel == Relationship.SELF:
        raise fail(claim, "2000C PAT01", "a separate patient cannot have relationship 18 (self)")
    pa = patient.address
    if pa is None:
        raise fail(claim, "2010CA N301", "the patient address is required")
    pmn = patient.middle_name or ""
    pline2 = pa.line2 or ""
    gender = patient.gender
    out.append(
        f"HL*{hl + 1}*{hl}*23*0~PAT*{PLAIN[rel]}~"
        + f"NM1*QC*1*{patient.last_name}*{patient.first_name}*{pmn}".rstrip("*")
        + (f"~N3*{pa.line1}*{pline2}~" if pline2 else f"~N3*{pa.line1}~")
        + f"N4*{pa.city}*{pa.state}*{pa.postal_code}".rstrip("*")
        + f"~DMG*D8*{ctx.d8[patient.birth_date]}*{gender}~"
    )
    values += (
        patient.last_name,
        patient.first_name,
        pmn,
        pa.line1,
        pline2,
        pa.city,
        pa.state,
        pa.postal_code,
    )
    labels.append(_PAT_LABELS)
    if gender not in SAFE_CODES:
        values.append(gender)
        labels.append(_DMG_CA)
    return hl + 1


# ---------------------------------------------------------------------------------- 2310 providers


def provider_loop(
    kind: str,
    entity_code: EntityCode,
    prv_code: ProviderCode | None,
    p: Provider,
    claim: Claim,
    ctx: BuildContext,
) -> tuple[str, ...]:
    """A 2310 provider loop, cached per provider object: ``NM1*82*1*WELBY*MARCUS****XX*1245319599~
    PRV*PE*PXC*207Q00000X~``. ``kind`` is the loop id (``"2310B"``)."""
    key = (kind, id(p))
    hit = ctx.provider_blocks.get(key)
    if hit is not None:
        return hit
    check_values(
        (p.last_name, p.first_name, p.npi, p.taxonomy),
        (f"{kind} NM103", f"{kind} NM104", f"{kind} NM109", f"{kind} PRV03"),
        claim,
        ctx.delimiters,
    )
    if not p.npi:
        raise fail(claim, f"{kind} NM109", "provider NPI is required")
    segs = [provider_nm1(entity_code, p)]
    if prv_code and p.taxonomy:
        segs.append(prv_segment(prv_code, p.taxonomy))
    block = tuple(segs)
    ctx.provider_blocks[key] = block
    return block


# ------------------------------------------------------------------------------------- 2320 / 2330


def adjudicating_payer_id(claim: Claim) -> str | None:
    """The 2330B payer that 2430 lines default to: the first other payer that paid, else the first."""
    for oc in claim.other_coverages:
        if oc.paid is not None:
            return oc.payer.payer_id
    return claim.other_coverages[0].payer.payer_id if claim.other_coverages else None


def loop2320(
    oc: OtherCoverage,
    claim: Claim,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    *,
    institutional: bool,
    has_line_adjudication: bool,
) -> list[str]:
    """2320 other subscriber information with 2330A (other subscriber) and 2330B (other payer).

    ``SBR*P*18*GRP01******CI~ CAS*CO*45*20~ AMT*D*80~ OI***Y*P**Y~ NM1*IL*1*DOE*JANE****MI*W123~
    NM1*PR*2*ACME HEALTH*****PI*12345~ DTP*573*D8*20240201~``
    """
    sub = oc.subscriber
    grp = sub.group_number or ""
    out = [
        f"SBR*{PLAIN[oc.responsibility]}*{PLAIN[oc.relationship]}*{grp}******{PLAIN[oc.payer.filing_indicator]}~"
    ]
    values.append(grp)
    labels.append(("2320 SBR03",))
    if oc.adjustments:
        out += cas_segments(oc.adjustments, "2320", claim, values, labels)
    if oc.paid is not None:
        out.append(f"AMT*D*{format_amount(oc.paid)}~")
    if oc.patient_liability is not None:
        out.append(f"AMT*EAF*{format_amount(oc.patient_liability)}~")
    if institutional:
        out.append(f"OI***{claim.benefits_assigned}***{claim.release_of_information}~")
    else:
        out.append(f"OI***{claim.benefits_assigned}*P**{claim.release_of_information}~")
    sp = sub.person
    out.append(f"NM1*IL*1*{sp.last_name}*{sp.first_name}*{sp.middle_name or ''}***MI*{sub.member_id}~")
    values += (sp.last_name, sp.first_name, sp.middle_name or "", sub.member_id)
    labels.append(("2330A NM103", "2330A NM104", "2330A NM105", "2330A NM109"))
    if sp.address is not None:
        out += address_segments(sp.address)
        values += address_values(sp.address)
        labels.append(address_labels("2330A"))
    payer = oc.payer
    out.append(f"NM1*PR*2*{payer.name}*****PI*{payer.payer_id}~")
    values += (payer.name, payer.payer_id)
    labels.append(("2330B NM103", "2330B NM109"))
    if payer.address is not None:
        out += address_segments(payer.address)
        values += address_values(payer.address)
        labels.append(address_labels("2330B"))
    # DTP*573 here only when the payer adjudicated the claim and no 2430 carries the dates.
    if oc.adjudication_date is not None and not has_line_adjudication:
        out.append(dtp_d8("573", ctx.d8[oc.adjudication_date]))
    return out


def other_payer_loops(
    claim: Claim,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    *,
    institutional: bool,
) -> list[str]:
    """All 2320 loops of a claim (at most 10)."""
    ocs = claim.other_coverages
    if len(ocs) > 10:
        raise fail(claim, "2320 SBR", "more than 10 other payers")
    default_id = adjudicating_payer_id(claim)
    line_payers = {
        (ln.other_payer.payer_id or default_id) for ln in claim.lines if ln.other_payer is not None
    }
    out: list[str] = []
    for oc in ocs:
        out += loop2320(
            oc,
            claim,
            ctx,
            values,
            labels,
            institutional=institutional,
            has_line_adjudication=oc.payer.payer_id in line_payers,
        )
    return out


def loop2430(
    claim: Claim,
    line_index: int,
    composite: str,
    revenue_code: str | None,
    units: str,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    default_payer_id: str | None,
    default_date: dt.date | None,
) -> list[str]:
    """2430 line adjudication: ``SVD*12345*80*HC:99213**1~ CAS*CO*45*20~ DTP*573*D8*20240201~``.

    837P leaves SVD04 empty; 837I puts the revenue code there (``SVD*12345*400*HC:99284*0450*1~``).
    """
    line = claim.lines[line_index]
    op = line.other_payer
    assert op is not None
    payer_id = op.payer_id or default_payer_id
    if not payer_id:
        raise fail(claim, "2430 SVD01", "line adjudication needs an other payer (loop 2320/2330B)")
    out = [f"SVD*{payer_id}*{ctx.amt[op.paid]}*{composite}*{revenue_code or ''}*{units}~"]
    values.append(payer_id)
    labels.append(("2430 SVD01",))
    if op.adjustments:
        out += cas_segments(op.adjustments, "2430", claim, values, labels)
    date = op.adjudication_date or default_date
    if date is None:
        raise fail(claim, "2430 DTP03", "line adjudication date is required")
    out.append(dtp_d8("573", ctx.d8[date]))
    return out


# ------------------------------------------------------------------------------------------------ 2410

NDC_UNITS = frozenset(DrugUnit)
"""CTP05-1 unit or basis for measurement codes the 5010 837 allows for a drug quantity."""

_L_2410 = ("2410 LIN03", "2410 CTP05-1")
_L_XZ = ("2410 REF02 (XZ)",)


def loop2410(
    claim: Claim, n: int, ctx: BuildContext, values: list[str], labels: list[tuple[str, ...]]
) -> str:
    """2410 drug identification for line ``n`` (1-based), which carries an NDC:
    ``LIN**N4*00409123401~ CTP****0.25*ML~`` and, for a dispensed drug, ``REF*XZ*RX1234~``."""
    line = claim.lines[n - 1]
    ndc = line.ndc
    qty = line.ndc_quantity
    if qty is None or not qty.is_finite() or qty <= 0:
        raise fail(
            claim, "2410 CTP04", f"line {n}: a drug quantity greater than zero is required with an NDC"
        )
    unit = line.ndc_unit
    if unit not in NDC_UNITS:
        raise fail(claim, "2410 CTP05-1", f"line {n}: drug unit must be one of F2, GR, ME, ML, UN")
    values += (ndc, unit)  # type: ignore[arg-type]
    labels.append(_L_2410)
    text = f"LIN**N4*{ndc}~CTP****{format_amount(qty)}*{unit}~"
    rx = line.prescription_number
    if rx:
        values.append(rx)
        labels.append(_L_XZ)
        text += f"REF*XZ*{rx}~"
    return text


# ------------------------------------------------------------------------- 2300 end, 2400, whole claim
#
# The two guides differ in CLM, the 2300 dates, HI, the 2310 providers and the service segment (SV1 or
# SV2). The 2300 references (REF*G1, REF*F8), the 2320 other-payer loops with the 2430 defaults, the rest
# of each 2400 line and the claim's framing (2000B, the one text check) are the same, so they are written
# once, here; each guide's loop2300 calls them.

_L_G1 = ("2300 REF02 (G1)",)
_L_F8 = ("2300 REF02 (F8)",)
_L_6R = ("2400 REF02 (6R)",)


def claim_references(claim: Claim, corrects: bool, values: list[str], labels: list[tuple[str, ...]]) -> str:
    """2300 ``REF*G1*AUTH0001~`` (prior authorization, when known) and, when the claim replaces or voids
    one the payer has (``corrects``: frequency 7 or 8), ``REF*F8*<payer claim control number>~``."""
    text = ""
    pa = claim.prior_authorization
    if pa:
        text = f"REF*G1*{pa}~"
        values.append(pa)
        labels.append(_L_G1)
    if corrects:
        pccn = claim.payer_claim_control_number
        if not pccn:
            raise fail(claim, "2300 REF*F8", "frequency 7/8 needs the payer claim control number")
        text += f"REF*F8*{pccn}~"
        values.append(pccn)
        labels.append(_L_F8)
    return text


def secondary_loops(
    out: list[str],
    claim: Claim,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    *,
    institutional: bool,
) -> tuple[str | None, dt.date | None]:
    """Append a secondary claim's 2320 loops and return what its 2430 lines default to: the adjudicating
    payer's id and that payer's adjudication date (``(None, None)`` on a primary claim)."""
    if not claim.other_coverages:
        return None, None
    out += other_payer_loops(claim, ctx, values, labels, institutional=institutional)
    default_payer = adjudicating_payer_id(claim)
    for oc in claim.other_coverages:
        if oc.payer.payer_id == default_payer:
            return default_payer, oc.adjudication_date
    return default_payer, None


_L_SV1 = tuple(("2400 SV101-2", *(f"2400 SV101-{3 + k}" for k in range(n))) for n in range(5))
_L_SV202 = tuple(("2400 SV202-2", *(f"2400 SV202-{3 + k}" for k in range(n))) for n in range(5))
_L_SV201 = ("2400 SV201",)
_L_SV103 = ("2400 SV103",)
_L_SV105 = ("2400 SV105",)
_L_SV204 = ("2400 SV204",)
MAX_POINTERS = 4


def loop2400(
    out: list[str],
    claim: Claim,
    ctx: BuildContext,
    values: list[str],
    labels: list[tuple[str, ...]],
    default_payer: str | None,
    default_date: dt.date | None,
    *,
    institutional: bool,
) -> None:
    """Append every service line, LX through its 2410 and 2430 loops (``default_payer``/``default_date``
    from :func:`secondary_loops`).

    837P: ``LX*1~ SV1*HC:99213:25*125*UN*1***1:2~ DTP*472*D8*20240110~ REF*6R*L0001-1~`` — the procedure
    is required, SV107 points into HI, SV105 only when the line's place of service differs from the claim's.
    837I: ``LX*1~ SV2*0450*HC:99284*1250*UN*1~ DTP*472*D8*20240110~ REF*6R*L0002-1~`` — the revenue code is
    required, the procedure optional. Everything else is the same in both guides. One loop with the
    guide as a flag rather than a shared function called per line: that extra call per line measured
    about 5% slower on the 837 benchmark.
    """
    amt = ctx.amt
    d8 = ctx.d8
    append = out.append
    pointers = ctx.pointers
    pos = claim.place_of_service
    rev: str | None = None
    ptr: str | None = ""
    lpos: str | None = ""
    if institutional:
        mod_where, sv_labels, ub_label = "2400 SV202", _L_SV202, _L_SV204
    else:
        mod_where, sv_labels, ub_label = "2400 SV101", _L_SV1, _L_SV103
    for n, line in enumerate(claim.lines, 1):
        proc = line.procedure_code
        mods = line.modifiers
        if institutional:
            rev = line.revenue_code
            if not rev:
                raise fail(claim, "2400 SV201", f"line {n}: revenue code is required on an 837I")
            values.append(rev)
            labels.append(_L_SV201)
        else:
            if not proc:
                raise fail(claim, "2400 SV101-2", f"line {n}: procedure code is required on an 837P")
            ptrs = line.diagnosis_pointers
            ptr = pointers.get(ptrs)
            if ptr is None:
                if (
                    not ptrs
                    or len(ptrs) > MAX_POINTERS
                    or not all(type(p) is int and 1 <= p <= 12 for p in ptrs)
                ):
                    raise fail(
                        claim, "2400 SV107", f"line {n}: 1 to {MAX_POINTERS} diagnosis pointers, each 1 to 12"
                    )
                ptr = ctx.pointer_composite(ptrs)
        if proc:
            if mods:
                if len(mods) > 4:
                    raise fail(claim, mod_where, f"line {n}: at most 4 modifiers")
                comp = "HC:" + proc + ":" + ":".join(mods)
                values.append(proc)
                values += mods
            else:
                comp = "HC:" + proc
                values.append(proc)
            labels.append(sv_labels[len(mods)])
        else:
            comp = ""
        if not institutional:
            lpos = line.place_of_service
            if lpos and lpos != pos:
                if lpos not in SAFE_CODES:
                    values.append(lpos)
                    labels.append(_L_SV105)
            else:
                lpos = ""
        ub = line.unit_basis
        if ub not in SAFE_CODES:
            values.append(ub)
            labels.append(ub_label)
        units = amt[line.units]
        start = line.service_date
        end = line.service_date_end
        dtp = (
            f"DTP*472*D8*{d8[start]}~"
            if end is None or end == start
            else f"DTP*472*RD8*{d8[start]}-{d8[end]}~"
        )
        if institutional:
            text = f"LX*{n}~SV2*{rev}*{comp}*{amt[line.charge]}*{ub}*{units}~{dtp}"
        else:
            text = f"LX*{n}~SV1*{comp}*{amt[line.charge]}*{ub}*{units}*{lpos}**{ptr}~{dtp}"
        lcn = line.line_control_number
        if lcn:
            append(f"{text}REF*6R*{lcn}~")
            values.append(lcn)
            labels.append(_L_6R)
        else:
            append(text)
        if line.ndc is not None:
            append(loop2410(claim, n, ctx, values, labels))
        if line.other_payer is not None:
            out += loop2430(claim, n - 1, comp, rev, units, ctx, values, labels, default_payer, default_date)


Loop2300 = Callable[[list[str], Claim, BuildContext, list[str], list[tuple[str, ...]]], None]
"""A guide's ``loop2300(out, claim, ctx, values, labels)``: CLM through the last 2400 line."""


def append_claim(
    loop2300: Loop2300, out: list[str], claim: Claim, ctx: BuildContext, parent_hl: int, hl: int
) -> int:
    """Append one claim — 2000B (HL ``hl``) through its last 2400, the 2300 part by the guide's
    ``loop2300`` — to ``out``; return the last HL number used. Raises :class:`edi.errors.X12WriteError`
    (``out`` may then hold part of the claim: the caller truncates)."""
    values: list[str] = []
    labels: list[tuple[str, ...]] = []
    last = loop2000b(out, claim, ctx, values, labels, parent_hl, hl)
    loop2300(out, claim, ctx, values, labels)
    try:
        safe = ctx.safe("".join(values))
    except TypeError:  # a None where text belongs; verify_claim_text names it
        safe = False
    if not safe:
        verify_claim_text(values, labels, claim, ctx)
    return last


def single_claim_segments(loop2300: Loop2300, claim: Claim, ctx: BuildContext | None) -> list[str]:
    """One claim's segments (terminated) from its 2000B HL down (HL 2 under billing provider 1), for
    tests and tools that need a single claim."""
    out: list[str] = []
    append_claim(loop2300, out, claim, ctx or BuildContext(), 1, 2)
    return [seg + "~" for seg in "".join(out).split("~")[:-1]]
