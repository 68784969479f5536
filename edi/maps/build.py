"""Rebuild claimflow's pyx12 maps for 270/271 (005010X279A1), 276 (005010X212) and 277 (005010X212).

pyx12 ships only 4010 maps for 270/271/276 and a 5010 X212 277 map that its index does not name (and
whose GS01/GS08 code lists are those of another guide). This script writes our maps from structure:

* the 5010 envelope (ISA/GS/ST/SE/GE/IEA/TA1 element definitions) is taken from pyx12's 5010 X212 277
  map and re-coded per transaction (GS01 functional identifier, GS08 and ST03 guide version);
* the transaction body (loops, segments, element definitions) is taken from pyx12's 4010 map and
  changed where the 5010 guides changed the structure (see ``_fix_270``/``_fix_271``/``_fix_276``);
* the resulting XML files are committed next to this script; ``python -m edi.maps.build`` rewrites them.

Run it only when changing the maps; the validator reads the committed XML files.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as et
from importlib.resources import files
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENVELOPE_SEGMENTS = ("ISA", "GS", "ST", "SE", "GE", "IEA", "TA1")


def _pyx12_map(name: str) -> et.Element:
    with files("pyx12").joinpath("map", name).open("rb") as fd:
        root = et.parse(fd).getroot()
    if root is None:
        raise ValueError(f"{name}: empty map")
    return root


def _segments(root: et.Element, seg_id: str) -> list[et.Element]:
    return [s for s in root.iter("segment") if s.get("xid") == seg_id]


def _element(seg: et.Element, xid: str) -> et.Element:
    for e in seg.iter("element"):
        if e.get("xid") == xid:
            return e
    raise KeyError(xid)


def _set_codes(ele: et.Element, codes: list[str]) -> None:
    vc = ele.find("valid_codes")
    if vc is None:
        vc = et.SubElement(ele, "valid_codes")
    for c in list(vc):
        vc.remove(c)
    for code in codes:
        et.SubElement(vc, "code").text = code


def _loop(root: et.Element, xid: str) -> et.Element:
    for lp in root.iter("loop"):
        if lp.get("xid") == xid:
            return lp
    raise KeyError(xid)


def _replace_envelope(root: et.Element, fic: str, st01: str, version: str) -> None:
    env = _pyx12_map("277.5010.X212.xml")
    for seg_id in ENVELOPE_SEGMENTS:
        (new,) = _segments(env, seg_id)
        (old,) = _segments(root, seg_id)
        pos = old.findtext("pos")  # positions stay those of the body's numbering
        old.clear()
        old.attrib.update(new.attrib)
        for child in new:
            old.append(copy.deepcopy(child))
        old_pos = old.find("pos")
        if old_pos is not None and pos is not None:
            old_pos.text = pos
    (gs,) = _segments(root, "GS")
    _set_codes(_element(gs, "GS01"), [fic])
    _set_codes(_element(gs, "GS08"), [version])
    (st,) = _segments(root, "ST")
    _set_codes(_element(st, "ST01"), [st01])
    _set_codes(_element(st, "ST03"), [version])


def _insert_after(loop: et.Element, after_seg: str, new: et.Element) -> None:
    children = list(loop)
    idx = max(i for i, c in enumerate(children) if c.tag == "segment" and c.get("xid") == after_seg)
    loop.insert(idx + 1, new)


def _hi_segment(pos: str) -> et.Element:
    """2100C/2100D HI (Subscriber/Dependent Health Care Diagnosis Code), new in 5010 X279A1.

    Example: ``HI*ABK:E119*ABF:I10~`` -- built from the 837P 2300 HI definition, up to 8 diagnoses.
    """
    src = _pyx12_map("837.5010.X222.A1.xml")
    hi = next(s for s in _segments(src, "HI") if s.findtext("usage") == "R")
    hi = copy.deepcopy(hi)
    hi.find("usage").text = "S"  # type: ignore[union-attr]
    hi.find("pos").text = pos  # type: ignore[union-attr]
    hi.find("max_use").text = "1"  # type: ignore[union-attr]
    name = hi.find("name")
    if name is not None:
        name.text = "Health Care Diagnosis Code"
    for comp in hi.findall("composite"):
        seq = int(comp.findtext("seq") or "0")
        if seq > 8:
            hi.remove(comp)
            continue
        first = comp.find("element")
        if first is not None:
            _set_codes(first, ["ABK", "BK"] if seq == 1 else ["ABF", "BF"])
        u = comp.find("usage")
        if u is not None and seq > 1:
            u.text = "S"
    return hi


def _shared_counts(root: et.Element) -> None:
    """pyx12 counts a segment's uses by path (``.../2200D/REF``), not per qualifier: sibling definitions
    of one segment ID (REF*1K, REF*BLT, REF*EJ, ...) each get the sum of their max uses, or the second
    REF of a claim is reported as exceeding the first one's maximum."""
    for lp in root.iter("loop"):
        by_id: dict[str, list[et.Element]] = {}
        for seg in lp.findall("segment"):
            by_id.setdefault(seg.get("xid") or "", []).append(seg)
        for segs in by_id.values():
            if len(segs) < 2:
                continue
            uses = [seg.findtext("max_use") or "1" for seg in segs]
            total = ">1" if ">1" in uses else str(sum(int(u) for u in uses))
            for seg in segs:
                seg.find("max_use").text = total  # type: ignore[union-attr]


