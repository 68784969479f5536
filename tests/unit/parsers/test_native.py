"""The C accelerator (``claimflow_speedups``, :mod:`parsers.native`) against the pure-Python parser.

The accelerator is only allowed to be faster: for every input — valid fixtures, malformed fixtures, the
hostile corpus, real files from the conformance corpus, generated files, random mutations, any chunk
size — the record stream must be the same, field for field (``==`` *and* ``repr``, so a Decimal
``0.00`` never turns into ``0``), and a malformed file must fail with the same error line after the
same records. The EOB builder is held to the same standard.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eob.records as eob_records
from bench.synth_835 import segments
from edi.errors import X12ParseError
from parsers.native import SPEEDUPS
from parsers.records import Adjustment, ClaimPayment, Remittance
from parsers.x835_005010x221a1 import parse
from tests.conformance.conftest import corpus_dir, index_rows
from tests.hostile.corpus import small_cases

from .conftest import FIXTURES

pytestmark = pytest.mark.skipif(
    SPEEDUPS is None and os.environ.get("CLAIMFLOW_PURE_PYTHON", "") not in ("", "0"),
    reason="accelerator disabled by CLAIMFLOW_PURE_PYTHON",
)

FILES_835 = sorted((FIXTURES / "835").glob("*.835")) + sorted((FIXTURES / "malformed").glob("*"))


def _run(data: bytes, native: bool, claims: bool = True, chunk_size: int = 1 << 20) -> list[Any]:
    """Records (and the error line, if any) of one parse, in a comparable form."""
    out: list[Any] = []
    try:
        for rec in parse(
            data, name="t.835", file_sha256="x", claims=claims, native=native, chunk_size=chunk_size
        ):
            out.append((rec, repr(rec), _deep_repr(rec)))
    except X12ParseError as exc:
        out.append(("error", exc.line()))
    return out


def _deep_repr(rec: object) -> str:
    """repr() masks PHI fields; compare the raw field values too."""
    return str(tuple(rec)) if isinstance(rec, tuple) else repr(rec)


def _same(data: bytes, **kw: Any) -> None:
    for claims in (True, False):
        assert _run(data, False, claims, **kw) == _run(data, True, claims, **kw)


def test_accelerator_is_installed() -> None:
    """``uv sync`` builds native/; the speed figures in docs/PERFORMANCE.md depend on it."""
    assert SPEEDUPS is not None, "claimflow_speedups is not importable: run `make setup` (needs a C compiler)"


@pytest.mark.parametrize("path", FILES_835, ids=lambda p: p.name)
def test_fixtures(path: Path) -> None:
    _same(path.read_bytes())


@pytest.mark.parametrize("chunk_size", [7, 64, 1000])
@pytest.mark.parametrize("path", sorted((FIXTURES / "835").glob("*.835")), ids=lambda p: p.name)
def test_fixtures_every_chunk_boundary(path: Path, chunk_size: int) -> None:
    """Open claims and lines cross batch boundaries: state goes in and out of the C loop correctly."""
    _same(path.read_bytes(), chunk_size=chunk_size)


def _synth(n: int) -> bytes:
    return ("~".join(segments(n, per_st=40)) + "~").encode()


def test_generated_file_with_every_claim_shape() -> None:
    data = _synth(3000)
    _same(data)
    _same(data, chunk_size=4096)


@pytest.mark.parametrize(
    "edit",
    [
        ("CAS*CO*45*", "CAS*CO*45*10*1*253*2.5*2"),  # several reasons with quantities
        ("CAS*PR*", "CAS*PR*1*5**2*7.00*1.5"),
        ("CAS*CO*45*", "CAS*CO**10"),  # amount without reason: error
        ("CAS*CO*45*", "CAS**45*10"),  # no group: error
        ("CAS*CO*45*", "CAS*CO*45*1E400"),  # bad amount: error
        ("CAS*CO*45*", "CAS*CO*45*-0.00"),  # negative zero
        ("CAS*CO*45*", "CAS*CO*1*1*1*2*1*1*3*1*1*4*1*1*5*1*1*6*1*1*7*1*1"),  # 7 reasons: error
        ("SVC*", "SVC*HC:99213:25:59:XX:YY:ZZ:desc*100*80**1*HC:99214*2"),  # SVC06/07
        ("SVC*", "SVC*HC*100*80"),  # SVC01 not a composite: error
        ("SVC*", "SVC*HC:99213*100"),  # SVC03 missing: error
        ("DTM*472*", "DTM*472*20261340"),  # not a date: error
        ("DTM*472*", "DTM*999*20260105"),  # not a service date qualifier: error
        ("DTM*232*", "DTM*777*20260105"),  # other claim date
        ("CLP*", "CLP**1*100*80"),  # no patient control number: error
        ("CLP*", "CLP*PCN1*1*100*80*20*12*ABC*11*1*DRG*470*1.5*3"),  # every element
        ("NM1*QC*", "NM1*QC"),  # bare NM1
        ("NM1*QC*", "NM1*ZZ*2*OTHER PARTY"),  # other party
        ("AMT*B6*", "AMT*B6"),  # missing element: error
        ("REF*6R*", "REF*6R"),  # missing element: error
        ("LQ*HE*", "LQ*RX*N123"),  # NCPDP reject code
        ("MOA*", "MOA**5*MA01*MA02"),
        # values beyond the guide's lengths or the storage columns (parsers.limits835): C hands them back
        ("CLP*", "CLP*" + "P" * 39 + "*1*100*80"),  # CLP01 > 38: error
        ("CLP*", "CLP*" + "P" * 38 + "*1*100*80*20*12*" + "C" * 50 + "*11*1"),  # at the limits
        ("CLP*", "CLP*PCN1*1*100*80*20*12*" + "C" * 51),  # CLP07 > 50: error
        ("CLP*", "CLP*PCN1*1*1000000000000*80"),  # beyond NUMERIC(14,2): error
        ("CLP*", "CLP*PCN1*1*999999999999.99*999999999999.990"),  # largest amounts; then ΣCLP04 at SE: error
        ("CLP*", "CLP*PCN1*1*100.005*80"),  # a non-zero third decimal: error
        ("CLP*", "CLP*PCN1*1*999999999999.99*-1"),  # CLP03 − CLP04 does not fit: error at the claim's end
        ("CLP*", "CLP*PCN1*1*100*80*20*12*ABC*11*1**470*1.2345*3.125"),  # DRG weight: a plain R
        ("CAS*CO*45*", "CAS*CO*45*1.2345"),  # error (even when 1.2345 was cached as a DRG weight)
        ("CAS*CO*45*", "CAS*CO*45*10*1.125"),  # a quantity keeps three decimals
        ("CAS*CO*45*", "CAS*CO*45*10*1.0005"),  # but not four: error
        ("CAS*CO*45*", "CAS*COX*45*10"),  # CAS01 > 2: error
        ("CAS*CO*45*", "CAS*CO*123456*10"),  # CAS02 > 5: error
        ("CAS*CO*45*", "CAS*CO*45*999999999999.99*1*45*999999999999.99"),  # the line's ΣCAS: error
        ("SVC*", "SVC*HC:" + "9" * 49 + "*100*80"),  # SVC01-2 > 48: error
        ("SVC*", "SVC*HC:" + "9" * 48 + ":AB:CD:EF:GH*100*80**1"),  # at the limits
        ("SVC*", "SVC*HC:99213:ABC*100*80"),  # a modifier > 2: error
        ("SVC*", "SVC*NU:04500*100*80"),  # a revenue code > 4: error
        ("SVC*", "SVC*HC:99213*100*80*04500"),  # SVC04 > 4: error
        ("SVC*", "SVC*HC:99213*100*80**1.125"),  # units with three decimals
        ("SVC*", "SVC*HC:99213*100*80**1.0005"),  # four: error
        ("SVC*", "SVC*HC:99213*999999999999.99*-1"),  # SVC02 − SVC03 does not fit: error
        ("REF*6R*", "REF*6R*" + "R" * 51),  # REF02 > 50: error
        ("REF*6R*", "REF*F8*LINE-F8"),  # a line REF*F8 is not the claim's original reference
        ("NM1*QC*", "REF*F8*ORIG-123"),  # claim REF*F8: original_reference_number
        ("NM1*QC*", "NM1*QC*1*" + "D" * 61),  # NM103 > 60: error
        ("LQ*HE*", "LQ*HE*" + "L" * 31),  # LQ02 > 30: error
        ("AMT*B6*", "AMT*B6*12.345"),  # error
        ("DTM*232*", "DTM*7777*20260105"),  # an other-date qualifier > 3: error
    ],
    ids=lambda e: e[1][:24],
)
def test_edited_segments(edit: tuple[str, str]) -> None:
    """Unusual, rare or malformed claim-loop segments: the accelerator hands them to Python."""
    prefix, replacement = edit
    segs = list(segments(40, per_st=40))
    hits = [i for i, s in enumerate(segs) if s.startswith(prefix)]
    if not hits:
        pytest.skip(f"generator made no {prefix}")
    for i in hits[1::7] or hits[:1]:
        segs[i] = replacement
    _same(("~".join(segs) + "~").encode())


def test_hostile_corpus_835_cases() -> None:
    checked = 0
    for case in small_cases():
        if not case.name.startswith("835") or case.data is None:
            continue
        _same(case.data)
        checked += 1
    assert checked > 500


def _conformance_835() -> list[Path]:
    rows = index_rows()
    return [corpus_dir() / r["file"] for r in rows if r.get("st01") == "835"]


def test_conformance_835_files() -> None:
    files = [p for p in _conformance_835() if p.is_file()]
    if not files:
        pytest.skip("conformance corpus not found (tests/conformance fails in CI when it is missing)")
    for path in files:
        _same(path.read_bytes())


def _unicode_file() -> bytes:
    segs = list(segments(20, per_st=40))
    for i, s in enumerate(segs):
        if s.startswith("NM1*QC*"):
            segs[i] = s.replace("NM1*QC*", "NM1*QC*1*MÜLLER…*", 1)
    return b"\xef\xbb\xbf" + ("~".join(segs) + "~").encode("utf-8")


def test_utf8_file_with_wide_characters() -> None:
    _same(_unicode_file())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_mutations(data: st.DataObject) -> None:
    base = bytearray(_synth(12))
    for _ in range(data.draw(st.integers(1, 4))):
        if not base:
            break
        i = data.draw(st.integers(0, len(base) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip":
            base[i] = data.draw(st.sampled_from(list(b"*~:0123456789.-ABCDEFGHIJKLMNOPQRSTUVWXYZ \x00\xe9")))
        elif op == "delete":
            del base[i : i + data.draw(st.integers(1, 30))]
        elif op == "insert":
            base[i:i] = data.draw(
                st.sampled_from([b"*", b"~", b"~CAS*CO*45*1", b"~SVC*HC:1*1*1", b"~CLP*X*1*1*1"])
            )
        else:
            del base[i:]
    _same(bytes(base))


# ---- EOB builder ----------------------------------------------------------------------------------------


def _claims(data: bytes) -> list[tuple[Remittance, ClaimPayment]]:
    out = []
    remit = None
    for rec in parse(data, name="t.835", file_sha256="x"):
        if type(rec) is Remittance:
            remit = rec
        elif type(rec) is ClaimPayment:
            assert remit is not None
            out.append((remit, rec))
    return out


def test_eob_builder_is_the_native_one() -> None:
    assert eob_records.build_eob is not eob_records.build_eob_python


@pytest.mark.parametrize(
    "data",
    [p.read_bytes() for p in sorted((FIXTURES / "835").glob("*.835"))] + [_synth(2000)],
    ids=lambda d: str(len(d)),
)
def test_eob_builder_matches_python(data: bytes) -> None:
    pairs = _claims(data)
    assert pairs
    for remit, claim in pairs:
        py = eob_records.build_eob_python(remit, claim)
        c = eob_records.build_eob(remit, claim)
        assert c == py
        assert str(tuple(c)) == str(tuple(py))  # Decimal exponents and signs too
        assert [str(tuple(ln)) for ln in c.lines] == [str(tuple(ln)) for ln in py.lines]
        assert c.carc_codes == py.carc_codes and c.rarc_codes == py.rarc_codes


def test_eob_builder_negative_zero_and_odd_groups() -> None:
    remit, claim = _claims(_synth(5))[0]
    adjs = [Adjustment("PR", "1", Decimal("-0.00"), None), Adjustment("XX", "9", Decimal("1.5"), None)]
    claim = claim._replace(adjustments=adjs)
    py = eob_records.build_eob_python(remit, claim)
    c = eob_records.build_eob(remit, claim)
    assert str(tuple(c)) == str(tuple(py))
