from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal

import pytest

from edi.claim import ClaimFrequency, ClaimType, ServiceLine
from edi.control_numbers import InMemoryControlNumbers
from edi.delimiters import Delimiters
from edi.errors import X12WriteError
from edi.x837 import write_interchange

from .conftest import (
    CLINIC,
    CREATED,
    DR_CASEY,
    PARTIES,
    RECEIVER,
    SUBMITTER,
    assert_golden,
    assert_pyx12_clean,
    build_x837,
    dependent_claim,
    institutional_claim,
    many_professional_claims,
    professional_claim,
    replacement_claim,
    secondary_professional_claim,
    segments,
)


def test_simple_claim_exact_segments() -> None:
    b = build_x837([professional_claim(1)])
    assert segments(b.text) == [
        "ISA*00*          *00*          *ZZ*CLAIMFLOW      *ZZ*CLEARINGHOUSE  *240301*0930*^*00501*000000417*0*T*:",
        "GS*HC*CLAIMFLOW*CLEARINGHOUSE*20240301*0930*418*X*005010X222A1",
        "ST*837*0001*005010X222A1",
        "BHT*0019*00*CF0000004170001*20240301*0930*CH",
        "NM1*41*2*CLAIMFLOW BILLING*****46*CF0001",
        "PER*IC*EDI DESK*TE*5555550100",
        "NM1*40*2*CLEARINGHOUSE INC*****46*CH0001",
        "HL*1**20*1",
        "PRV*BI*PXC*207Q00000X",
        "NM1*85*2*SUNRISE FAMILY CLINIC*****XX*1234567893",
        "N3*100 MAIN ST*SUITE 200",
        "N4*SPRINGFIELD*IL*627011234",
        "REF*EI*371234567",
        "HL*2*1*22*0",
        "SBR*P*18*GRP01******CI",
        "NM1*IL*1*DOE*JANE*Q***MI*W123456789",
        "N3*12 ELM ST",
        "N4*SPRINGFIELD*IL*62701",
        "DMG*D8*19800412*F",
        "NM1*PR*2*ACME HEALTH PLAN*****PI*12345",
        "N3*PO BOX 1000",
        "N4*CHICAGO*IL*60601",
        "CLM*PCN000001*145.5***11:B:1*Y*A*Y*Y",
        "REF*G1*AUTH0001",
        "HI*ABK:E119*ABF:I10",
        "NM1*82*1*WELBY*MARCUS****XX*1245319599",
        "PRV*PE*PXC*207Q00000X",
        "LX*1",
        "SV1*HC:99213:25*125*UN*1***1:2",
        "DTP*472*D8*20240220",
        "REF*6R*L000001-1",
        "LX*2",
        "SV1*HC:36415*20.5*UN*1***1",
        "DTP*472*D8*20240220",
        "REF*6R*L000001-2",
        "SE*34*0001",
        "GE*1*418",
        "IEA*1*000000417",
    ]
    assert b.isa13 == 417 and b.gs06 == 418 and b.st02s == ("0001",)
    assert b.transactions[0].claim_ids == (1,)
    assert b.transactions[0].segment_count == 34
    assert b.manifest.interchange_control_number == "000000417"
    assert b.data == b.text.encode("ascii")
    assert_pyx12_clean(b.text)


def test_dependent_patient_gets_2000c() -> None:
    b = build_x837([dependent_claim(2)])
    segs = segments(b.text)
    assert "HL*2*1*22*1" in segs and "HL*3*2*23*0" in segs
    sbr = segs.index("HL*2*1*22*1") + 1
    assert segs[sbr] == "SBR*P**GRP01******CI"  # SBR02 empty: the subscriber is not the patient
    pat = segs.index("PAT*19")
    assert segs[pat - 1] == "HL*3*2*23*0"
    assert segs[pat + 1] == "NM1*QC*1*ROE*SALLY"
    assert segs[pat + 4] == "DMG*D8*20150601*F"
    # the subscriber's DMG is only sent when the subscriber is the patient
    assert sum(s.startswith("DMG") for s in segs) == 1
    assert_pyx12_clean(b.data)