SYNTAX_SOURCES = ("837.5010.X222.A1.xml", "835.5010.X221.A1.xml", "834.5010.X220.A1.xml", "277.5010.X212.xml")


def _standard_syntax() -> dict[str, list[str]]:
    """X12 syntax notes (P0809, C1110, ...) are set by the standard per segment ID, not by a guide; the
    4010 maps carry none, so take them from pyx12's 5010 maps."""
    rules: dict[str, list[str]] = {}
    for name in SYNTAX_SOURCES:
        for seg in _pyx12_map(name).iter("segment"):
            found = [x.text for x in seg.findall("syntax") if x.text]
            if found and (seg.get("xid") or "") not in rules:
                rules[seg.get("xid") or ""] = found
    return rules


def _add_syntax(root: et.Element, rules: dict[str, list[str]]) -> None:
    for seg in root.iter("segment"):
        if seg.find("syntax") is not None or seg.get("xid") not in rules:
            continue
        idx = max(i for i, c in enumerate(seg) if c.tag in ("name", "usage", "pos", "max_use")) + 1
        for rule in reversed(rules[seg.get("xid") or ""]):
            el = et.Element("syntax")
            el.text = rule
            seg.insert(idx, el)


def _fix_270(root: et.Element) -> None:
    for xid in ("2100C", "2100D"):
        lp = _loop(root, xid)
        _insert_after(lp, "INS", _hi_segment("115"))
        for seg in lp.findall("segment"):
            if seg.get("xid") == "DTP":
                # 5010: the plan date (291) replaces the 4010 eligibility/service date qualifiers
                _set_codes(_element(seg, "DTP01"), ["291"])
                _set_codes(_element(seg, "DTP02"), ["D8", "RD8"])
    (bht,) = _segments(root, "BHT")
    _set_codes(_element(bht, "BHT02"), ["01", "13"])


def _fix_271(root: et.Element) -> None:
    (bht,) = _segments(root, "BHT")
    _set_codes(_element(bht, "BHT02"), ["06", "11"])
    for xid in ("2100C", "2100D"):
        _insert_after(_loop(root, xid), "INS", _hi_segment("115"))


