"""The run report (self-contained HTML, no PHI) and the de-identified analyst views."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from adjudication.patient_payments import import_payments_csv
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.report import render_run_report
from claimflow.db import models as m
from claimflow.services import analyst

from .builders import D, Line, Pay, Practice, standard_pay

RUN = dt.date(2026, 11, 25)
PHI_COLUMNS = {
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "member_id",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "account_number",
    "patient_id",
    "subscriber_id",
}


def _practice(db: Engine, tmp_path: Path) -> Practice:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    a = pr.claim(pid, [("99213", D("125.00"))], service_date=dt.date(2026, 7, 1))
    b = pr.claim(pid, [("99214", D("185.00"))])
    pr.remittance(
        [
            standard_pay(a),
            Pay(
                pcn=b.pcn,
                status="4",
                lines=[Line("99214", D("185.00"), D("0.00"), [("CO", "197", D("185.00"))], b.lines[0][1])],
            ),
        ]
    )
    post_remittances(db, actor="test", as_of=RUN)
    csv = tmp_path / "pp.csv"
    csv.write_text(
        "external_id,account_number,claim_number,amount,received_on,method\n"
        "PP-1,A0000001,,4.00,2026-11-24,cash\n",
        encoding="utf-8",
    )
    import_payments_csv(db, csv, actor="test")
    reconcile(db, RUN)
    return pr


def test_run_report_is_self_contained_and_has_no_phi(db: Engine, tmp_path: Path) -> None:
    _practice(db, tmp_path)
    out = render_run_report(db, RUN, tmp_path / "reports" / "run.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for section in (
        "Summary",
        "Claims by status",
        "Key performance indicators",
        "aging by payer",
        "Denials",
        "Top denial reasons",
        "Balance exceptions",
    ):
        assert section in page
    assert "authorization" in page and "CO-197" in page  # the denial, by category and code
    assert "$310.00" in page  # total charges
    assert not re.search(r"(src|href)=", page)  # no external assets, no links
    assert "<script" not in page
    for phi in ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER", "ZZTEST ST", "1970-01-02", "A0000001"):
        assert phi not in page


def test_analyst_views_are_deidentified(db: Engine, tmp_path: Path) -> None:
    _practice(db, tmp_path)
    with db.connect() as conn:
        for name in analyst.VIEWS:
            columns = set(
                conn.execute(text(f"SELECT * FROM {analyst.view_name(db.dialect.name, name)} LIMIT 0")).keys()
            )
            assert columns and not columns & PHI_COLUMNS, (name, columns & PHI_COLUMNS)
    frame = analyst.read_view(db, "claim_balances", "run_date = :d", {"d": RUN})
    assert len(frame) == 2
    assert all(isinstance(v, Decimal) for v in frame["charge"])
    assert sorted(frame["charge"]) == [D("125.00"), D("185.00")]
    keys = set(frame["patient_key"])
    with db.connect() as conn:
        pid = conn.execute(select(m.Patient.id)).scalar_one()
    assert keys == {analyst.patient_key(pid)}
    pb = analyst.read_view(db, "patient_balances")
    assert list(pb["patient_key"]) == [analyst.patient_key(pid)]
    assert pb["patient_balance"][0] == D("6.00")  # PR 10.00 − 4.00 paid
    aging = analyst.read_view(db, "aging_buckets", "dimension = 'patient'")
    assert set(aging["key"]) == keys


def test_patient_key_is_stable_and_salted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(analyst.SALT_ENV, raising=False)
    k = analyst.patient_key(42)
    assert k == analyst.patient_key(42) and len(k) == 32 and k != analyst.patient_key(43)
    monkeypatch.setenv(analyst.SALT_ENV, "a-secret")
    assert analyst.patient_key(42) != k


def test_grant_analyst_needs_postgresql(db: Engine) -> None:
    if db.dialect.name == "postgresql":
        return
    with pytest.raises(analyst.AnalystError):
        analyst.grant_analyst(db, "analyst")


def test_grant_analyst_cli_on_sqlite_is_one_line_exit_2(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from claimflow.cli import main
    from claimflow.settings import reset_settings_cache

    monkeypatch.setenv("CLAIMFLOW_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(analyst.SALT_ENV, "a-secret")
    reset_settings_cache()
    try:
        assert main(["db", "grant-analyst", "analysts"]) == 2
    finally:
        reset_settings_cache()
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "PostgreSQL" in lines[0] and "Traceback" not in out.err, out.err
    assert out.out == ""


test_grant_analyst_cli_on_sqlite_is_one_line_exit_2.sqlite_only = True  # type: ignore[attr-defined]  # not rerun on PG


def test_check_salt_refuses_the_public_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from claimflow.settings import reset_settings_cache

    monkeypatch.delenv(analyst.SALT_ENV, raising=False)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    reset_settings_cache()
    try:
        with pytest.raises(analyst.DefaultSaltRefused, match=analyst.SALT_ENV):
            analyst.check_salt()
        monkeypatch.setenv(analyst.SALT_ENV, analyst.DEFAULT_SALT)
        with pytest.raises(analyst.DefaultSaltRefused):
            analyst.check_salt()
        monkeypatch.setenv(analyst.SALT_ENV, "a-secret")
        analyst.check_salt()
        assert analyst.patient_salt() == "a-secret"
    finally:
        reset_settings_cache()


def test_salt_from_dotenv_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claimflow.settings import reset_settings_cache

    monkeypatch.delenv(analyst.SALT_ENV, raising=False)
    (tmp_path / ".env").write_text(f"{analyst.SALT_ENV}=from-dotenv\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    reset_settings_cache()
    try:
        analyst.check_salt()
        assert analyst.patient_salt() == "from-dotenv"
        assert analyst.patient_key(7) == analyst.patient_key(7, "from-dotenv")
    finally:
        reset_settings_cache()