def test_replacement_carries_ref_f8() -> None:
    b = build_x837([replacement_claim(3)])
    segs = segments(b.text)
    assert "CLM*PCN000003*145.5***11:B:7*Y*A*Y*Y" in segs
    assert segs.index("REF*F8*PAYERCCN0001") == segs.index("REF*G1*AUTH0001") + 1  # guide order: G1 then F8
    assert_pyx12_clean(b.text)


@pytest.mark.parametrize("freq", [ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID])
def test_replacement_without_payer_claim_number_is_refused(freq: ClaimFrequency) -> None:
    with pytest.raises(X12WriteError, match=r"claim 3 .*REF\*F8"):
        build_x837([professional_claim(3, frequency=freq)])


def test_secondary_claim_has_2320_2330_and_2430() -> None:
    b = build_x837([secondary_professional_claim(4)])
    segs = segments(b.text)
    i = segs.index("SBR*P*18*******MB")  # 2320: the primary payer's responsibility and filing indicator
    assert segs[i + 1 : i + 7] == [
        "AMT*D*95",
        "AMT*EAF*20",
        "OI***Y*P**Y",
        "NM1*IL*1*DOE*JANE*Q***MI*1EG4TE5MK73",
        "N3*12 ELM ST",
        "N4*SPRINGFIELD*IL*62701",
    ]
    assert segs[i + 7] == "NM1*PR*2*MEDICARE PART B*****PI*00952"
    assert segs[i + 8] == "LX*1"  # no 2330B DTP*573: the 2430 loops carry the dates
    assert "SBR*S*18*GRP01******BL" in segs
    j = segs.index("SVD*00952*80*HC:99213:25**1")
    assert segs[j + 1 : j + 4] == ["CAS*CO*45*25", "CAS*PR*2*20", "DTP*573*D8*20240228"]
    k = segs.index("SVD*00952*15*HC:36415**1")
    assert segs[k + 1 : k + 3] == ["CAS*CO*45*5.5", "DTP*573*D8*20240228"]
    assert_pyx12_clean(b.text)


def test_secondary_without_line_adjudication_dates_2330b() -> None:
    c = secondary_professional_claim(5)
    for ln in c.lines:
        ln.other_payer = None
    c.other_coverages[0].adjustments = (("CO", "45", Decimal("30")), ("PR", "1", Decimal("20.50")))
    b = build_x837([c])
    segs = segments(b.text)
    assert "CAS*CO*45*30" in segs and "CAS*PR*1*20.5" in segs
    i = segs.index("NM1*PR*2*MEDICARE PART B*****PI*00952")
    assert segs[i + 1] == "DTP*573*D8*20240228"
    assert not any(s.startswith("SVD") for s in segs)
    assert_pyx12_clean(b.text)


def test_many_claims_split_into_transaction_sets_grouped_by_billing_provider() -> None:
    claims = many_professional_claims(11)
    b = build_x837(claims, max_claims_per_st=4)
    assert b.st02s == ("0001", "0002", "0003")
    assert [len(t.claim_ids) for t in b.transactions] == [4, 4, 3]
    # grouping: every claim of the first clinic, then every claim of the second, original order kept within
    first = [c.claim_id for c in claims if c.billing_provider is CLINIC]
    second = [c.claim_id for c in claims if c.billing_provider is not CLINIC]
    assert b.manifest.claim_ids == tuple(first + second)
    segs = segments(b.text)
    assert segs[-2] == "GE*3*418" and segs[-1] == "IEA*1*000000417"
    # SE01 counts ST..SE inclusive, for each transaction set
    starts = [i for i, s in enumerate(segs) if s.startswith("ST*")]
    ends = [i for i, s in enumerate(segs) if s.startswith("SE*")]
    for t, st, se in zip(b.transactions, starts, ends, strict=True):
        assert segs[se] == f"SE*{se - st + 1}*{t.st02}"
        assert t.segment_count == se - st + 1
        body = segs[st:se]
        assert body[5] == "HL*1**20*1"  # HL numbering restarts in every transaction set
        hls = [s for s in body if s.startswith("HL*")]
        assert [int(h.split("*")[1]) for h in hls] == list(range(1, len(hls) + 1))
        clms = [s.split("*")[1] for s in body if s.startswith("CLM*")]
        assert clms == [f"PCN{cid:06d}" for cid in t.claim_ids]
    # the second ST holds claims of both providers: two 2000A loops
    st2 = segs[starts[1] : ends[1]]
    assert sum(s.endswith("*20*1") and s.startswith("HL*") for s in st2) == 2
    assert_pyx12_clean(b.text)


