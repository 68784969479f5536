"""What the 270 eligibility inquiry (:mod:`edi.x270`) and the 276 claim status request (:mod:`edi.x276`)
share: the envelope, the BHT, the grouping of requests under payer and provider, and the payer loop.

Both guides open the same way::

    BHT*0022*13*CF12*20260302*0930~                   (0022 eligibility; 0010 claim status)
    HL*1**20*1~ NM1*PR*2*ACME HEALTH PLAN*****PI*87726~   Loop2000A/2100A information source (the payer)

and both are written as one interchange with one group and one transaction set. Values are made X12-safe
(:func:`element`) rather than refused: an inquiry is a question, and a name with an asterisk in it must
still be askable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from edi.claim import InterchangeParties
from edi.envelope import EnvelopeWriter

_UNSAFE = str.maketrans({"*": " ", ":": " ", "^": " ", "~": " ", "\r": " ", "\n": " "})


def element(value: str | None, max_len: int) -> str:
    """``value`` as an X12 element: delimiters and line breaks become spaces, upper case, at most
    ``max_len`` characters."""
    return (value or "").translate(_UNSAFE).strip().upper()[:max_len]


class Request(Protocol):
    """What grouping needs of a 270 :class:`~edi.x270.Inquiry` or a 276 :class:`~edi.x276.StatusInquiry`."""

    @property
    def payer_id(self) -> str: ...
    @property
    def payer_name(self) -> str: ...
    @property
    def provider_npi(self) -> str: ...
    @property
    def provider_name(self) -> str: ...


R = TypeVar("R", bound=Request)


def by_payer_and_provider(
    requests: Sequence[R],
) -> dict[tuple[str, str], dict[tuple[str, str], list[R]]]:
    """``{(payer id, payer name): {(provider NPI, provider name): [requests]}}`` in first-seen order: one
    2000A per payer, one provider loop under it per provider."""
    by_payer: dict[tuple[str, str], dict[tuple[str, str], list[R]]] = {}
    for q in requests:
        by_payer.setdefault((q.payer_id, q.payer_name), {}).setdefault(
            (q.provider_npi, q.provider_name), []
        ).append(q)
    return by_payer


def bht(purpose: str, reference: str, created: dt.datetime) -> str:
    """``BHT*0022*13*CF12*20260302*0930`` (BHT02 13: a request); ``purpose`` is BHT01."""
    return f"BHT*{purpose}*13*{element(reference, 50)}*{created:%Y%m%d}*{created:%H%M}"


def payer_loop(hl: int, payer_name: str, payer_id: str) -> list[str]:
    """Loop2000A/2100A, the information source: ``HL*1**20*1`` ``NM1*PR*2*ACME HEALTH PLAN*****PI*87726``."""
    return [f"HL*{hl}**20*1", f"NM1*PR*2*{element(payer_name, 60)}*****PI*{element(payer_id, 80)}"]


def provider_nm1(provider_name: str, npi: str) -> str:
    """The provider asking (270 2100B, 276 2100C): ``NM1*1P*2*SUNRISE CLINIC*****XX*1234567893``."""
    return f"NM1*1P*2*{element(provider_name, 60)}*****XX*{element(npi, 80)}"


def subscriber_nm1(last_name: str, first_name: str, member_id: str) -> str:
    """``NM1*IL*1*DOE*JANE****MI*W123456789`` (PHI: only ever written to the file)."""
    return f"NM1*IL*1*{element(last_name, 60)}*{element(first_name, 35)}****MI*{element(member_id, 80)}"


def gender_code(gender: str) -> str:
    """DMG03: ``F`` or ``M``, anything else ``U`` (unknown)."""
    return gender if gender in ("F", "M") else "U"


def terminated(segments: list[str]) -> tuple[str, int]:
    """The segments joined with terminators, and their count (for SE01)."""
    return "".join(s + "~" for s in segments), len(segments)


def interchange(
    parties: InterchangeParties,
    *,
    functional_id: str,
    set_id: str,
    guide: str,
    interchange_control_number: int,
    group_control_number: int,
    transaction_control_number: int,
    created: dt.datetime,
    body: Callable[[], tuple[str, int]],
) -> str:
    """A whole interchange around one transaction set: ISA, GS (``functional_id``: HS for 270, HR for
    276), ST, what ``body()`` returns (text and segment count), SE, GE, IEA. ``body`` is called once the
    envelope is open, so an envelope error is raised before a body error, as it always was."""
    w = EnvelopeWriter(parties, interchange_control_number, created)
    w.begin_group(functional_id, guide, group_control_number)
    w.begin_transaction(set_id, transaction_control_number, guide)
    w.add(*body())
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    return w.text()
