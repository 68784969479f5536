"""Prior authorizations without a clearinghouse: code ranges, which authorization a claim gets and why a
claim is held, and the import's refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.inquiries import authorizations as au

D = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    ("text", "parsed", "normal"),
    [
        ("97110-97140,G0283", (("97110", "97140"), ("G0283", "G0283")), "97110-97140,G0283"),
        (
            " g0283 , 97110 - 97140 ,97110-97140",
            (("97110", "97140"), ("G0283", "G0283")),
            "97110-97140,G0283",
        ),
        ("0001F-0015F", (("0001F", "0015F"),), "0001F-0015F"),
        ("J1100,,", (("J1100", "J1100"),), "J1100"),
    ],
)
def test_parse_and_format_codes(text: str, parsed: tuple[tuple[str, str], ...], normal: str) -> None:
    assert au.parse_codes(text) == parsed
    assert au.format_codes(au.parse_codes(text)) == normal
    assert au.parse_codes(normal) == parsed  # the stored form reads back the same


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no procedure codes"),
        ("9711", "not a 5-character"),
        ("97140-97110", "backwards"),
        ("97110-G0283", "mixes code forms"),
        ("97110-", "not a 5-character"),
        ("971*0", "not a 5-character"),
    ],
)
def test_parse_codes_refuses(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        au.parse_codes(text)


def test_covers_only_codes_of_the_range_form() -> None:
    ranges = au.parse_codes("97110-97140,G0283,0001F-0015F")
    assert au.covers(ranges, "97110") and au.covers(ranges, "97140") and au.covers(ranges, "97112")
    assert au.covers(ranges, "g0283") and au.covers(ranges, "0010F")
    assert not au.covers(ranges, "97150") and not au.covers(ranges, "97109")
    assert not au.covers(ranges, "0010T"), "a category III code is not inside a category II range"
    assert not au.covers(ranges, "G0284") and not au.covers(ranges, None) and not au.covers(ranges, "")


def _auth(id_: int, number: str, codes: str, start: dt.date, end: dt.date, left: str) -> au._Auth:
    return au._Auth(id_, number, au.parse_codes(codes), start, end, Decimal(left))


def _line(n: int, code: str, units: str = "1", day: dt.date = D) -> au._Line:
    return au._Line(n, code, day, day, Decimal(units))


def _claim(pa: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(prior_authorization=pa)


JAN, DEC = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


def test_decide_picks_the_authorization_ending_soonest_that_covers_every_line() -> None:
    late = _auth(1, "LATE", "97110-97140", JAN, DEC, "10")
    soon = _auth(2, "SOON", "97110-97140", JAN, dt.date(2026, 4, 30), "10")
    narrow = _auth(3, "NARROW", "97110", JAN, dt.date(2026, 3, 31), "10")
    out = au._decide(_claim(), [_line(1, "97110"), _line(2, "97140")], [late, soon, narrow], "ACME")
    assert out.auth is soon and out.findings == []
    # a number already on the claim must be that authorization
    out = au._decide(_claim("LATE"), [_line(1, "97110")], [late, soon, narrow], "ACME")
    assert out.auth is late
    out = au._decide(_claim("UNKNOWN1"), [_line(1, "97110")], [late], "ACME")
    assert out.auth is None and [f[0] for f in out.findings] == [au.RULE_MISSING]
    assert "not on file" in out.findings[0][1]


@pytest.mark.parametrize(
    ("auths", "lines", "rules"),
    [
        ([], [_line(1, "97110")], [au.RULE_MISSING]),
        ([_auth(1, "A", "G0283", JAN, DEC, "9")], [_line(1, "97110")], [au.RULE_MISSING]),
        ([_auth(1, "A", "97110", JAN, dt.date(2026, 3, 1), "9")], [_line(1, "97110")], [au.RULE_EXPIRED]),
        ([_auth(1, "A", "97110", dt.date(2026, 4, 1), DEC, "9")], [_line(1, "97110")], [au.RULE_MISSING]),
        ([_auth(1, "A", "97110", JAN, DEC, "1")], [_line(1, "97110", "2")], [au.RULE_EXHAUSTED]),
        # two lines that each fit, but together need more than the one authorization has left
        (
            [_auth(1, "A", "97110", JAN, DEC, "1")],
            [_line(1, "97110"), _line(2, "97110")],
            [au.RULE_EXHAUSTED],
        ),
        # each line has its own authorization, but a claim carries one number
        (
            [_auth(1, "A", "97110", JAN, DEC, "9"), _auth(2, "B", "97140", JAN, DEC, "9")],
            [_line(1, "97110"), _line(2, "97140")],
            [au.RULE_SPLIT],
        ),
        # different lines, different reasons: one finding per rule
        (
            [_auth(1, "A", "97110", JAN, DEC, "0"), _auth(2, "B", "97140", JAN, dt.date(2026, 2, 1), "9")],
            [_line(1, "97110"), _line(2, "97140"), _line(3, "97112")],
            [au.RULE_MISSING, au.RULE_EXPIRED, au.RULE_EXHAUSTED],
        ),
    ],
)
def test_decide_holds_with_the_right_rule(
    auths: list[au._Auth], lines: list[au._Line], rules: list[str]
) -> None:
    out = au._decide(_claim(), lines, auths, "ACME HEALTH")
    assert out.auth is None
    assert [f[0] for f in out.findings] == rules
    for _rule, reason in out.findings:
        assert reason.startswith("ACME HEALTH: ") and "line " in reason


HEADER = "auth_number,payer_id,patient_account,codes,units,start_date,end_date\n"


def test_import_refuses_a_file_without_the_header(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "auths.csv"
    path.write_text("number,payer,codes\nA1,P,97110\n")
    with pytest.raises(au.AuthorizationError, match="missing: auth_number, payer_id, patient_account"):
        au.import_authorizations(sqlite_engine, path)
    rules = tmp_path / "rules.csv"
    rules.write_text("payer_id,codes\nNOPE,97110\nNOPE2,zz\n")
    with pytest.raises(au.AuthorizationError) as err:
        au.import_rules(sqlite_engine, rules)
    assert err.value.problems == ["row 2: payer_id: no payer 'NOPE'", "row 3: payer_id: no payer 'NOPE2'"]
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.PayerAuthRule)).scalar_one() == 0


def test_import_reports_every_bad_row_and_stores_nothing(sqlite_engine: Engine, tmp_path: Path) -> None:
    from claimflow.sandbox.seed import seed_practice

    seed_practice(sqlite_engine, patients=3, claims=3, seed=1, as_of=D)
    with sqlite_engine.connect() as conn:
        payer = conn.execute(select(m.Payer.payer_id).limit(1)).scalar_one()
        account = conn.execute(select(m.Patient.account_number).limit(1)).scalar_one()
    path = tmp_path / "auths.csv"
    path.write_text(
        HEADER
        + f"OK-1,{payer},{account},97110,10,2026-01-01,2026-06-30\n"
        + f"BAD*1,{payer},{account},97110,10,2026-01-01,2026-06-30\n"
        + f"OK-2,{payer},{account},97110,10,2026-07-01,2026-06-30\n"
        + f"OK-3,{payer},{account},97110,1.0005,2026-01-01,2026-06-30\n"
        + f"OK-1,{payer},{account},97110,10,2026-01-01,2026-06-30\n"
        + f"OK-4,{payer},{account},97110,10,2026-01-01,2026-06-30,expired\n"
    )
    with pytest.raises(au.AuthorizationError) as err:
        au.import_authorizations(sqlite_engine, path)
    problems = err.value.problems
    assert [p.split(":")[0] for p in problems] == ["row 3", "row 4", "row 5", "row 6"]
    assert "auth_number" in problems[0] and "end_date: before start_date" in problems[1]
    assert "three decimals" in problems[2] and "already on row 2" in problems[3]
    assert str(err.value).startswith("auths.csv: 4 invalid row(s), nothing imported; row 3")
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.PriorAuthorization)).scalar_one() == 0
