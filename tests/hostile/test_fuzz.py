"""Property-based fuzzing of the readers and parsers, and an 837 build → read round trip.

* arbitrary bytes, X12-flavoured text after a real ISA, and mutations of the valid fixtures never raise
  anything but :class:`~edi.errors.X12ParseError` from :func:`parsers.parse_file` or
  :func:`edi.reader.iter_segments`, each within the profile's deadline;
* ``claimflow parse`` on a mutated fixture exits 0, or 2 with exactly one line naming the file;
* generated claims → :func:`edi.x837.build_interchange` → :func:`edi.reader.iter_segments` give back each
  claim's CLM01, CLM02 and line count.

Default: a few hundred examples in all (< 60 s). ``HYPOTHESIS_PROFILE=long`` for real fuzzing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from edi.errors import X12ParseError
from edi.reader import iter_segments
from parsers import parse_file
from tests.hostile.conftest import FUZZ_SETTINGS
from tests.hostile.corpus import FIXTURES, SOURCES

VALID_FILES: list[tuple[str, bytes]] = sorted(
    (f"{sub}-{p.name}", p.read_bytes()) for sub in SOURCES for p in (FIXTURES / sub).iterdir() if p.is_file()
)
ISA = VALID_FILES[0][1][:106]

_TMP = Path(tempfile.mkdtemp(prefix="claimflow-fuzz-"))


def _parse_all(data: bytes, name: str = "fuzz.x12") -> None:
    """Read ``data`` every way the CLI does; anything but X12ParseError fails the property."""
    path = _TMP / f"{os.getpid()}-{name}"
    path.write_bytes(data)
    try:
        with contextlib.suppress(X12ParseError):
            for _rec in parse_file(path, name=name, file_sha256=""):
                pass
        with contextlib.suppress(X12ParseError):
            for _n, _el in iter_segments(data, name=name):
                pass
        # a tiny chunk size exercises every chunk-boundary path of the reader
        with contextlib.suppress(X12ParseError):
            for _n, _el in iter_segments(data, name=name, chunk_size=7):
                pass
    finally:
        path.unlink(missing_ok=True)


# ---- strategies for hostile bytes ---------------------------------------------------------------------

X12_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*~:^|!.-, \n\r\x00\x1c\x1d\xe9\xff"


@st.composite
def x12ish(draw: st.DrawFn) -> bytes:
    """A real ISA followed by segment-shaped noise (IDs that exist, counts that do not add up)."""
    sids = st.sampled_from(
        [
            "GS",
            "ST",
            "SE",
            "GE",
            "IEA",
            "ISA",
            "BPR",
            "TRN",
            "CLP",
            "SVC",
            "CAS",
            "AMT",
            "DTM",
            "PLB",
            "AK1",
            "AK2",
            "IK5",
            "AK9",
            "HL",
            "STC",
            "TA1",
            "NM1",
            "LX",
        ]
    )
    elems = st.lists(
        st.binary(max_size=12).map(lambda b: bytes(X12_ALPHABET[x % len(X12_ALPHABET)] for x in b)),
        max_size=8,
    )
    segs = draw(st.lists(st.tuples(sids, elems), max_size=40))
    body = b"".join(s.encode() + b"".join(b"*" + e for e in el) + b"~" for s, el in segs)
    return ISA + body


@st.composite
def mutated_fixture(draw: st.DrawFn) -> tuple[str, bytes]:
    name, data = draw(st.sampled_from(VALID_FILES))
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate", "replace"]))
        if not b:
            break
        i = draw(st.integers(0, len(b) - 1))
        if op == "flip":
            b[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del b[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            b[i:i] = draw(st.binary(min_size=1, max_size=20))
        elif op == "duplicate":
            j = min(len(b), i + draw(st.integers(1, 80)))
            b[j:j] = b[i:j]
        elif op == "truncate":
            del b[i:]
        else:
            b[i : i + 1] = draw(st.sampled_from([b"*", b"~", b":", b"^", b"|", b"\n", b"\x00", b"E400"]))
    return name, bytes(b)


@FUZZ_SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_only_raise_x12_parse_error(data: bytes) -> None:
    _parse_all(data)


@FUZZ_SETTINGS
@given(x12ish())
def test_x12_shaped_noise_only_raises_x12_parse_error(data: bytes) -> None:
    _parse_all(data, "noise.835")


@FUZZ_SETTINGS
@given(mutated_fixture())
def test_mutated_fixtures_only_raise_x12_parse_error(case: tuple[str, bytes]) -> None:
    name, data = case
    _parse_all(data, name)


@FUZZ_SETTINGS
@given(mutated_fixture())
def test_cli_on_mutated_fixture_exits_0_or_2_with_one_line(case: tuple[str, bytes]) -> None:
    from claimflow.cli.parse import main

    name, data = case
    path = _TMP / f"{os.getpid()}-cli-{name}"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(path)])
    finally:
        path.unlink(missing_ok=True)
    assert rc in (0, 2)
    if rc == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(path.name + ": "), lines[0]
        assert "internal error" not in lines[0], lines[0]
    else:
        assert err.getvalue() == ""


# ---- round trip: claims → 837 → reader ---------------------------------------------------------------

SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CPT = ("99213", "99214", "99203", "36415", "80053", "93000", "85025", "71046")


def money() -> st.SearchStrategy[Decimal]:
    return st.integers(1, 9_999_999).map(lambda cents: Decimal(cents).scaleb(-2))


@st.composite
def claims(draw: st.DrawFn) -> list[object]:
    from edi.claim import Claim, ClaimType, ServiceLine
    from tests.unit.edi.conftest import ACME, CLINIC, DR_WELBY, subscriber

    n = draw(st.integers(1, 5))
    pcns = draw(st.lists(st.text(SAFE, min_size=1, max_size=20), min_size=n, max_size=n, unique=True))
    out = []
    for k, pcn in enumerate(pcns, start=1):
        n_lines = draw(st.integers(1, 4))
        day = draw(st.dates(dt.date(2020, 1, 1), dt.date(2025, 12, 31)))
        lines = [
            ServiceLine(
                line_number=i,
                charge=draw(money()),
                units=Decimal(draw(st.integers(1, 9))),
                service_date=day,
                procedure_code=draw(st.sampled_from(CPT)),
                diagnosis_pointers=(1,),
                line_control_number=f"L{k}-{i}",
            )
            for i in range(1, n_lines + 1)
        ]
        member = draw(st.text(SAFE, min_size=2, max_size=12))
        last = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20))
        out.append(
            Claim(
                claim_id=k,
                claim_type=ClaimType.PROFESSIONAL,
                patient_control_number=pcn,
                total_charge=sum((ln.charge for ln in lines), Decimal(0)),
                billing_provider=CLINIC,
                payer=ACME,
                subscriber=subscriber(member_id=member, last=last),
                diagnoses=["E119"],
                lines=lines,
                rendering_provider=DR_WELBY,
            )
        )
    return out


@FUZZ_SETTINGS
@given(claims())
def test_837_round_trip_recovers_clm01_clm02_and_line_count(cs: list[object]) -> None:
    from edi.control_numbers import InMemoryControlNumbers
    from edi.x837 import build_interchange
    from tests.unit.edi.conftest import PARTIES, RECEIVER, SUBMITTER

    built = build_interchange(
        cs,
        PARTIES,
        SUBMITTER,
        RECEIVER,
        InMemoryControlNumbers(),  # type: ignore[arg-type]
        dt.datetime(2024, 3, 1, 9, 30),
    )
    got: list[list[object]] = []
    for _n, el in iter_segments(built.data, name="roundtrip.837"):
        if el[0] == "CLM":
            got.append([el[1], Decimal(el[2]), 0])
        elif el[0] == "LX" and got:
            got[-1][2] += 1  # type: ignore[operator]
    want = [[c.patient_control_number, c.total_charge, len(c.lines)] for c in cs]  # type: ignore[attr-defined]
    assert got == want
