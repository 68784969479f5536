"""Build -> read back with ``edi.reader`` -> the same claims (control numbers, charges, line counts)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edi.claim import Claim
from edi.control_numbers import InMemoryControlNumbers
from edi.delimiters import Delimiters
from edi.reader import iter_segments
from edi.x837 import build_interchange

from .conftest import (
    CREATED,
    PARTIES,
    RECEIVER,
    SUBMITTER,
    inpatient_claim,
    institutional_claim,
    many_professional_claims,
    secondary_institutional_claim,
)


def read_claims(data: bytes) -> tuple[list[tuple[str, Decimal, int, Decimal]], dict[str, str]]:
    """(CLM01, CLM02, number of LX, sum of line charges) per claim, and the envelope control numbers."""
    claims: list[tuple[str, Decimal, int, Decimal]] = []
    env: dict[str, str] = {}
    cur: list[object] | None = None
    for _no, el in iter_segments(data):
        sid = el[0]
        if sid in ("ISA", "GS", "IEA"):
            env[sid] = el[13] if sid == "ISA" else el[6] if sid == "GS" else el[2]
        elif sid == "CLM":
            cur = [el[1], Decimal(el[2]), 0, Decimal(0)]
            claims.append(cur)  # type: ignore[arg-type]
        elif sid == "LX" and cur is not None:
            cur[2] += 1  # type: ignore[operator]
        elif sid in ("SV1", "SV2") and cur is not None:
            cur[3] += Decimal(el[2] if sid == "SV1" else el[3])  # type: ignore[operator]
        elif sid == "SE":
            cur = None
    return [tuple(c) for c in claims], env  # type: ignore[misc]


def expected(claims: list[Claim]) -> list[tuple[str, Decimal, int, Decimal]]:
    return [
        (
            c.patient_control_number,
            c.total_charge,
            len(c.lines),
            sum((ln.charge for ln in c.lines), Decimal(0)),
        )
        for c in claims
    ]


@pytest.mark.parametrize(
    "delimiters",
    [Delimiters(), Delimiters(element="|", component=">", repetition="`", segment="\\")],
)
@pytest.mark.parametrize("newline", [False, True])
def test_professional_round_trip(delimiters: Delimiters, newline: bool) -> None:
    claims = many_professional_claims(13)
    b = build_interchange(
        claims,
        PARTIES,
        SUBMITTER,
        RECEIVER,
        InMemoryControlNumbers(interchange=77, group=78),
        CREATED,
        max_claims_per_st=5,
        delimiters=delimiters,
        newline=newline,
    )
    got, env = read_claims(b.data)
    by_id = {c.claim_id: c for c in claims}
    assert got == expected([by_id[i] for i in b.manifest.claim_ids])
    assert env == {"ISA": "000000077", "GS": "78", "IEA": "000000077"}


def test_institutional_round_trip() -> None:
    claims = [institutional_claim(1), inpatient_claim(2), secondary_institutional_claim(3)]
    b = build_interchange(claims, PARTIES, SUBMITTER, RECEIVER, InMemoryControlNumbers(), CREATED)
    got, _ = read_claims(b.data)
    assert got == expected(claims)
