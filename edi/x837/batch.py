"""Claims in, one 837 interchange out: grouping, HL numbering, ST splitting, envelopes.

``build_interchange`` takes claims of one type (all 837P or all 837I), groups them by billing provider
(one 2000A loop per provider per transaction set, the subscriber HLs beneath it), splits them into
transaction sets of at most ``max_claims_per_st`` claims (the guides recommend no more than 5000), and
frames everything in one ISA/GS. It returns the text with the control numbers used and, per ST, the claim
ids it carries, so that a 999 rejecting ST02 ``0419`` can be traced to its claims.

``HL*1**20*1~`` billing provider, ``HL*2*1*22*0~`` subscriber who is the patient, ``HL*3*1*22*1~`` +
``HL*4*3*23*0~`` subscriber with a dependant patient.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import IO

from edi import gc_paused
from edi.claim import Claim, ClaimType, InterchangeParties, Party, Provider
from edi.control_numbers import ControlNumberSource
from edi.delimiters import DEFAULT_DELIMITERS, Delimiters
from edi.envelope import EnvelopeWriter
from edi.errors import X12WriteError
from edi.x837 import common, institutional, professional
from edi.x837.common import (
    BuildContext,
    billing_provider_key,
    header_segments,
    loop2000a_body,
)

DEFAULT_MAX_CLAIMS_PER_ST = 5000


@dataclass(frozen=True, slots=True)
class BuiltTransaction:
    """One ST/SE: its control number as written, the claims in it (in order), SE01."""

    st02: str
    claim_ids: tuple[int, ...]
    segment_count: int


@dataclass(frozen=True, slots=True)
class InterchangeManifest:
    """What was sent: control numbers and which claims went in which transaction set.

    ``rejected`` lists ``(claim_id, reason)`` for claims left out with ``skip_invalid=True``; reasons name
    segments and elements, never values.
    """

    isa13: int
    gs06: int
    transactions: tuple[BuiltTransaction, ...]
    claim_type: ClaimType
    version: str
    rejected: tuple[tuple[int, str], ...] = ()

    @property
    def interchange_control_number(self) -> str:
        """ISA13 as written: ``"000000417"``."""
        return f"{self.isa13:09d}"

    @property
    def st02s(self) -> tuple[str, ...]:
        return tuple(t.st02 for t in self.transactions)

    @property
    def claim_ids(self) -> tuple[int, ...]:
        return tuple(cid for t in self.transactions for cid in t.claim_ids)

    @property
    def claim_count(self) -> int:
        return sum(len(t.claim_ids) for t in self.transactions)


@dataclass(frozen=True, slots=True)
class BuiltInterchange:
    """The interchange text and its manifest. ``data`` is the ASCII bytes to write or upload."""

    manifest: InterchangeManifest
    text: str = field(repr=False)

    @property
    def data(self) -> bytes:
        return self.text.encode("ascii")

    @property
    def isa13(self) -> int:
        return self.manifest.isa13

    @property
    def gs06(self) -> int:
        return self.manifest.gs06

    @property
    def transactions(self) -> tuple[BuiltTransaction, ...]:
        return self.manifest.transactions

    @property
    def st02s(self) -> tuple[str, ...]:
        return self.manifest.st02s

    @property
    def rejected(self) -> tuple[tuple[int, str], ...]:
        return self.manifest.rejected


def _group_by_billing_provider(claims: list[Claim]) -> list[tuple[Provider, list[Claim]]]:
    keys: dict[int, tuple[object, ...]] = {}
    groups: dict[tuple[object, ...], tuple[Provider, list[Claim]]] = {}
    for c in claims:
        bp = c.billing_provider
        k = keys.get(id(bp))
        if k is None:
            k = billing_provider_key(bp)
            keys[id(bp)] = k
        g = groups.get(k)
        if g is None:
            groups[k] = (bp, [c])
        else:
            g[1].append(c)
    return list(groups.values())


class _Assembler:
    """Builds claims straight into the open transaction set's segment list; writes each full set through
    an :class:`EnvelopeWriter`."""

    def __init__(
        self,
        claim_type: ClaimType,
        parties: InterchangeParties,
        submitter: Party,
        receiver: Party,
        control: ControlNumberSource,
        created: dt.datetime,
        max_claims_per_st: int,
        delimiters: Delimiters,
        newline: bool,
        skip_invalid: bool,
        emit: Callable[[str], object],
    ) -> None:
        # common.append_claim bound to the guide's 2300 (a partial, not the guide's wrapper function:
        # one Python call less per claim)
        guide = professional if claim_type == ClaimType.PROFESSIONAL else institutional
        self.append_claim: Callable[[list[str], Claim, BuildContext, int, int], int] = partial(
            common.append_claim, guide.loop2300
        )
        self.version = guide.VERSION
        self.institutional = claim_type == ClaimType.INSTITUTIONAL
        self.claim_type = claim_type
        self.parties = parties
        self.submitter = submitter
        self.receiver = receiver
        self.control = control
        self.created = created
        self.max = max_claims_per_st
        self.delimiters = delimiters
        self.newline = newline
        self.skip_invalid = skip_invalid
        self.emit = emit
        self.ctx = BuildContext(delimiters)
        self.writer: EnvelopeWriter | None = None
        self.isa13 = 0
        self.gs06 = 0
        self.transactions: list[BuiltTransaction] = []
        self.rejected: list[tuple[int, str]] = []
        self._reset_st()

    def _reset_st(self) -> None:
        # the first _HEADER_SEGMENTS slots are filled with BHT/1000A/1000B when the ST02 is known
        self.body: list[str] = [""] * _HEADER_SEGMENTS
        self.st_claim_ids: list[int] = []
        self.hl = 0

    def run(self, claims: list[Claim]) -> InterchangeManifest:
        with gc_paused():
            for provider, group in _group_by_billing_provider(claims):
                try:
                    body_2000a = loop2000a_body(
                        provider, institutional=self.institutional, claim=group[0], delimiters=self.delimiters
                    )
                except X12WriteError as e:
                    if not self.skip_invalid:
                        raise
                    self.rejected.extend((c.claim_id, str(e)) for c in group)
                    continue
                self._run_group(body_2000a, group)
            if self.st_claim_ids:
                self._flush()
        if self.writer is None:
            raise X12WriteError(f"no claims to send ({len(self.rejected)} rejected)")
        self.writer.end_group()
        self.writer.end_interchange()
        return InterchangeManifest(
            isa13=self.isa13,
            gs06=self.gs06,
            transactions=tuple(self.transactions),
            claim_type=self.claim_type,
            version=self.version,
            rejected=tuple(self.rejected),
        )

    def _run_group(self, body_2000a: list[str], group: list[Claim]) -> None:
        """One billing provider's claims: HL 2000A (again in every new transaction set), then each claim."""
        append_claim = self.append_claim
        ctx = self.ctx
        limit = self.max
        a = 0  # HL number of this provider's 2000A in the open transaction set; 0 = not written yet
        mark_a = 0
        claims_under_a = 0
        body = self.body
        ids = self.st_claim_ids
        hl = self.hl
        for c in group:
            if not a:
                hl += 1
                a = hl
                mark_a = len(body)
                body.append(f"HL*{a}**20*1~")
                body += body_2000a
                claims_under_a = 0
            mark = len(body)
            try:
                hl = append_claim(body, c, ctx, a, hl + 1)
            except X12WriteError as e:
                del body[mark:]
                if not self.skip_invalid:
                    raise
                self.rejected.append((c.claim_id, str(e)))
                continue
            claims_under_a += 1
            ids.append(c.claim_id)
            if len(ids) >= limit:
                self._flush()
                body, ids, hl = self.body, self.st_claim_ids, self.hl
                a = 0
        if a and not claims_under_a:  # every claim after the last flush was rejected: drop the bare 2000A
            del body[mark_a:]
            hl = a - 1
        self.hl = hl

    def _open(self) -> EnvelopeWriter:
        self.isa13 = self.control.next_interchange()
        self.gs06 = self.control.next_group()
        w = EnvelopeWriter(
            self.parties, self.isa13, self.created, self.delimiters, newline=self.newline, emit=self.emit
        )
        w.begin_group("HC", self.version, self.gs06)
        return w

    def _flush(self) -> None:
        w = self.writer
        if w is None:
            w = self.writer = self._open()
        st02 = w.begin_transaction("837", self.control.next_transaction(), self.version)
        body = self.body
        body[:_HEADER_SEGMENTS] = header_segments(
            f"CF{self.isa13:09d}{st02}", self.created, self.submitter, self.receiver, self.delimiters
        )
        text = "".join(body)
        w.add(text, text.count("~"))  # values never contain "~" (checked), so this counts segments
        se01 = w.end_transaction()
        self.transactions.append(BuiltTransaction(st02, tuple(self.st_claim_ids), se01))
        self._reset_st()


