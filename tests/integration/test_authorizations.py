"""Prior authorizations end to end on SQLite and PostgreSQL: payer rules hold claims without one, an
authorization sends them with REF*G1 (a valid 837), units are counted once per line and come back when a
claim is rejected, and the worklist's ``authorizations`` queue opens and closes items."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from adjudication.worklist import WorklistConfig, build_worklist
from claimflow.cli import main
from claimflow.db import models as m
from claimflow.inquiries.authorizations import (
    check_authorizations,
    import_authorizations,
    import_rules,
    list_authorizations,
)
from claimflow.sandbox.seed import seed_practice
from claimflow.sandbox.synthetic import generate_practice
from claimflow.services.claims_loader import ReferenceData, load_claims
from claimflow.services.outbound import generate_batches
from claimflow.settings import Settings
from edi.reader import iter_segments
from edi.validate import validate_x12

TODAY = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 1, 30)
PATIENTS, CLAIMS, SEED = 40, 120, 11


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", data_dir=tmp_path / "data")  # type: ignore[arg-type]


def _pair(engine: Engine) -> tuple[int, int]:
    """Seed a practice and keep two clean professional claims of one patient and payer ready (the rest
    out of the way); their lines become 97110, one unit each. Returns the two claim ids."""
    seed_practice(engine, patients=PATIENTS, claims=CLAIMS, seed=SEED, as_of=TODAY)
    flaws = set(generate_practice(PATIENTS, CLAIMS, SEED, TODAY).flaws)
    c = m.Claim
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.id, c.patient_id, c.payer_id)
            .where(
                c.status == m.ClaimStatus.READY,
                c.claim_type == "professional",
                c.frequency == "1",
                c.primary_claim_id.is_(None),
            )
            .order_by(c.id)
        ).all()
        groups: dict[tuple[int, int], list[int]] = {}
        for cid, patient, payer in rows:
            if cid not in flaws:
                groups.setdefault((patient, payer), []).append(cid)
        a, b = next(ids for ids in groups.values() if len(ids) >= 2)[:2]
        conn.execute(
            update(c).where(c.id.not_in([a, b]), c.status == m.ClaimStatus.READY).values(status="closed")
        )
        conn.execute(
            update(m.ServiceLine)
            .where(m.ServiceLine.claim_id.in_([a, b]))
            .values(procedure_code="97110", modifiers=None, units=Decimal("1"), ndc=None)
        )
    return a, b


def _lines(engine: Engine, claim_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(m.ServiceLine.claim_id == claim_id)).scalar_one())


def _keys(engine: Engine, claim_id: int) -> tuple[str, str]:
    with engine.connect() as conn:
        return conn.execute(
            select(m.Payer.payer_id, m.Patient.account_number)
            .join(m.Claim, m.Claim.payer_id == m.Payer.id)
            .join(m.Patient, m.Patient.id == m.Claim.patient_id)
            .where(m.Claim.id == claim_id)
        ).one()


def _write_rules(engine: Engine, tmp_path: Path, claim_id: int) -> None:
    payer, _ = _keys(engine, claim_id)
    path = tmp_path / "rules.csv"
    path.write_text(f'payer_id,codes\n{payer},"97110-97140,G0283"\n')
    assert import_rules(engine, path).rules == 1


def _write_auth(
    engine: Engine,
    tmp_path: Path,
    claim_id: int,
    units: int,
    start: dt.date,
    end: dt.date,
    number: str = "AUTH-77",
) -> None:
    payer, account = _keys(engine, claim_id)
    path = tmp_path / "auths.csv"
    path.write_text(
        "auth_number,payer_id,patient_account,codes,units,start_date,end_date\n"
        f"{number},{payer},{account},97110-97140,{units},{start},{end}\n"
    )
    import_authorizations(engine, path, today=TODAY)


def _status(engine: Engine, *ids: int) -> list[str]:
    with engine.connect() as conn:
        got = dict(conn.execute(select(m.Claim.id, m.Claim.status).where(m.Claim.id.in_(ids))).all())
    return [got[i] for i in ids]


def _rules_held(engine: Engine, claim_id: int) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(m.ScrubResult.rule).where(
                    m.ScrubResult.claim_id == claim_id, m.ScrubResult.resolved.is_(False)
                )
            ).scalars()
        )


def _release(engine: Engine, *ids: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(m.ScrubResult).where(m.ScrubResult.claim_id.in_(ids)).values(resolved=True))
        conn.execute(update(m.Claim).where(m.Claim.id.in_(ids)).values(status=m.ClaimStatus.READY))


def _auth_row(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(m.PriorAuthorization.__table__)).one()


def _usage(engine: Engine) -> list[tuple[int, int, Decimal]]:
    with engine.connect() as conn:
        return sorted(
            (r[0], r[1], Decimal(str(r[2])))
            for r in conn.execute(
                select(
                    m.PriorAuthorizationUsage.claim_id,
                    m.PriorAuthorizationUsage.service_line_id,
                    m.PriorAuthorizationUsage.units,
                )
            )
        )


def _items(engine: Engine, queue: str) -> list[tuple[int, str, str, dt.date | None]]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(
                    m.WorkItem.claim_id, m.WorkItem.reason_key, m.WorkItem.status, m.WorkItem.due_date
                ).where(m.WorkItem.queue == queue)
            ).all()
        )


def _g1_values(path: Path) -> list[str]:
    return [
        seg[2] for _n, seg in iter_segments(path.read_bytes(), name=path.name) if seg[:2] == ["REF", "G1"]
    ]


def test_held_without_authorization_then_sent_with_ref_g1(engine: Engine, tmp_path: Path) -> None:
    a, b = _pair(engine)
    _write_rules(engine, tmp_path, a)
    settings = _settings(tmp_path)

    result = generate_batches(engine, settings, run_id="night1", today=TODAY, now=NOW)
    assert result.claims_in == 2 and result.scrubbed_out == 2
    assert result.scrub_reasons["prior_auth_missing"] == 2
    assert _status(engine, a, b) == ["scrub_failed", "scrub_failed"]
    assert _rules_held(engine, a) == {"prior_auth_missing"}
    build_worklist(engine, TODAY)
    held = _items(engine, "scrub_holds")
    assert [(i[0], i[2]) for i in held] == [(a, "open"), (b, "open")]

    # an authorization with one unit to spare that ends within the worklist's 14 days
    need = _lines(engine, a) + _lines(engine, b)
    with engine.connect() as conn:
        first = conn.execute(
            select(func.min(m.ServiceLine.service_date)).where(m.ServiceLine.claim_id.in_([a, b]))
        ).scalar_one()
    end = TODAY + dt.timedelta(days=10)
    _write_auth(engine, tmp_path, a, need + 1, first, end)
    _release(engine, a, b)

    result = generate_batches(engine, settings, run_id="night2", today=TODAY, now=NOW)
    assert result.scrubbed_out == 0 and result.claims_batched == 2
    assert _status(engine, a, b) == ["submitted", "submitted"]
    (written,) = result.files
    assert validate_x12(Path(written.path)).ok
    assert _g1_values(Path(written.path)) == ["AUTH-77", "AUTH-77"]
    with engine.connect() as conn:
        stored = set(
            conn.execute(select(m.Claim.prior_authorization).where(m.Claim.id.in_([a, b]))).scalars()
        )
    assert stored == {None}, "REF*G1 comes from the authorization; the claim row is not rewritten"

    usage = _usage(engine)
    assert len(usage) == need and {u[0] for u in usage} == {a, b} and sum(u[2] for u in usage) == need
    auth = _auth_row(engine)
    assert Decimal(str(auth.units_used)) == need and auth.status == "active"

    # the same claims checked again (a rerun of the check): each line is counted once, not twice
    with engine.connect() as conn:
        claims = list(load_claims(conn, [a, b], ReferenceData(conn)))
    assert check_authorizations(engine, claims, TODAY) == []
    assert _usage(engine) == usage
    assert Decimal(str(_auth_row(engine).units_used)) == need

    # worklist: the holds close, the expiring authorization opens an item due on its end date
    build_worklist(engine, TODAY)
    assert {i[2] for i in _items(engine, "scrub_holds")} == {"closed"}
    (item,) = _items(engine, "authorizations")
    assert item[0] == max(a, b) and item[1].endswith(":expiring") and item[2] == "open" and item[3] == end
    # with a shorter horizon the authorization is not "expiring" and the item closes
    build_worklist(engine, TODAY, config=WorklistConfig(auth_expiring_days=5))
    assert [i[2] for i in _items(engine, "authorizations")] == ["closed"]

    # a rejected claim gives its units back
    with engine.begin() as conn:
        conn.execute(update(m.Claim).where(m.Claim.id == a).values(status=m.ClaimStatus.REJECTED))
    (row,) = list_authorizations(engine, today=TODAY)
    assert row["units_used"] == _lines(engine, b) and row["units_left"] == need + 1 - _lines(engine, b)


def test_exhausted_authorization_holds_the_second_claim_and_opens_a_work_item(
    engine: Engine, tmp_path: Path
) -> None:
    a, b = _pair(engine)
    _write_rules(engine, tmp_path, a)
    _write_auth(
        engine, tmp_path, a, _lines(engine, a), TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=90)
    )
    settings = _settings(tmp_path)

    result = generate_batches(engine, settings, run_id="night1", today=TODAY, now=NOW)
    assert _status(engine, a, b) == ["submitted", "scrub_failed"]
    assert result.scrub_reasons == {"prior_auth_exhausted": 1}
    assert _rules_held(engine, b) == {"prior_auth_exhausted"}
    assert _auth_row(engine).status == "exhausted"

    build_worklist(engine, TODAY)
    (item,) = _items(engine, "authorizations")
    assert item[0] == a and item[1].endswith(":exhausted") and item[2] == "open"
    with engine.connect() as conn:
        amount = conn.execute(
            select(m.WorkItem.amount).where(m.WorkItem.queue == "authorizations")
        ).scalar_one()
        charge_b = conn.execute(select(m.Claim.total_charge).where(m.Claim.id == b)).scalar_one()
    assert amount == charge_b

    # the first claim is rejected: its units come back, the item closes, the held claim can go out
    with engine.begin() as conn:
        conn.execute(update(m.Claim).where(m.Claim.id == a).values(status=m.ClaimStatus.REJECTED))
    build_worklist(engine, TODAY)
    assert [i[2] for i in _items(engine, "authorizations")] == ["closed"]
    _release(engine, b)
    result = generate_batches(engine, settings, run_id="night2", today=TODAY, now=NOW)
    assert _status(engine, b) == ["submitted"] and result.scrubbed_out == 0
    assert {u[0] for u in _usage(engine)} == {a, b}
    assert Decimal(str(_auth_row(engine).units_used)) == _lines(engine, b)


def test_authorization_that_ended_before_the_service_holds_as_expired(engine: Engine, tmp_path: Path) -> None:
    a, b = _pair(engine)
    _write_rules(engine, tmp_path, a)
    with engine.connect() as conn:
        first = conn.execute(
            select(func.min(m.ServiceLine.service_date)).where(m.ServiceLine.claim_id.in_([a, b]))
        ).scalar_one()
    _write_auth(engine, tmp_path, a, 100, first - dt.timedelta(days=60), first - dt.timedelta(days=1))
    result = generate_batches(engine, _settings(tmp_path), run_id="n", today=TODAY, now=NOW)
    assert result.scrub_reasons == {"prior_auth_expired": 2}
    assert _auth_row(engine).status == "expired"
    assert _usage(engine) == []


def test_cli_import_errors_and_list(
    claimflow_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = claimflow_env
    a, _b = _pair(engine)
    payer, account = _keys(engine, a)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "auth_number,payer_id,patient_account,codes,units,start_date,end_date\n"
        f"A1,{payer},{account},97110-97140,12,2026-01-01,2026-12-31\n"
        f"A2,NOPAYER,{account},97110,12,2026-01-01,2026-12-31\n"
        f"A3,{payer},NOBODY,97110,12,2026-01-01,2026-12-31\n"
        f"A4,{payer},{account},97140-97110,12,2026-01-01,2026-12-31\n"
        f"A5,{payer},{account},97110,zero,2026-01-01,2026-12-31\n"
        f"A6,{payer},{account},97110,3,2026-02-30,2026-12-31\n"
    )
    assert main(["auth", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ")[2] for line in err] == ["row 3", "row 4", "row 5", "row 6", "row 7"]
    assert "payer_id" in err[0] and "patient_account" in err[1] and "backwards" in err[2]
    assert "units" in err[3] and "start_date" in err[4]
    assert "Traceback" not in "\n".join(err) and account not in "\n".join(err[1:2])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.PriorAuthorization)).scalar_one() == 0

    headless = tmp_path / "headless.csv"
    headless.write_text(f"{payer},97110\n")
    assert main(["auth", "import", "--rules", str(headless)]) == 2
    assert capsys.readouterr().err.strip() == (
        "claimflow auth import: headless.csv: header must have the columns payer_id, codes (missing: payer_id, codes)"
    )
    assert main(["auth", "import", str(tmp_path / "absent.csv")]) == 2
    assert capsys.readouterr().err.strip() == "claimflow auth import: absent.csv: no such file"

    good = tmp_path / "good.csv"
    soon = dt.date.today() + dt.timedelta(days=5)
    good.write_text(
        "auth_number,payer_id,patient_account,codes,units,start_date,end_date\n"
        f'A1,{payer},{account},"97110-97140, g0283",12,2026-01-01,{soon}\n'
        f"A2,{payer},{account},97150,4,2026-01-01,{soon + dt.timedelta(days=60)}\n"
    )
    rules = tmp_path / "rules.csv"
    rules.write_text(f"payer_id,codes\n{payer},97110-97150\n")
    assert main(["auth", "import", str(good), "--rules", str(rules)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["authorizations_added"] == 2 and out["rules"] == 1
    assert main(["auth", "import", str(good)]) == 0  # again: updated, not duplicated
    assert json.loads(capsys.readouterr().out)["authorizations_updated"] == 2

    assert main(["auth", "list", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["auth_number"] for r in rows] == ["A1", "A2"]
    assert set(rows[0]) == {
        "id", "auth_number", "payer", "patient", "codes", "units_authorized", "units_used", "units_left",
        "start_date", "end_date", "status",
    }  # fmt: skip
    assert rows[0]["codes"] == "97110-97140,G0283" and rows[0]["units_left"] == "12"
    assert rows[0]["payer"] == payer and rows[0]["end_date"] == soon.isoformat()
    assert main(["auth", "list", "--expiring", "30", "--format", "json"]) == 0
    assert [json.loads(line)["auth_number"] for line in capsys.readouterr().out.splitlines()] == ["A1"]
    assert main(["auth", "list", "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out.splitlines()
    assert csv_out[0].startswith("id,auth_number,payer,patient,codes") and len(csv_out) == 3
    with pytest.raises(SystemExit) as usage:
        main(["auth", "list", "--expiring", "-1"])
    assert usage.value.code == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "--expiring" in err_lines[0]


def test_a_claim_the_scrubber_holds_takes_no_units(engine: Engine, tmp_path: Path) -> None:
    a, b = _pair(engine)  # a < b: a is looked at first
    _write_rules(engine, tmp_path, a)
    _write_auth(
        engine, tmp_path, a, _lines(engine, b), TODAY - dt.timedelta(days=400), TODAY + dt.timedelta(days=90)
    )
    with engine.begin() as conn:  # a's lines no longer add up to its total: the scrubber holds it
        conn.execute(update(m.Claim).where(m.Claim.id == a).values(total_charge=m.Claim.total_charge + 1))
    result = generate_batches(engine, _settings(tmp_path), run_id="n", today=TODAY, now=NOW)
    assert _status(engine, a, b) == ["scrub_failed", "submitted"]
    assert result.scrub_reasons == {"charges_balance": 1}
    assert {u[0] for u in _usage(engine)} == {b}
    assert _auth_row(engine).status == "exhausted"