def _fix_276(root: et.Element) -> None:
    (bht,) = _segments(root, "BHT")
    _set_codes(_element(bht, "BHT02"), ["13"])
    for xid in ("BHT03", "BHT05"):  # 5010: trace reference and creation time are required
        _element(bht, xid).find("usage").text = "R"  # type: ignore[union-attr]
    sub_nm1 = _loop(root, "2100D").find("segment")
    assert sub_nm1 is not None
    _set_codes(_element(sub_nm1, "NM101"), ["IL"])
    for xid in ("2200D", "2200E"):
        lp = _loop(root, xid)
        for seg in lp.findall("segment"):
            if seg.get("xid") == "REF" and _element(seg, "REF01").find("valid_codes/code").text == "LU":  # type: ignore[union-attr]
                lp.remove(seg)
            elif seg.get("xid") == "REF" and _element(seg, "REF01").find("valid_codes/code").text == "EA":  # type: ignore[union-attr]
                # 5010 asks for our patient control number as REF*EJ (CLM01), medical record EA dropped
                _set_codes(_element(seg, "REF01"), ["EJ"])
                nm = seg.find("name")
                if nm is not None:
                    nm.text = "Patient Control Number"
            elif seg.get("xid") == "DTP":
                _set_codes(_element(seg, "DTP01"), ["472"])
                _set_codes(_element(seg, "DTP02"), ["D8", "RD8"])


def _fix_277(root: et.Element) -> None:
    """pyx12's 277 X212 map carries another guide's GS01/GS08 codes (re-coded by the envelope step) and
    gives each nested HL loop (2000B in 2000A, ...) the position of its parent's HL segment, so pyx12's
    walker tries the child loop where the HL belongs and never finds 2000A. Positions are made
    increasing in document order inside each loop; the loop structure is unchanged."""
    for lp in root.iter("loop"):
        prev = -1
        for child in lp:
            if child.tag not in ("loop", "segment"):
                continue
            pos_el = child.find("pos")
            if pos_el is None or pos_el.text is None:
                continue
            pos = int(pos_el.text)
            if pos <= prev:
                pos = prev + 1
                pos_el.text = f"{pos:04d}"
            prev = pos
    # SE sits in a "Table2 - Area3" wrapper beside ST_LOOP; the trailer belongs at the end of ST_LOOP
    gs_loop, st_loop = _loop(root, "GS_LOOP"), _loop(root, "ST_LOOP")
    for area in [lp for lp in gs_loop.findall("loop") if lp.get("xid") == "TABLE2AREA3"]:
        se = area.find("segment[@xid='SE']")
        gs_loop.remove(area)
        if se is not None:
            se.find("pos").text = "0300"  # type: ignore[union-attr]
            st_loop.append(se)
    (bht,) = _segments(root, "BHT")
    _set_codes(_element(bht, "BHT02"), ["08"])


BUILDS = (
    (
        "270.4010.X092.A1.xml",
        "270.5010.X279.A1.xml",
        "HS",
        "270",
        "005010X279A1",
        _fix_270,
        "HIPAA Health Care Eligibility Benefit Inquiry 005010X279A1 (270)",
    ),
    (
        "271.4010.X092.A1.xml",
        "271.5010.X279.A1.xml",
        "HB",
        "271",
        "005010X279A1",
        _fix_271,
        "HIPAA Health Care Eligibility Benefit Response 005010X279A1 (271)",
    ),
    (
        "276.4010.X093.A1.xml",
        "276.5010.X212.xml",
        "HR",
        "276",
        "005010X212",
        _fix_276,
        "HIPAA Health Care Claim Status Request 005010X212 (276)",
    ),
    (
        "277.5010.X212.xml",
        "277.5010.X212.xml",
        "HN",
        "277",
        "005010X212",
        _fix_277,
        "HIPAA Health Care Claim Status Response 005010X212 (277)",
    ),
)


def build(out_dir: Path = HERE) -> list[Path]:
    written = []
    for src, dst, fic, st01, version, fix, title in BUILDS:
        root = _pyx12_map(src)
        name = root.find("name")
        if name is not None:
            name.text = title
        _replace_envelope(root, fic, st01, version)
        fix(root)
        _shared_counts(root)
        _add_syntax(root, _standard_syntax())
        et.indent(root, space="  ")
        path = out_dir / dst
        header = (
            '<?xml version="1.0"?>\n<!-- claimflow map, generated by edi/maps/build.py from pyx12\'s '
            f"{src} (BSD licence, see README.md). Do not edit by hand. -->\n"
        )
        path.write_text(header + et.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build():
        print(p.name)
