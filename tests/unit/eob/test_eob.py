"""EOB building, balancing and code descriptions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from eob import codes
from eob.balance import BalanceException, check_claim, check_transaction, iter_exceptions
from eob.records import EOB, breakdown, build_eob, iter_eobs
from parsers import parse_file
from parsers.records import Adjustment, RemittanceTotals

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
D = Decimal


def eobs(rel: str) -> list[EOB]:
    return list(iter_eobs(parse_file(FIXTURES / rel, file_sha256="s")))


def test_eob_breakdown_contractual_deductible_coinsurance_copay() -> None:
    (e,) = eobs("835/payment_contractual_deductible_coinsurance.835")
    assert (e.payer_name, e.payer_id, e.trace_number, e.payment_method) == (
        "ACME HEALTH PLAN",
        "ACME01",
        "EFT0000101",
        "ACH",
    )
    assert e.payment_date is not None and e.payment_date.isoformat() == "2026-01-16"
    assert (e.patient_control_number, e.claim_status, e.reversal) == ("SUN-000123", "1", False)
    assert (e.charge, e.paid, e.patient_responsibility) == (D(450), D(250), D(100))
    assert (e.deductible, e.coinsurance, e.copay, e.other_patient_responsibility) == (
        D(50),
        D(30),
        D(20),
        D(0),
    )
    assert e.patient_responsibility_adjusted == D(100)
    assert (e.contractual, e.other_adjustments, e.payer_initiated, e.corrections) == (
        D(100),
        D(0),
        D(0),
        D(0),
    )
    assert e.carc_codes == ("CO-45", "PR-1", "PR-2", "PR-3")
    l1, l2 = e.lines
    assert (l1.control_number, l1.charge, l1.allowed, l1.paid) == ("SUN-000123-1", D(250), D(200), D(120))
    assert (l1.deductible, l1.coinsurance, l1.copay, l1.contractual) == (D(50), D(30), D(0), D(50))
    assert (l2.copay, l2.contractual, l2.patient_responsibility) == (D(20), D(50), D(20))
    assert l2.carc_codes == ("CO-45", "PR-3")
    assert l1.service_date_from == l1.service_date_to and l1.service_date_from is not None


def test_eob_denial_rarcs_and_claim_level_cas() -> None:
    first, second, third = eobs("835/denial_with_rarc.835")
    assert first.rarc_codes == ("MA01", "N386", "M127")
    assert first.lines[0].rarc_codes == ["N386", "M127"] and first.contractual == D(180)
    assert second.lines == () and second.contractual == D(125) and second.carc_codes == ("CO-197",)
    assert third.paid == D(80)


def test_eob_reversal_and_secondary() -> None:
    rev, corr = eobs("835/reversal_and_correction.835")
    assert rev.reversal and rev.contractual == D(-60) and rev.coinsurance == D(-60)
    assert corr.coinsurance == D(40) and corr.paid == D(200)
    sec, _fwd = eobs("835/secondary_and_crossover.835")
    assert sec.other_adjustments == D(164) and sec.carc_codes == ("OA-23",)


def test_breakdown_groups() -> None:
    adjs = [
        Adjustment("CO", "45", D(10), None),
        Adjustment("PR", "1", D(1), None),
        Adjustment("PR", "2", D(2), None),
        Adjustment("PR", "3", D(3), None),
        Adjustment("PR", "66", D(4), None),
        Adjustment("OA", "23", D(5), None),
        Adjustment("PI", "94", D(6), None),
        Adjustment("CR", "1", D(7), None),
    ]
    assert tuple(breakdown(adjs)) == (D(10), D(1), D(2), D(3), D(4), D(10), D(5), D(6), D(7))


def test_balanced_fixtures_have_no_exceptions() -> None:
    for p in sorted((FIXTURES / "835").glob("*.835")):
        if p.name == "unbalanced.835":
            continue
        assert list(iter_exceptions(parse_file(p))) == [], p.name


def test_unbalanced_file_is_parsed_and_every_exception_reported() -> None:
    excs = list(iter_exceptions(parse_file(FIXTURES / "835/unbalanced.835", file_sha256="s")))
    assert [(e.level, e.kind, e.reference, e.expected, e.found) for e in excs] == [
        ("claim", "claim_adjustments", "SUN-000800", D(100), D(90)),
        ("line", "line_adjustments", "SUN-000800 line SUN-000800-1", D(50), D(40)),
        ("transaction", "payment", "0001", D(210), D(200)),
    ]
    line = excs[1]
    assert isinstance(line, BalanceException)
    assert (line.file_sha256, line.st02, line.patient_control_number, line.line_control_number) == (
        "s",
        "0001",
        "SUN-000800",
        "SUN-000800-1",
    )
    assert line.difference == D(10)


def test_check_transaction_forms() -> None:
    t = RemittanceTotals("s", "1", "2", "0001", 9, 1, 1, D(10), D(8), D(0), D("1.5"), D("6.5"), 9, 0, 0)
    assert check_transaction(t) == []
    assert check_transaction(D("6.5"), t) == []
    (exc,) = check_transaction(D(7), t)
    assert (exc.expected, exc.found) == (D(7), D("6.5"))
    with pytest.raises(TypeError):
        check_transaction(D(1))


def test_parser_balance_counts_agree_with_eob_balance() -> None:
    """RemittanceTotals.unbalanced_* (counted while parsing) must match check_claim, in both modes."""
    from parsers import x835_005010x221a1 as x835
    from parsers.records import ClaimPayment

    files = sorted((FIXTURES / "835").glob("*.835"))
    assert len(files) >= 10
    for p in files:
        recs = list(x835.parse(p))
        excs = [e for r in recs if isinstance(r, ClaimPayment) for e in check_claim(r)]
        totals = [r for r in recs if isinstance(r, RemittanceTotals)]
        assert sum(t.unbalanced_claims for t in totals) == sum(e.level == "claim" for e in excs), p.name
        assert sum(t.unbalanced_lines for t in totals) == sum(e.level == "line" for e in excs), p.name
        lean = list(x835.parse(p, claims=False))
        assert not any(isinstance(r, ClaimPayment) for r in lean)
        assert [r for r in lean if isinstance(r, RemittanceTotals)] == totals, p.name


def test_build_eob_matches_iter_eobs() -> None:
    from parsers.records import ClaimPayment, Remittance

    recs = list(parse_file(FIXTURES / "835/several_payers.835"))
    built = []
    remit = None
    for r in recs:
        if isinstance(r, Remittance):
            remit = r
        elif isinstance(r, ClaimPayment):
            assert remit is not None
            built.append(build_eob(remit, r))
    assert built == list(iter_eobs(recs))
    assert [e.payer_name for e in built] == ["ACME HEALTH PLAN", "BLUE LAKE INSURANCE", "STATE MEDICAID"]


# ---- codes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("1", "deductible"), ("2", "coinsurance"), ("3", "copay"), ("4", "missing information"),
        ("5", "missing information"), ("16", "missing information"), ("18", "duplicate"),
        ("22", "coordination of benefits"), ("23", "coordination of benefits"), ("27", "non-covered"),
        ("29", "timely filing"), ("45", "contractual"), ("50", "medical necessity"), ("96", "non-covered"),
        ("97", "bundling"), ("109", "coordination of benefits"), ("119", "non-covered"),
        ("146", "missing information"), ("197", "authorization"), ("204", "non-covered"),
        ("242", "authorization"), ("253", "contractual"), ("99999", "other"),
    ],
)  # fmt: skip
def test_carc_categories(code: str, category: str) -> None:
    assert codes.carc_category(code) == category


def test_claim_status_and_pos() -> None:
    assert codes.claim_status_description("22") == "Reversal of previous payment"
    assert codes.place_of_service_description("11") == "Office"
    assert codes.claim_status_description("99") is None


def test_pyx12_code_lists() -> None:
    assert "MA01" in codes.pyx12_code_list("remark_code")
    assert codes.is_known_rarc("N386") is True and codes.is_known_rarc("ZZZZ") is False
    assert "11" in codes.pyx12_code_list("pos")
    assert codes.pyx12_code_list("no such codeset") == frozenset()


def test_customer_supplied_descriptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    carc = tmp_path / "carc.csv"
    carc.write_text(
        "\ufeffCode,Description,Start\n45,Charge exceeds fee schedule (licensed text),2001\n",
        encoding="utf-8",
    )
    assert codes.carc_description("45") is None  # nothing licensed by default
    monkeypatch.setenv("CLAIMFLOW_CARC_FILE", str(carc))
    codes.reset_caches()
    try:
        assert codes.carc_description("45") == "Charge exceeds fee schedule (licensed text)"
        assert codes.rarc_description("N386", {"N386": "text"}) == "text"
    finally:
        monkeypatch.delenv("CLAIMFLOW_CARC_FILE")
        codes.reset_caches()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="needs 'code' and 'description'"):
        codes.load_descriptions(bad)


def test_eob_carries_the_original_reference_number() -> None:
    """REF*F8 of a correction (frequency 7) reaches the EOB, from the C builder and the Python one alike."""
    from eob.records import build_eob_python
    from parsers.records import ClaimPayment, Remittance

    recs = list(parse_file(FIXTURES / "835/reversal_and_correction.835", file_sha256="s"))
    remit = next(r for r in recs if type(r) is Remittance)
    claims = [r for r in recs if type(r) is ClaimPayment]
    got = [build_eob(remit, c) for c in claims]
    assert [e.original_reference_number for e in got] == [None, "ACM26010000200"]
    assert [e.frequency for e in got] == ["1", "7"] and got[0].reversal
    assert got == [build_eob_python(remit, c) for c in claims]