def test_delimiter_in_data_names_segment_and_element_not_value() -> None:
    c = professional_claim(42)
    c.subscriber.person.last_name = "O*BRIEN"
    with pytest.raises(X12WriteError) as ei:
        build_x837([c])
    msg = str(ei.value)
    assert "claim 42" in msg and "PCN000042" in msg
    assert "NM103" in msg and "2010BA" in msg
    assert "O*BRIEN" not in msg and "BRIEN" not in msg


@pytest.mark.parametrize(
    ("mutate", "element"),
    [
        (lambda c: setattr(c.lines[1], "procedure_code", "364:5"), "SV101-2"),
        (lambda c: setattr(c.lines[0], "modifiers", ("25", "5~")), "SV101-4"),
        (lambda c: setattr(c.lines[0], "line_control_number", "L1\n"), "REF02 (6R)"),
        (lambda c: setattr(c, "diagnoses", ["E119", "I1^0"]), "HI02-2"),
        (lambda c: setattr(c.subscriber, "member_id", "W12\x0034"), "NM109"),
        (lambda c: setattr(c.subscriber.person.address, "city", "SPRÍNGFIELD"), "N401"),
        (lambda c: setattr(c, "prior_authorization", "A*1"), "REF02 (G1)"),
    ],
)
def test_unsafe_text_anywhere_is_refused(mutate, element: str) -> None:  # type: ignore[no-untyped-def]
    c = professional_claim(7)
    mutate(c)
    with pytest.raises(X12WriteError, match=r"^claim 7 \(patient control number PCN000007\): ") as ei:
        build_x837([c])
    assert element in str(ei.value)


