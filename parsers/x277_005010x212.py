"""277 Health Care Claim Status Response, guide 005010X212 (the answer to a 276) → claim status records.

The loops are those of the 277CA (:mod:`parsers.x277ca_005010x214`), so the same walker reads them and
yields the same :class:`~parsers.records.ClaimStatus` records::

    HL*4*3*22*0~  2000D subscriber: NM1*IL, then per claim (2200D):
                  TRN*2*<the TRN02 of our 276: the CLM01 we sent>~
                  STC*F1:65*20260301**150.00*120.00*20260301~   finalized/paid (F1), 65 claim paid
                  REF*1K*<payer claim number>~ REF*EJ*<patient control number>~ DTP*472*RD8*…~

What differs is the meaning of STC01-1: claim status categories (F0 finalized, F1 finalized/payment,
F2 denied, F4 finalized/adjudication complete, P0-P5 pended, A* acknowledgment, E* errors, D0 not
found …); ``accepted`` stays ``None`` unless an A-category says otherwise, exactly as for the 277CA.
claimflow's 276 puts the patient control number in TRN02, so ``patient_control_number`` matches our
submissions whichever of TRN02 or REF*EJ the payer fills; a REF*EJ wins when both are present.
"""

from __future__ import annotations

from collections.abc import Iterator

from edi import gc_paused
from edi.delimiters import Delimiters
from edi.reader import CHUNK_SIZE, Source, iter_batches, source_name
from parsers import x277ca_005010x214 as base
from parsers.detect import OTHER_277_GUIDES, describe_277
from parsers.envelope import Envelope

GUIDE = "005010X212"
TRANSACTION = "277"
FINALIZED = frozenset({"F0", "F1", "F2", "F3", "F3F", "F3N", "F4", "F5"})
PENDED = frozenset({"P0", "P1", "P2", "P3", "P4", "P5"})
NOT_FOUND_CODES = frozenset({"D0"})


def category_group(category: str) -> str:
    """``finalized``, ``pended``, ``not_found``, ``acknowledged``, ``error`` or ``other`` for an STC01-1."""
    if category in FINALIZED:
        return "finalized"
    if category in PENDED:
        return "pended"
    if category in NOT_FOUND_CODES:
        return "not_found"
    if category.startswith("A"):
        return "acknowledged"
    if category.startswith("E"):
        return "error"
    return "other"


class _Parser(base._Parser):
    def begin(self, segno: int) -> None:
        env = self.env
        if env.st01 != TRANSACTION:
            raise self.err(
                f"ST01 {env.st01} in a 277 file; one transaction type per file is supported", segno, "ST"
            )
        versions = [v for v in (env.st03, env.gs08 or "") if v]
        if versions and not any("X212" in v for v in versions):
            if any(g in v for v in versions for g in OTHER_277_GUIDES) or any("X214" in v for v in versions):
                raise self.err(
                    f"{describe_277(*versions)} is not a claim status response ({GUIDE})", segno, "ST"
                )
            if not any(v.startswith("00501") for v in versions):
                raise self.err(f"277 version {versions[0]} is not supported (only {GUIDE})", segno, "ST")
        # the 277CA parser's own begin() would refuse X212: reset its state here
        self.level = ""
        self.payer = self.receiver = self.provider = self.patient = None
        self.batch_trace = self.provider_trace = None
        self.claim = self.line = self.lvl = None
        self.lines = []
        self.claim_u = self.line_u = self.lvl_u = False

    def segment(self, segno: int, el: list[str], delims: Delimiters) -> Iterator[base.Record277]:
        # X212 names the 2000D/2000E levels subscriber (22) and dependent (23); the 277CA has PT
        if el[0] == "HL" and len(el) > 3 and el[3] in ("22", "23"):
            el = [*el[:3], "PT", *el[4:]]
        elif el[0] == "REF" and len(el) > 2 and el[1] == "EJ" and self.claim is not None and el[2]:
            base.check_len(el[2], base.PCN_MAX, self.file, segno, "REF", "REF02")
            self.claim[base._C["patient_control_number"]] = el[2]
            return iter(())
        return super().segment(segno, el, delims)


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[base.Record277]:
    """Claim status records of a 277 X212 file (path, bytes or binary stream), streaming."""
    label = source_name(source, name)
    parser = _Parser(Envelope(label, file_sha256))
    with gc_paused():
        yield from parser.run(iter_batches(source, name=label, chunk_size=chunk_size))
