"""The sandbox payer answers 270 eligibility inquiries (271) and 276 claim status requests (277 X212).

Deterministic for a seed, like the rest of the sandbox payer:

* **271**: per 2000C subscriber, from a hash of (seed, member id): about 1 in 10 members is unknown
  (``AAA*Y**75*C``, subscriber/insured not found), about 1 in 10 has coverage that ended last year
  (``EB*6``, plan dates), the rest are active with a plan name and realistic benefits — calendar-year
  deductible and what remains of it, out-of-pocket maximum and remaining, office-visit copay,
  coinsurance. A member id that is empty is always unknown, and so is every member whose claims the
  payer's front end rejects as "subscriber not found" (277CA ``A7:164``: the reserved prefix and the
  seeded not-found rate of :class:`~claimflow.sandbox.payer.engine.EngineConfig`), so a 271 never calls
  a member active whose claims the same sandbox would reject. :func:`member_inactive` is the inactive
  rule, for the engine to deny such claims (CO-27) should one be sent anyway.
* **277**: per 2200D claim, by the CLM01 in TRN02 against what the sandbox adjudicated (its state): not
  received → ``D0:35`` (not found); adjudicated, payment not yet released → ``P1:20`` (pended, in
  process); released with a payment → ``F1:65`` (finalized, paid), released with nothing paid →
  ``F2:88`` (finalized, denied); REF*1K carries the payer's claim number, STC04/05 charge and paid.

Every file it writes passes validation with claimflow's maps (``edi/maps``).

:class:`InquiringPayer` puts both in the mailbox: wrapped around the SFTP server's upload handler
(:class:`~claimflow.sandbox.payer.SandboxPayer`), it answers an uploaded 270 or 276 at once (``<upload
name>.271`` / ``.277`` in the partner's ``outbound/``) and hands every other file to the payer. It can also
pend a seeded share of claims for one payment run (``pend_per_mille``), as payers do with claims under
review: their 835 comes a run later, and a 276 meanwhile gets ``P1:20``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimflow.sandbox.payer.engine import EngineConfig, PayerSimulator
from claimflow.sandbox.payer.state import SandboxState, StateControlNumbers, locked_state
from edi.claim import InterchangeParties
from edi.envelope import EnvelopeWriter
from edi.reader import iter_segments
from edi.writer import format_amount

if TYPE_CHECKING:
    from claimflow.sandbox.payer import SandboxPayer

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


def answer_270(
    path: Path, state: SandboxState, *, seed: int, run_date: dt.date, config: EngineConfig | None = None
) -> bytes:
    segs = _segments(path)
    created = dt.datetime.combine(run_date, dt.time(9, 0))
    body = [f"BHT*0022*11*{_ref(segs)}*{created:%Y%m%d}*{created:%H%M}"]
    year = run_date.year
    payer = PayerSimulator(state, seed, config)
    payer_id = ""
    for el in segs:
        sid = el[0]
        if sid == "HL" or (sid == "NM1" and el[1] in ("PR", "1P")):
            if sid == "NM1" and el[1] == "PR":
                payer_id = el[9] if len(el) > 9 else ""
            body.append("*".join(el))
        elif sid == "TRN":
            body.append(f"TRN*2*{el[2]}*{(el[3] if len(el) > 3 else '') or '9SANDBOXPY'}")
        elif sid == "NM1" and el[1] in ("IL", "03"):
            body.append("*".join(el))
            member = el[9] if len(el) > 9 else ""
            body += _benefits(seed, member, year, not_found=_not_found(payer, payer_id, member))
    return _write(
        _parties(_header(segs)), StateControlNumbers(state), created, "HB", "271", "005010X279A1", body
    )


def _ref(segs: list[list[str]]) -> str:
    bht = next((el for el in segs if el[0] == "BHT"), None)
    return (bht[3] if bht and len(bht) > 3 else "") or "SANDBOX"


def _not_found(payer: PayerSimulator, payer_id: str, member: str) -> bool:
    """The engine's own "subscriber not found" rule (277CA A7:164), so 271 and 277CA agree."""
    prefix = payer.config.reject_member_prefix.upper()
    return (
        not member
        or bool(prefix and member.upper().startswith(prefix))
        or payer._roll(payer.config.member_not_found_per_mille, "member", payer_id, member)
    )