def _string_paths(obj: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if isinstance(v, str) and not hasattr(v, "value"):
                out.append((*path, f.name))
            else:
                out.extend(_string_paths(v, (*path, f.name)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, str):
                out.append((*path, i))
            else:
                out.extend(_string_paths(v, (*path, i)))
    return out


def _set(root: object, path: tuple[object, ...], value: str) -> None:
    for p in path[:-1]:
        root = root[p] if isinstance(p, int) else getattr(root, p)  # type: ignore[index]
    last = path[-1]
    if isinstance(last, int):
        root[last] = value  # type: ignore[index]
    else:
        setattr(root, last, value)


@pytest.mark.parametrize("maker", [professional_claim, dependent_claim, secondary_professional_claim])
def test_every_text_field_is_checked(maker) -> None:  # type: ignore[no-untyped-def]
    """Inject a terminator into each string field: either the field is not written at all, or the build
    fails naming an element; the output never carries the injected text and neither does the message."""
    marker = "Q~Z"
    paths = _string_paths(maker(1))
    assert len(paths) > 20
    for path in paths:
        c = maker(1)
        # fresh copies of shared module-level objects, so one injection does not leak into the next
        c.billing_provider = dataclasses.replace(CLINIC, address=dataclasses.replace(CLINIC.address))  # type: ignore[arg-type]
        c.payer = dataclasses.replace(
            c.payer, address=dataclasses.replace(c.payer.address) if c.payer.address else None
        )
        if c.rendering_provider is not None:
            c.rendering_provider = dataclasses.replace(c.rendering_provider)
        for oc in c.other_coverages:
            oc.payer = dataclasses.replace(oc.payer)
        _set(c, path, marker)
        try:
            b = build_x837([c])
        except X12WriteError as e:
            assert marker not in str(e), path
            assert "claim 1" in str(e)
            continue
        assert marker not in b.text, path


def test_rendering_provider_same_npi_as_billing_is_omitted() -> None:
    c = professional_claim(1, rendering_provider=dataclasses.replace(CLINIC, entity_type="2"))
    assert not any(s.startswith("NM1*82") for s in segments(build_x837([c]).text))
    c = professional_claim(1, rendering_provider=DR_CASEY, referring_provider=DR_CASEY)
    segs = segments(build_x837([c]).text)
    assert segs.index("NM1*DN*1*CASEY*BEN****XX*" + DR_CASEY.npi) < segs.index(
        "NM1*82*1*CASEY*BEN****XX*" + DR_CASEY.npi
    )


def test_line_place_of_service_and_date_span() -> None:
    c = professional_claim(1)
    c.lines[0].place_of_service = "22"
    c.lines[1].place_of_service = "11"  # same as the claim: not repeated
    c.lines[1].service_date_end = dt.date(2024, 2, 22)
    c.lines[1].units = Decimal("2.5")
    c.onset_date = dt.date(2024, 2, 1)
    segs = segments(build_x837([c]).text)
    assert "SV1*HC:99213:25*125*UN*1*22**1:2" in segs
    assert "SV1*HC:36415*20.5*UN*2.5***1" in segs
    assert "DTP*472*RD8*20240220-20240222" in segs
    assert segs[segs.index("CLM*PCN000001*145.5***11:B:1*Y*A*Y*Y") + 1] == "DTP*431*D8*20240201"
    assert_pyx12_clean(build_x837([c]).text)


def test_write_interchange_streams_the_same_text() -> None:
    claims = many_professional_claims(9)
    expected = build_x837(claims, max_claims_per_st=4).text
    sio = io.StringIO()
    m = write_interchange(
        sio,
        claims,
        PARTIES,
        SUBMITTER,
        RECEIVER,
        InMemoryControlNumbers(interchange=417, group=418, transaction=1),
        CREATED,
        max_claims_per_st=4,
    )
    assert sio.getvalue() == expected
    assert m.st02s == ("0001", "0002", "0003") and m.claim_count == 9
    bio = io.BytesIO()
    write_interchange(
        bio,
        claims,
        PARTIES,
        SUBMITTER,
        RECEIVER,
        InMemoryControlNumbers(interchange=417, group=418, transaction=1),
        CREATED,
        max_claims_per_st=4,
    )
    assert bio.getvalue() == expected.encode("ascii")


def test_skip_invalid_leaves_bad_claims_out() -> None:
    good, bad = professional_claim(1), professional_claim(2)
    bad.subscriber.person.first_name = "JO~E"
    b = build_x837([good, bad], skip_invalid=True)
    assert b.manifest.claim_ids == (1,)
    assert len(b.rejected) == 1 and b.rejected[0][0] == 2 and "NM104" in b.rejected[0][1]
    assert "JO~E" not in b.rejected[0][1]
    assert_pyx12_clean(b.text)


def test_failure_consumes_no_control_numbers() -> None:
    bad = professional_claim(1)
    bad.diagnoses = []
    control = InMemoryControlNumbers(interchange=50, group=60, transaction=70)
    with pytest.raises(X12WriteError, match="HI01"):
        build_x837([bad], control=control)
    with pytest.raises(X12WriteError, match="no claims to send"):
        build_x837([bad], control=control, skip_invalid=True)
    assert (control.peek("interchange"), control.peek("group"), control.peek("transaction")) == (50, 60, 70)


def test_refuses_empty_and_mixed_batches() -> None:
    with pytest.raises(X12WriteError, match="no claims"):
        build_x837([])
    with pytest.raises(X12WriteError, match="claim 10: one interchange carries one claim type"):
        build_x837([professional_claim(1), institutional_claim(10)])
    with pytest.raises(ValueError):
        build_x837([professional_claim(1)], max_claims_per_st=0)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda c: setattr(c, "diagnoses", [f"E11{i}" for i in range(13)]), "at most 12 diagnoses"),
        (lambda c: setattr(c.lines[0], "diagnosis_pointers", (1, 2, 1, 2, 1)), "SV107"),
        (lambda c: setattr(c.lines[0], "modifiers", ("25", "59", "76", "77", "91")), "at most 4 modifiers"),
        (lambda c: setattr(c.lines[0], "procedure_code", None), "SV101-2"),
        (lambda c: setattr(c, "lines", []), "at least one service line"),
        (lambda c: setattr(c, "lines", [c.lines[0]] * 51), "at most 50 service lines"),
        (lambda c: setattr(c.billing_provider, "tax_id", None), "REF02"),
    ],
)
def test_guide_limits(mutate, where: str) -> None:  # type: ignore[no-untyped-def]
    c = professional_claim(1)
    c.billing_provider = dataclasses.replace(CLINIC)
    mutate(c)
    with pytest.raises(X12WriteError, match=where.replace("(", r"\(")):
        build_x837([c])


