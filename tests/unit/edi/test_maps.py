"""claimflow's pyx12 maps (edi/maps): 270/271 005010X279A1, 276/277 005010X212.

Each map accepts a guide-style example and rejects mutated ones at the right segment / element.
All data is invented (member ids, names); NPIs pass the Luhn check.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as et

import pytest

from edi.claim import InterchangeParties
from edi.envelope import EnvelopeWriter
from edi.maps import HERE, map_path, our_maps, owns
from edi.validate import validate_x12

PARTIES = InterchangeParties("ZZ", "CLAIMFLOW", "ZZ", "PAYERSANDBOX")
CREATED = dt.datetime(2026, 3, 2, 9, 30)

X270 = [
    "BHT*0022*13*EQ0001*20260302*0930",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*87726",
    "HL*2*1*21*1",
    "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
    "HL*3*2*22*0",
    "TRN*1*EQ0001-1*9CLAIMFLOW",
    "NM1*IL*1*DOE*JANE****MI*W123456789",
    "DMG*D8*19800101*F",
    "DTP*291*D8*20260302",
    "EQ*30",
]
X271 = [
    "BHT*0022*11*EQ0001*20260302*0931",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*87726",
    "HL*2*1*21*1",
    "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
    "HL*3*2*22*0",
    "TRN*2*EQ0001-1*9CLAIMFLOW",
    "NM1*IL*1*DOE*JANE****MI*W123456789",
    "N3*1 MAIN ST",
    "N4*SPRINGFIELD*IL*62701",
    "DMG*D8*19800101*F",
    "DTP*346*D8*20260101",
    "EB*1**30**GOLD PPO",
    "EB*C*IND*30***23*1500.00",
    "EB*C*IND*30***29*600.00",
    "EB*B*IND*98***27*25.00",
    "EB*A*IND*30***27**0.2",
    "EB*G*IND*30***29*2400.00",
]
X271_AAA = [
    "BHT*0022*11*EQ0002*20260302*0931",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*87726",
    "HL*2*1*21*1",
    "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
    "HL*3*2*22*0",
    "TRN*2*EQ0002-1*9CLAIMFLOW",
    "NM1*IL*1*ROE*RICHARD****MI*X999",
    "AAA*Y**75*C",
]
X276 = [
    "BHT*0010*13*CS0001*20260302*0930",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*87726",
    "HL*2*1*21*1",
    "NM1*41*2*CLAIMFLOW*****46*CLAIMFLOW",
    "HL*3*2*19*1",
    "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
    "HL*4*3*22*0",
    "DMG*D8*19800101*F",
    "NM1*IL*1*DOE*JANE****MI*W123456789",
    "TRN*1*CS0001-1",
    "REF*EJ*PCN0001",
    "AMT*T3*150.00",
    "DTP*472*RD8*20260201-20260201",
]
X277 = [
    "BHT*0010*08*CS0001*20260302*0931*DG",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*87726",
    "HL*2*1*21*1",
    "NM1*41*2*CLAIMFLOW*****46*CLAIMFLOW",
    "HL*3*2*19*1",
    "NM1*1P*2*SUNRISE CLINIC*****XX*1234567893",
    "HL*4*3*22*0",
    "NM1*IL*1*DOE*JANE****MI*W123456789",
    "TRN*2*CS0001-1",
    "STC*F1:1*20260301**150.00*120.00*20260301",
    "REF*1K*PAYERCLAIM1",
    "REF*EJ*PCN0001",
    "DTP*472*RD8*20260201-20260201",
]

CASES = {
    "270": ("HS", "270", "005010X279A1", X270),
    "271": ("HB", "271", "005010X279A1", X271),
    "271-aaa": ("HB", "271", "005010X279A1", X271_AAA),
    "276": ("HR", "276", "005010X212", X276),
    "277": ("HN", "277", "005010X212", X277),
}


def interchange(fic: str, st01: str, version: str, body: list[str]) -> bytes:
    w = EnvelopeWriter(PARTIES, 101, CREATED)
    w.begin_group(fic, version, 7)
    w.begin_transaction(st01, 1, version)
    w.add("".join(s + "~" for s in body), len(body))
    w.end_transaction()
    w.end_group()
    w.end_interchange()
    return w.text().encode("ascii")


def test_index_names_four_maps_that_exist() -> None:
    maps = our_maps()
    assert set(maps) == {
        ("HS", "005010X279A1"),
        ("HB", "005010X279A1"),
        ("HR", "005010X212"),
        ("HN", "005010X212"),
    }
    for f in maps.values():
        root = et.parse(HERE / f).getroot()
        assert root.tag == "transaction"
    assert owns("HS", "005010X279A1") and not owns("HC", "005010X222A1")


def test_map_path_is_a_pyx12_map_folder() -> None:
    import pyx12.map_if
    import pyx12.map_index
    import pyx12.params

    path = map_path()
    idx = pyx12.map_index.map_index(path)
    assert idx.get_filename("00501", "005010X279A1", "HS") == "270.5010.X279.A1.xml"
    assert idx.get_filename("00501", "005010X212", "HN") == "277.5010.X212.xml"
    # pyx12's own maps stay reachable
    assert idx.get_filename("00501", "005010X222A1", "HC") == "837.5010.X222.A1.xml"
    for f in our_maps().values():
        m = pyx12.map_if.load_map_file(f, pyx12.params.ParamsBase(), path)
        assert m.getnodebypath("/ISA_LOOP/GS_LOOP/ST_LOOP/HEADER") is not None


@pytest.mark.parametrize("case", sorted(CASES))
def test_guide_example_is_valid(case: str) -> None:
    report = validate_x12(interchange(*CASES[case]))
    assert report.ok, [e.line(case) for e in report.errors]
    assert report.transaction_sets == 1


def _mutate(body: list[str], seg_prefix: str, new: str | None) -> tuple[list[str], int]:
    """Replace (or drop, new=None) the first segment starting with seg_prefix; returns its ISA-based number."""
    i = next(i for i, s in enumerate(body) if s.startswith(seg_prefix))
    out = list(body)
    if new is None:
        del out[i]
    else:
        out[i] = new
    return out, i + 4  # ISA, GS, ST precede the body


MUTATIONS = [
    # case, segment to change, replacement, expected (segment id, element or None)
    ("270", "EQ*30", "EQ*QQQ", ("EQ", "EQ01")),
    ("270", "NM1*IL", "NM1*IL*1*DOE*JANE****MI", ("NM1", None)),  # syntax P0809
    ("270", "DMG*", "DMG*D8*19801301*F", ("DMG", "DMG02")),
    ("271", "EB*C*IND*30***23", "EB*C*IND*30***23*ABC", ("EB", "EB07")),
    ("271", "EB*1**30", "EB*ZZ**30**GOLD PPO", ("EB", None)),  # EB01 selects the segment
    ("271-aaa", "AAA*", "AAA*Y**ZZ*C", ("AAA", "AAA03")),
    # a qualifier that selects the segment definition: pyx12 reports the segment, not the element
    ("276", "TRN*1", "TRN*9*CS0001-1", ("TRN", None)),
    ("276", "DTP*472", "DTP*232*RD8*20260201-20260201", ("DTP", None)),
    ("276", "AMT*T3", "AMT*T3*1X0.00", ("AMT", "AMT02")),
    ("277", "STC*", "STC*F1:1*2026030**150.00*120.00*20260301", ("STC", "STC02")),
    ("277", "BHT*", "BHT*0010*13*CS0001*20260302*0931*DG", ("BHT", "BHT02")),
]


@pytest.mark.parametrize(("case", "prefix", "new", "expected"), MUTATIONS)
def test_mutated_example_is_rejected_at_the_right_place(
    case: str, prefix: str, new: str, expected: tuple[str, str | None]
) -> None:
    fic, st01, version, body = CASES[case]
    mutated, seg_no = _mutate(body, prefix, new)
    report = validate_x12(interchange(fic, st01, version, mutated))
    assert not report.ok
    hits = [(e.segment_no, e.segment_id, e.element) for e in report.errors]
    assert (seg_no, expected[0], expected[1]) in hits, hits
    # no element value from the file in any message
    for e in report.errors:
        assert "DOE" not in e.message and "W123456789" not in e.message


@pytest.mark.parametrize("case", ["270", "276"])
def test_missing_required_loop_is_rejected(case: str) -> None:
    fic, st01, version, body = CASES[case]
    mutated = [s for s in body if not s.startswith("NM1*IL")]
    report = validate_x12(interchange(fic, st01, version, mutated))
    assert not report.ok
    assert any(e.level == "segment" for e in report.errors)


def test_wrong_guide_version_in_st03_is_rejected() -> None:
    fic, st01, version, body = CASES["270"]
    text = interchange(fic, st01, version, body).decode()
    text = text.replace("ST*270*0001*005010X279A1", "ST*270*0001*005010X222A1")
    report = validate_x12(text.encode())
    assert not report.ok
    assert any(e.element == "ST03" for e in report.errors), [e.line("x") for e in report.errors]


@pytest.mark.parametrize("case", ["270", "277"])
def test_fast_engine_gives_the_same_verdict(case: str) -> None:
    good = validate_x12(interchange(*CASES[case]), engine="fast")
    assert good.ok
    fic, st01, version, body = CASES[case]
    bad_body = [s.replace("NM1*PR*2", "NM1*ZZ*2", 1) for s in body]
    bad = validate_x12(interchange(fic, st01, version, bad_body), engine="fast")
    assert not bad.ok


def test_837_still_uses_pyx12s_own_folder() -> None:
    from edi.validate import _claimflow_map_path

    text = interchange("HC", "837", "005010X222A1", ["BHT*0019*00*1*20260302*0930*CH"]).decode()
    assert _claimflow_map_path(text) is None
    assert _claimflow_map_path(interchange(*CASES["276"]).decode()) == map_path()