_HEADER_SEGMENTS = 4  # BHT, NM1*41, PER, NM1*40


def _prepare(claims: Iterable[Claim], max_claims_per_st: int) -> tuple[list[Claim], ClaimType]:
    claims = list(claims)
    if not claims:
        raise X12WriteError("no claims to send")
    if max_claims_per_st < 1:
        raise ValueError("max_claims_per_st must be at least 1")
    claim_type = claims[0].claim_type
    for c in claims:
        if c.claim_type != claim_type:
            raise X12WriteError(
                f"claim {c.claim_id}: one interchange carries one claim type ({claim_type.value} expected)"
            )
    return claims, claim_type


def build_interchange(
    claims: Iterable[Claim],
    parties: InterchangeParties,
    submitter: Party,
    receiver: Party,
    control: ControlNumberSource,
    created: dt.datetime,
    *,
    max_claims_per_st: int = DEFAULT_MAX_CLAIMS_PER_ST,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    newline: bool = False,
    skip_invalid: bool = False,
) -> BuiltInterchange:
    """Build one 837P or 837I interchange in memory.

    Control numbers are taken from ``control`` only once the first transaction set is complete, so a batch
    that fails on its first claims consumes none. With ``skip_invalid`` a claim that cannot be written
    (:class:`X12WriteError`) is left out and listed in ``manifest.rejected`` instead of failing the batch.
    """
    claims, claim_type = _prepare(claims, max_claims_per_st)
    parts: list[str] = []
    manifest = _Assembler(
        claim_type,
        parties,
        submitter,
        receiver,
        control,
        created,
        max_claims_per_st,
        delimiters,
        newline,
        skip_invalid,
        parts.append,
    ).run(claims)
    return BuiltInterchange(manifest, "".join(parts))


def write_interchange(
    fp: IO[str] | IO[bytes],
    claims: Iterable[Claim],
    parties: InterchangeParties,
    submitter: Party,
    receiver: Party,
    control: ControlNumberSource,
    created: dt.datetime,
    *,
    max_claims_per_st: int = DEFAULT_MAX_CLAIMS_PER_ST,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    newline: bool = False,
    skip_invalid: bool = False,
) -> InterchangeManifest:
    """Like :func:`build_interchange`, but writes each transaction set to ``fp`` as soon as it is complete
    (memory stays at one transaction set). ``fp`` may be text or binary (ASCII is written). On an error the
    file is incomplete: write to a temporary name and rename on success."""
    claims, claim_type = _prepare(claims, max_claims_per_st)
    if isinstance(fp, io.TextIOBase):
        emit: Callable[[str], object] = fp.write
    else:
        bfp = fp

        def emit(text: str) -> object:
            return bfp.write(text.encode("ascii"))  # type: ignore[arg-type]

    return _Assembler(
        claim_type,
        parties,
        submitter,
        receiver,
        control,
        created,
        max_claims_per_st,
        delimiters,
        newline,
        skip_invalid,
        emit,
    ).run(claims)