def test_custom_delimiters_and_newlines_validate() -> None:
    d = Delimiters(element="|", component=">", repetition="`", segment="\\")
    b = build_x837(many_professional_claims(4), delimiters=d, newline=True)
    assert b.text.startswith("ISA|00|")
    assert "SV1|HC>99213>25|125|UN|1|||1>2\\\n" in b.text
    assert "*" not in b.text.replace("**", "")  # nothing left in canonical delimiters
    assert_pyx12_clean(b.text)
    with pytest.raises(X12WriteError, match="NM103"):
        c = professional_claim(1)
        c.subscriber.person.last_name = "A|B"
        build_x837([c], delimiters=d)


def test_claim_type_is_professional() -> None:
    assert build_x837([professional_claim(1)]).manifest.claim_type == ClaimType.PROFESSIONAL
    assert build_x837([professional_claim(1)]).manifest.version == "005010X222A1"


# ------------------------------------------------------------------------------------ golden fixtures

GOLDEN = {
    "simple": lambda: [professional_claim(1)],
    "dependent": lambda: [dependent_claim(2)],
    "replacement": lambda: [replacement_claim(3)],
    "secondary": lambda: [secondary_professional_claim(4)],
    "batch_multi_st": lambda: many_professional_claims(10, start_id=100),
}


def golden_text(name: str) -> str:
    claims = GOLDEN[name]()
    kw = {"max_claims_per_st": 4} if name == "batch_multi_st" else {}
    return build_x837(claims, newline=True, **kw).text


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_fixture_files(name: str) -> None:
    """fixtures/837p/<name>.837 is what the builder writes (CLAIMFLOW_REGENERATE_FIXTURES=1 rewrites)."""
    assert_golden(f"837p/{name}.837", golden_text(name))


def test_many_lines_and_units_of_minutes() -> None:
    c = professional_claim(1)
    c.lines = [
        ServiceLine(
            line_number=i + 1,
            charge=Decimal("10"),
            units=Decimal("15"),
            unit_basis="MJ",
            service_date=dt.date(2024, 2, 20),
            procedure_code="00142",
            diagnosis_pointers=(1,),
        )
        for i in range(50)
    ]
    c.total_charge = Decimal("500")
    b = build_x837([c])
    segs = segments(b.text)
    assert segs.count("SV1*HC:00142*10*MJ*15***1") == 50
    assert "LX*50" in segs
    assert_pyx12_clean(b.text)


def test_segment_helpers_agree_with_the_fast_path() -> None:
    from edi.x837 import professional as p
    from edi.x837.common import BuildContext

    c = professional_claim(1)
    segs = [s.rstrip("~") for s in p.claim_segments(c)]
    assert segs[0] == "HL*2*1*22*0"
    assert p.clm_segment(c).rstrip("~") in segs
    assert p.hi_segment(c.diagnoses).rstrip("~") in segs
    line = c.lines[0]
    comp = p.procedure_composite(line.procedure_code or "", line.modifiers)
    assert (
        p.sv1_segment(line, comp, "", BuildContext().pointer_composite(line.diagnosis_pointers)).rstrip("~")
        in segs
    )


@pytest.mark.parametrize("pointers", [(0,), (13,), ("1",)])
def test_bad_pointer_values_refused(pointers: tuple[object, ...]) -> None:
    c = professional_claim(1)
    c.lines[0].diagnosis_pointers = pointers  # type: ignore[assignment]
    with pytest.raises(X12WriteError, match="SV107"):
        build_x837([c])
