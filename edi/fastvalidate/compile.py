"""Flatten pyx12's maps into the tables the fast engine reads.

The maps are loaded with pyx12's own loader (``pyx12.map_if.load_map_file``) so that usage, repeat counts,
code lists (``codes.xml``), data types and lengths (``dataele.xml``) and syntax rules mean exactly what they
mean to pyx12. Per segment node the engine needs one :class:`SegSpec`: a tuple of element/composite specs
in element order plus the syntax rules, e.g. for ``NM1*85*2*CLINIC*****XX*1234567893~`` the 2010AA NM1 spec
lists NM101 (ID, codes 85), NM102 (ID, codes 1 2), NM103 (AN 1-60), ...

Compilation is done once per map per process (measured: docs/VALIDATOR.md); the specs are built lazily,
per segment node actually seen.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

_KEEP_ALIVE: list[Any] = []


@dataclass(frozen=True, slots=True)
class EleSpec:
    """A simple element (or a composite's component) as pyx12's ``element_if`` validates it."""

    usage: str
    empty_error: bool
    dtype: str
    min_len: int
    max_len: int
    numeric: bool
    codes: frozenset[str | None] | None
    external: str | None
    regex: re.Pattern[str] | None
    data_ele: str
    valid_codes: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class CompSpec:
    """A composite (``composite_if``)."""

    usage: str
    children: tuple[EleSpec, ...]


@dataclass(frozen=True, slots=True)
class SegSpec:
    """One map segment node: its elements in order and its syntax rules (``("P", (3, 4))``)."""

    seg_id: str
    children: tuple[EleSpec | CompSpec, ...]
    syntax: tuple[tuple[str, tuple[int, ...]], ...]
    bad_syntax: bool


@functools.cache
def param() -> Any:
    import pyx12.params

    return pyx12.params.ParamsBase()


@functools.cache
def load_map(map_file: str) -> Any:
    """pyx12's map tree for ``map_file`` (e.g. ``837.5010.X222.A1.xml``), loaded once per process."""
    import pyx12.map_if

    root = pyx12.map_if.load_map_file(map_file, param())
    _KEEP_ALIVE.append(root)
    return root


@functools.cache
def map_index() -> Any:
    import pyx12.map_index

    return pyx12.map_index.map_index(None)


def map_file_for(icvn: str, vriic: str, fic: str) -> str | None:
    """The map pyx12 picks for a functional group (maps.xml), or None."""
    result: str | None = map_index().get_filename(icvn, vriic, fic)
    return result


def _ele_spec(node: Any) -> EleSpec:
    from pyx12.map_if import composite_if

    parent = node.parent
    usage = node.usage or ""
    empty_error = usage == "R" and (
        node.seq != 1 or not isinstance(parent, composite_if) or parent.usage == "R"
    )
    dtype = node.data_type or ""
    codes = node._valid_codes_set if node._valid_codes_set else None
    return EleSpec(
        usage=usage,
        empty_error=empty_error,
        dtype=dtype,
        min_len=int(node.min_len),
        max_len=int(node.max_len),
        numeric=bool(dtype) and (dtype == "R" or dtype[0] == "N"),
        codes=codes,
        external=node.external_codes,
        regex=node.rec,
        data_ele=node.data_ele or "",
        valid_codes=tuple(node.valid_codes),
    )


def seg_spec(node: Any) -> SegSpec:
    """Compile one pyx12 ``segment_if`` (cached on the node object)."""
    cached = getattr(node, "_fast_spec", None)
    if cached is not None:
        return cached
    from pyx12.map_if import composite_if

    children: list[EleSpec | CompSpec] = []
    for i, child in enumerate(node.children):
        if child.seq != i + 1:
            raise ValueError("map element order")  # pyx12 indexes by seq; never seen in the shipped maps
        if isinstance(child, composite_if):
            children.append(CompSpec(child.usage or "", tuple(_ele_spec(c) for c in child.children)))
        else:
            children.append(_ele_spec(child))
    syntax = []
    bad = False
    for syn in node.syntax:
        if len(syn) < 3:
            bad = True
        syntax.append((str(syn[0]), tuple(int(s) for s in syn[1:])))
    spec = SegSpec(node.id, tuple(children), tuple(syntax), bad)
    node._fast_spec = spec
    return spec
