"""270 Health Care Eligibility Benefit Inquiry, guide 005010X279A1: build one transaction set.

Loops as the guide names them::

    BHT*0022*13*<reference>*20260302*0930~
    HL*1**20*1~                       Loop2000A information source (the payer)
    NM1*PR*2*ACME HEALTH PLAN*****PI*87726~              Loop2100A
    HL*2*1*21*1~                      Loop2000B information receiver (the provider asking)
    NM1*1P*2*SUNRISE CLINIC*****XX*1234567893~           Loop2100B
    HL*3*2*22*0~                      Loop2000C subscriber
    TRN*1*CF12-1*9CLAIMFLOW~          our trace: the 271 echoes it as TRN*2
    NM1*IL*1*DOE*JANE****MI*W123456789~ DMG*D8*19800101*F~ DTP*291*D8*20260302~   Loop2100C
    EQ*30~                            Loop2110C: service type 30 (health benefit plan coverage)

One 2000A per payer, one 2000B per provider under it, one 2000C per inquiry. The patient is asked about
as the subscriber (their own member id): claimflow's coverages carry the member id of the patient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from edi.claim import InterchangeParties
from edi.errors import X12WriteError
from edi.inquiry import (
    bht,
    by_payer_and_provider,
    gender_code,
    interchange,
    payer_loop,
    provider_nm1,
    subscriber_nm1,
    terminated,
)
from edi.inquiry import element as _v

GUIDE = "005010X279A1"


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One subscriber inquiry (Loop2000C). ``trace`` is TRN02: ours, no PHI."""

    trace: str
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    last_name: str
    first_name: str
    member_id: str
    birth_date: dt.date
    gender: str
    plan_date: dt.date
    service_types: tuple[str, ...] = ("30",)


def body(
    inquiries: Sequence[Inquiry], reference: str, created: dt.datetime, originator: str
) -> tuple[str, int]:
    """The BHT..EQ segments of one 270 (canonical delimiters) and their count."""
    if not inquiries:
        raise X12WriteError("270: no inquiries")
    segs = [bht("0022", reference, created)]
    hl = 0
    for (payer_id, payer_name), providers in by_payer_and_provider(inquiries).items():
        hl += 1
        source = hl
        segs += payer_loop(source, payer_name, payer_id)
        for (npi, provider_name), qs in providers.items():
            hl += 1
            receiver = hl
            segs.append(f"HL*{receiver}*{source}*21*1")
            segs.append(provider_nm1(provider_name, npi))
            for q in qs:
                hl += 1
                segs.append(f"HL*{hl}*{receiver}*22*0")
                segs.append(f"TRN*1*{_v(q.trace, 50)}*{_v(originator, 10)}")
                segs.append(subscriber_nm1(q.last_name, q.first_name, q.member_id))
                segs.append(f"DMG*D8*{q.birth_date:%Y%m%d}*{gender_code(q.gender)}")
                segs.append(f"DTP*291*D8*{q.plan_date:%Y%m%d}")
                for st in q.service_types or ("30",):
                    segs.append(f"EQ*{_v(st, 2)}")
    return terminated(segs)


def build_270(
    inquiries: Sequence[Inquiry],
    parties: InterchangeParties,
    *,
    interchange_control_number: int,
    group_control_number: int,
    transaction_control_number: int,
    created: dt.datetime,
    originator: str = "9CLAIMFLOW",
) -> str:
    """A whole interchange: ISA, GS*HS, one ST*270, GE, IEA."""
    return interchange(
        parties,
        functional_id="HS",
        set_id="270",
        guide=GUIDE,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        transaction_control_number=transaction_control_number,
        created=created,
        body=lambda: body(inquiries, f"CF{interchange_control_number}", created, originator),
    )
