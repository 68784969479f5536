"""276 Health Care Claim Status Request, guide 005010X212: build one transaction set.

Loops as the guide names them::

    BHT*0010*13*<reference>*20260302*0930~
    HL*1**20*1~   Loop2000A information source: NM1*PR*2*ACME HEALTH PLAN*****PI*87726~ (Loop2100A)
    HL*2*1*21*1~  Loop2000B information receiver (us): NM1*41*2*CLAIMFLOW BILLING*****46*CLAIMFLOW01~
    HL*3*2*19*1~  Loop2000C service provider: NM1*1P*2*SUNRISE CLINIC*****XX*1234567893~
    HL*4*3*22*0~  Loop2000D subscriber: DMG*D8*19800101*F~ NM1*IL*1*DOE*JANE****MI*W123456789~
                  Loop2200D: TRN*1*<patient control number>~ REF*1K*<payer claim number>~
                             REF*EJ*<patient control number>~ AMT*T3*150.00~ DTP*472*RD8*20260201-20260201~

TRN02 is the patient control number we sent (CLM01), so the 277's TRN*2 matches our submission whether or
not the payer echoes REF*EJ. One 2000A per payer, one 2000C per provider, one 2000D per claim.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

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
from edi.writer import format_amount

GUIDE = "005010X212"


@dataclass(frozen=True, slots=True)
class StatusInquiry:
    """One claim asked about (Loop2000D + Loop2200D)."""

    patient_control_number: str
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    last_name: str
    first_name: str
    member_id: str
    birth_date: dt.date
    gender: str
    charge: Decimal
    service_from: dt.date
    service_to: dt.date
    payer_claim_number: str | None = None


def body(
    inquiries: Sequence[StatusInquiry],
    reference: str,
    created: dt.datetime,
    receiver_name: str,
    receiver_id: str,
) -> tuple[str, int]:
    """The BHT..DTP segments of one 276 (canonical delimiters) and their count."""
    if not inquiries:
        raise X12WriteError("276: no claims")
    segs = [bht("0010", reference, created)]
    hl = 0
    for (payer_id, payer_name), providers in by_payer_and_provider(inquiries).items():
        hl += 1
        source = hl
        segs += payer_loop(source, payer_name, payer_id)
        hl += 1
        receiver = hl
        segs += [
            f"HL*{receiver}*{source}*21*1",
            f"NM1*41*2*{_v(receiver_name, 60)}*****46*{_v(receiver_id, 80)}",
        ]
        for (npi, provider_name), qs in providers.items():
            hl += 1
            provider = hl
            segs += [f"HL*{provider}*{receiver}*19*1", provider_nm1(provider_name, npi)]
            for q in qs:
                hl += 1
                pcn = _v(q.patient_control_number, 38)
                segs += [
                    f"HL*{hl}*{provider}*22*0",
                    f"DMG*D8*{q.birth_date:%Y%m%d}*{gender_code(q.gender)}",
                    subscriber_nm1(q.last_name, q.first_name, q.member_id),
                    f"TRN*1*{pcn}",
                ]
                if q.payer_claim_number:
                    segs.append(f"REF*1K*{_v(q.payer_claim_number, 50)}")
                segs += [
                    f"REF*EJ*{pcn}",
                    f"AMT*T3*{format_amount(q.charge)}",
                    f"DTP*472*RD8*{q.service_from:%Y%m%d}-{q.service_to:%Y%m%d}",
                ]
    return terminated(segs)


def build_276(
    inquiries: Sequence[StatusInquiry],
    parties: InterchangeParties,
    *,
    interchange_control_number: int,
    group_control_number: int,
    transaction_control_number: int,
    created: dt.datetime,
    receiver_name: str,
    receiver_id: str,
) -> str:
    """A whole interchange: ISA, GS*HR, one ST*276, GE, IEA."""
    return interchange(
        parties,
        functional_id="HR",
        set_id="276",
        guide=GUIDE,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        transaction_control_number=transaction_control_number,
        created=created,
        body=lambda: body(inquiries, f"CS{interchange_control_number}", created, receiver_name, receiver_id),
    )
