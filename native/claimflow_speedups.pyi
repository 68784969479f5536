"""Types of the optional C extension ``claimflow_speedups`` (native/src/claimflow_speedups.c).

Why a stub: the module is C, so mypy cannot read its signatures; this file states them for the four
functions ``parsers.x835_005010x221a1`` and ``eob.records`` call through :data:`parsers.native.SPEEDUPS`.
``tests/quality/test_native_stub.py`` runs ``mypy.stubtest`` against the built module so the stub
cannot drift from the C code. Every function is positional-only (``METH_VARARGS``/``METH_FASTCALL``).

Record types are handed over at configure time, so the stub cannot name them: records are typed as
``tuple[Any, ...]`` (they are NamedTuple instances of the configured classes).
"""

from decimal import Decimal
from typing import Any

def configure_835(
    decimal_type: type[Decimal],
    zero: Decimal,
    claim_nm1: dict[str, int],
    claim_tail: list[Any],
    line_tail: list[Any],
    index: dict[str, Any],
    claim_payment_type: type[tuple[Any, ...]],
    service_line_type: type[tuple[Any, ...]],
    adjustment_type: type[tuple[Any, ...]],
    party_type: type[tuple[Any, ...]],
    /,
) -> None:
    """Record types, caches and list positions of the 835 parser (``index``: field name → position,
    ``*_MAX`` element lengths of :mod:`parsers.limits835`, ``money_max``). Raises KeyError if one is missing."""

def configure_eob(
    eob_type: type[tuple[Any, ...]],
    eob_line_type: type[tuple[Any, ...]],
    zero: Decimal,
    index: dict[str, int],
    /,
) -> None:
    """Record types and ClaimPayment/Remittance field positions of the EOB builder."""

def scan835(
    segs: list[str],
    k: int,
    sep: str,
    comp: str,
    st: list[Any],
    ctx: tuple[Any, ...],
    /,
) -> int:
    """Run the plain claim-loop segments from ``segs[k]`` on; return the index of the first segment left
    to the Python parser (``len(segs)``: all done). ``st`` is read at entry and written back at exit;
    ``ctx`` is ``(build, file_sha256, isa13, gs06, st02, lx)``. RuntimeError before :func:`configure_835`."""

def build_eob(remittance: tuple[Any, ...], claim: tuple[Any, ...], /) -> tuple[Any, ...]:
    """The EOB of ``claim`` paid under ``remittance``, exactly as ``eob.records.build_eob_python``.
    RuntimeError before :func:`configure_eob`."""