def member_inactive(seed: int, member: str) -> bool:
    """True when the sandbox's 271 says this member's coverage ended last year (``EB*6``)."""
    return bool(member) and _h(seed, "elig", member) % 10 == 1


def _benefits(seed: int, member: str, year: int, *, not_found: bool = False) -> list[str]:
    roll = _h(seed, "elig", member) % 10 if member else 0
    if roll == 0 or not_found:
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


def inquiry_kind(path: Path) -> str | None:
    """``"270"`` or ``"276"`` from the file's first ST01, else None (837s and anything unreadable)."""
    from edi.errors import X12Error

    try:
        for _n, el in iter_segments(Path(path).read_bytes()[:4096], log_padding=False):
            if el[0] == "ST":
                return el[1] if len(el) > 1 and el[1] in ("270", "276") else None
    except (X12Error, OSError):
        return None
    return None


class InquiringPayer:
    """The sandbox payer behind a mailbox, answering eligibility and claim status inquiries too.

    ``InquiringPayer(make_upload_handler(root, seed))`` is an ``on_upload(partner, path)`` callback: a 270
    or 276 is answered at once into ``<root>/<partner>/outbound/<upload stem>.271`` / ``.277`` (names carry
    the upload's, never PHI); anything else goes to the wrapped payer (TA1/999/277CA, adjudication).
    ``release_payments`` is the payer's, except that with ``pend_per_mille`` a seeded share of the claims
    due for the first time stays pending for one run (claims under review: a 276 gets ``P1:20`` until their
    835 comes). Every other attribute is the wrapped payer's.
    """

    def __init__(self, payer: SandboxPayer, *, pend_per_mille: int = 0) -> None:
        self.payer = payer
        self.pend_per_mille = pend_per_mille
        self.answered: list[Path] = []
        self._pended: set[str] = set()  # claims already pended once: paid at the next run

    def __getattr__(self, name: str) -> Any:
        return getattr(self.payer, name)

    def __call__(self, partner: str, path: Path) -> None:
        kind = inquiry_kind(path)
        if kind is None:
            self.payer(partner, path)
            return
        from claimflow.sandbox.payer import _deliver

        run_date = self.payer.today()
        with locked_state(self.payer.state_path, self.payer.seed) as state:
            if kind == "270":
                data = answer_270(
                    path, state, seed=self.payer.seed, run_date=run_date, config=self.payer.config
                )
            else:
                data = answer_276(path, state, seed=self.payer.seed, run_date=run_date)
        stem = Path(path).name.split(".")[0] or "inquiry"
        self.answered.append(
            _deliver(self.payer.root, partner, f"{stem}.{'271' if kind == '270' else '277'}", data)
        )

    def answer_many(self, items: Iterable[tuple[str, Path]]) -> None:
        """``self(partner, path)`` for each item in order; runs of claim files go to the wrapped payer's
        :meth:`~claimflow.sandbox.payer.SandboxPayer.answer_many` (one state load and save per run)."""
        claims: list[tuple[str, Path]] = []
        for partner, path in items:
            if inquiry_kind(path) is None:
                claims.append((partner, path))
                continue
            if claims:
                self.payer.answer_many(claims)
                claims = []
            self(partner, path)
        if claims:
            self.payer.answer_many(claims)

    def release_payments(self, run_date: dt.date | None = None, partner: str | None = None) -> list[Path]:
        held: list[dict[str, Any]] = []
        if self.pend_per_mille > 0:
            with locked_state(self.payer.state_path, self.payer.seed) as state:
                keep = []
                for item in state.pending:
                    icn = item.get("icn", "")
                    # drawn on our CLM01, not the payer claim number: ICNs are handed out in arrival order,
                    # which parallel uploads (CeleryExecutor) change, and the same claims must pend
                    clm01 = (state.claims.get(icn) or {}).get("clm01") or icn
                    if (
                        item.get("kind") == "payment"
                        and icn not in self._pended
                        and _h(self.payer.seed, "pend", clm01) % 1000 < self.pend_per_mille
                    ):
                        held.append(item)
                        self._pended.add(icn)
                    else:
                        keep.append(item)
                state.pending[:] = keep
        try:
            return self.payer.release_payments(run_date, partner)
        finally:
            if held:
                with locked_state(self.payer.state_path, self.payer.seed) as state:
                    state.pending.extend(held)
