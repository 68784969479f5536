"""The sandbox payer answers 270 eligibility inquiries (271) and 276 claim status requests (277 X212).

Deterministic for a seed, like the rest of the sandbox payer:

* **271**: per 2000C subscriber, from a hash of (seed, member id): about 1 in 10 members is unknown
  (``AAA*Y**75*C``, subscriber/insured not found), about 1 in 10 has coverage that ended last year
  (``EB*6``, plan dates), the rest are active with a plan name and realistic benefits — calendar-year
  deductible and what remains of it, out-of-pocket maximum and remaining, office-visit copay,
  coinsurance. A member id that is empty is always unknown.
* **277**: per 2200D claim, by the CLM01 in TRN02 against what the sandbox adjudicated (its state): not
  received → ``D0:35`` (not found); adjudicated, payment not yet released → ``P1:20`` (pended, in
  process); released with a payment → ``F1:65`` (finalized, paid), released with nothing paid →
  ``F2:88`` (finalized, denied); REF*1K carries the payer's claim number, STC04/05 charge and paid.

Every file it writes passes validation with claimflow's maps (``edi/maps``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimflow.sandbox.payer.state import SandboxState, StateControlNumbers
from edi.claim import InterchangeParties
from edi.envelope import EnvelopeWriter
from edi.reader import iter_segments
from edi.writer import format_amount

PLANS = ("GOLD PPO", "SILVER HMO", "BRONZE EPO", "MEDICARE ADVANTAGE")


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _parties(isa: list[str]) -> InterchangeParties:
    """Answer to the sender: our ISA06/ISA05 become the receiver."""
    return InterchangeParties(
        sender_qualifier=isa[7].strip(),
        sender_id=isa[8].strip(),
        receiver_qualifier=isa[5].strip(),
        receiver_id=isa[6].strip(),
        usage=isa[15].strip() or "T",
        gs_sender=None,
        gs_receiver=None,
    )


def _segments(path: Path) -> list[list[str]]:
    return [el for _n, el in iter_segments(path)]


def _header(segs: list[list[str]]) -> list[str]:
    return next(el for el in segs if el[0] == "ISA")


def _write(
    parties: InterchangeParties,
    ctl: StateControlNumbers,
    created: dt.datetime,
    fic: str,
    st01: str,
    guide: str,
    body: list[str],
) -> bytes:
    w = EnvelopeWriter(parties, ctl.next_interchange(), created)
    w.begin_group(fic, guide, ctl.next_group())
    w.begin_transaction(st01, ctl.next_transaction(), guide)
    w.add("".join(s + "~" for s in body), len(body))
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    return w.text().encode("ascii")


def answer_270(path: Path, state: SandboxState, *, seed: int, run_date: dt.date) -> bytes:
    segs = _segments(path)
    created = dt.datetime.combine(run_date, dt.time(9, 0))
    body = [f"BHT*0022*11*{_ref(segs)}*{created:%Y%m%d}*{created:%H%M}"]
    year = run_date.year
    for el in segs:
        sid = el[0]
        if sid == "HL" or (sid == "NM1" and el[1] in ("PR", "1P")):
            body.append("*".join(el))
        elif sid == "TRN":
            body.append(f"TRN*2*{el[2]}*{(el[3] if len(el) > 3 else '') or '9SANDBOXPY'}")
        elif sid == "NM1" and el[1] in ("IL", "03"):
            body.append("*".join(el))
            member = el[9] if len(el) > 9 else ""
            body += _benefits(seed, member, year)
    return _write(
        _parties(_header(segs)), StateControlNumbers(state), created, "HB", "271", "005010X279A1", body
    )


def _ref(segs: list[list[str]]) -> str:
    bht = next((el for el in segs if el[0] == "BHT"), None)
    return (bht[3] if bht and len(bht) > 3 else "") or "SANDBOX"


def _benefits(seed: int, member: str, year: int) -> list[str]:
    roll = _h(seed, "elig", member) % 10 if member else 0
    if roll == 0:
        return ["AAA*Y**75*C"]  # subscriber/insured not found; correct and resubmit
    if roll == 1:
        return [f"DTP*346*D8*{year - 1}0101", f"DTP*347*D8*{year - 1}1231", "EB*6**30"]
    r = _h(seed, "benefits", member)
    plan = PLANS[r % len(PLANS)]
    deductible = Decimal(500 + 250 * (r % 7))
    met = (deductible * Decimal((r >> 8) % 101) / 100).quantize(Decimal("0.01"))
    oop = Decimal(3000 + 500 * ((r >> 16) % 9))
    oop_met = (met + Decimal((r >> 24) % 800)).quantize(Decimal("0.01"))
    copay = Decimal(15 + 5 * ((r >> 32) % 8))
    coins = ("0.1", "0.2", "0.3")[(r >> 40) % 3]
    return [
        f"DTP*346*D8*{year}0101",
        f"EB*1**30**{plan}",
        f"EB*C*IND*30***23*{format_amount(deductible)}",
        f"EB*C*IND*30***29*{format_amount(deductible - met)}",
        f"EB*G*IND*30***23*{format_amount(oop)}",
        f"EB*G*IND*30***29*{format_amount(max(oop - oop_met, Decimal(0)))}",
        f"EB*B*IND*98***27*{format_amount(copay)}",
        f"EB*A*IND*30***27**{coins}",
    ]


def _claim_answer(state: SandboxState, pcn: str) -> tuple[str, str | None, Decimal | None]:
    """(STC01, payer claim number, paid) for one CLM01, from what the sandbox adjudicated."""
    found: tuple[str, dict[str, Any]] | None = None
    for icn, rec in state.claims.items():
        if rec.get("clm01") == pcn:
            found = (icn, rec)  # the latest answer wins (replacements keep the CLM01)
    if found is None:
        return "D0:35", None, None
    icn, rec = found
    payment = rec.get("payment") or {}
    paid = Decimal(payment.get("paid", "0"))
    if rec.get("status") in ("pending", "reversing"):
        return "P1:20", icn, None
    if paid > 0:
        return "F1:65", icn, paid
    return "F2:88", icn, paid


def answer_276(path: Path, state: SandboxState, *, seed: int, run_date: dt.date) -> bytes:
    segs = _segments(path)
    created = dt.datetime.combine(run_date, dt.time(9, 0))
    body = [f"BHT*0010*08*{_ref(segs)}*{created:%Y%m%d}*{created:%H%M}*DG"]
    charge: dict[str, str] = {}
    pending: list[str] | None = None
    for el in segs:
        sid = el[0]
        if sid == "HL" or (sid == "NM1" and el[1] in ("PR", "41", "1P", "IL", "QC")):
            if sid == "HL" and pending:
                body += pending
                pending = None
            body.append("*".join(el))
        elif sid == "TRN":
            if pending:
                body += pending
            pcn = el[2]
            pending = [f"TRN*2*{pcn}", "STC", f"REF*EJ*{pcn}"]
        elif sid == "REF" and pending is not None and el[1] == "EJ" and len(el) > 2:
            pending[2] = f"REF*EJ*{el[2]}"  # the CLM01 we adjudicated, when TRN02 is some other trace
        elif sid == "AMT" and pending is not None and el[1] == "T3":
            charge[pending[0]] = el[2]
        elif sid == "DTP" and pending is not None:
            pending.append("*".join(el))
    if pending:
        body += pending
    out: list[str] = []
    for i, s in enumerate(body):
        if s == "STC":
            trn = out[-1]
            pcn = body[i + 1].split("*")[2]
            stc, icn, paid = _claim_answer(state, pcn)
            amounts = f"*{charge.get(trn, '0')}" + (f"*{format_amount(paid)}" if paid is not None else "")
            out.append(f"STC*{stc}*{run_date:%Y%m%d}*{amounts}")
            if icn:
                out.append(f"REF*1K*{icn}")
        else:
            out.append(s)
    return _write(
        _parties(_header(segs)), StateControlNumbers(state), created, "HN", "277", "005010X212", out
    )
