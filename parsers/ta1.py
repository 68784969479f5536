"""TA1 Interchange Acknowledgment (X12 interchange control, 00401/00501) → :class:`InterchangeAck`.

::

    ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLAIMFLOW      *260115*1200*^*00501*000000905*0*P*:~
    TA1*000000123*260114*2359*R*022~     the ISA13 we sent, its date/time, A/E/R, note code
    IEA*0*000000905~

A TA1 answers a whole interchange, so it sits outside functional groups; a file may carry several
(and a 999 file may carry one too — the 999 parser yields those). Nothing else is expected here: a
functional group in a TA1 file is refused, the file is then not what its routing said.
"""

from __future__ import annotations

from collections.abc import Iterator

from edi import gc_paused
from edi.errors import X12ParseError
from edi.reader import CHUNK_SIZE, Source, iter_batches, source_name
from parsers.envelope import Envelope
from parsers.records import InterchangeAck

TRANSACTION = "TA1"


def parse(
    source: Source,
    *,
    name: str | None = None,
    file_sha256: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[InterchangeAck]:
    """The TA1 segments of a file as records, streaming."""
    label = source_name(source, name)
    env = Envelope(label, file_sha256)
    segno = 0
    sid: str | None = None
    with gc_paused():
        for first, delims, segs in iter_batches(source, name=label, chunk_size=chunk_size):
            e = delims.element
            segno = first - 1
            for s in segs:
                segno += 1
                el = s.split(e)
                sid = el[0]
                if sid == "GS" or sid == "ST":
                    raise X12ParseError(
                        "functional group in a TA1 file (route it as the transaction it contains)",
                        file=label,
                        segment_no=segno,
                        segment_id=sid,
                    )
                kind = env.control(segno, el)
                if kind == "TA1":
                    yield env.ta1(segno, el)
        env.finish(segno, sid)
