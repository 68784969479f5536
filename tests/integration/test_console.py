"""The RCM console over HTTP (FastAPI TestClient) on SQLite and PostgreSQL: every page renders real data,
charts carry their numbers, the work-item actions are audited with the user's name and need the CSRF token,
claim search finds a claim and shows its timeline, a file's segments are shown with PHI masked, and inside
Airflow the console answers nobody that Airflow has not signed in."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from claimflow.console.app import CSRF_COOKIE, create_app
from claimflow.console.queries import denials, interchange, mask_segment, payer_stats
from claimflow.db import models as m
from tests.support.console import PHI, seed_console
from tests.unit.adjudication.worklist_builders import RUN


@pytest.fixture
def console(claimflow_env: Engine, tmp_path: Path) -> dict[str, object]:
    sc, file_id = seed_console(claimflow_env, tmp_path / "archive" / "claims.837")
    client = TestClient(create_app(claimflow_env, user="tester", data_dir=tmp_path))
    return {"engine": claimflow_env, "client": client, "file_id": file_id, "sc": sc}


def _csrf(client: TestClient, path: str) -> str:
    html = client.get(path).text
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None and client.cookies.get(CSRF_COOKIE) == token.group(1)
    return token.group(1)


def test_every_page_renders_real_data_without_phi(console: dict) -> None:
    client: TestClient = console["client"]  # type: ignore[assignment]
    engine: Engine = console["engine"]  # type: ignore[assignment]
    pages = {
        p: client.get(p)
        for p in (
            "/",
            "/work",
            "/work?status=all",
            "/claims",
            "/files",
            "/payers",
            f"/files/{console['file_id']}",
        )
    }
    assert {p: r.status_code for p, r in pages.items()} == dict.fromkeys(pages, 200)
    for p, r in pages.items():
        assert not any(v in r.text for v in PHI), p
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert '<a class="skip" href="#main">' in r.text and '<main id="main"' in r.text

    dash = pages["/"].text
    # Charts are SVG with a value per mark; the same numbers are in the <details> tables.
    for chart in ("chart-cash", "chart-aging-payer", "chart-aging-patient", "chart-denials", "chart-kpis"):
        assert f'id="{chart}"' in dash
    den = denials(engine)
    assert den and den[0]["code"] == "CO-50" and den[0]["payer"] == "SBX01"
    assert f'data-value="{den[0]["amount"]}"' in dash and f"${den[0]['amount']:,.2f}" in dash
    assert "medical necessity" in dash  # the denial category, in words
    cash = re.findall(
        r'<rect class="bar" data-value="([0-9.]+)"', dash.split('id="chart-cash"')[1].split("</svg>")[0]
    )
    with engine.connect() as conn:
        ledger_cash = [
            a for (a,) in conn.execute(select(m.LedgerEntry.amount).where(m.LedgerEntry.account == "cash"))
        ]
    assert sum(Decimal(c) for c in cash) == sum(ledger_cash, Decimal("0.00")) > 0
    assert RUN.isoformat() in dash and "<details" in dash

    work = pages["/work"].text
    expected = console["sc"].expected  # type: ignore[attr-defined]
    assert len(re.findall(r'<th scope="row"><a href="/work/\d+">', work)) == len(expected)
    assert f"{len(expected)} work items" in work
    denied = client.get("/work?queue=denials").text
    assert len(re.findall(r'href="/work/\d+"', denied)) == 1 and "CO-50" in denied

    stats = {p["payer"]: p for p in payer_stats(engine)}
    assert stats["SBX01"]["payments"] == 5 and stats["SBX01"]["denial_rate"] is not None
    assert "SBX01" in pages["/payers"].text


def test_file_segments_are_masked_by_element(console: dict) -> None:
    client: TestClient = console["client"]  # type: ignore[assignment]
    html = client.get(f"/files/{console['file_id']}").text
    assert not any(v in html for v in (*PHI, "ZZTOWN", "9 CLINIC RD"))
    # What is not PHI stays readable: the provider, its NPI, the claim id and the charge.
    for shown in ("SUNRISE FAMILY MEDICINE", "1234567893", "C0001A1", "125.00", "000000123"):
        assert shown in html
    assert html.count('class="el masked"') >= 10
    assert mask_segment(["NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", "W1"]) == [
        "NM1",
        "IL",
        "1",
        "***",
        "***",
        "",
        "",
        "",
        "MI",
        "***",
    ]
    assert mask_segment(["NM1", "PR", "2", "ACME", "", "", "", "", "PI", "SBX01"])[3] == "ACME"
    assert client.get("/files/999999").status_code == 404
    page = interchange(console["engine"], console["file_id"], start=5, max_segments=4)  # type: ignore[arg-type]
    assert [s["n"] for s in page["segments"]] == [5, 6, 7, 8] and page["segment_count"] == 15
    assert (page["previous"], page["next"]) == (1, 9)
    assert page["segments"][2]["elements"] == ["NM1", "IL", "1", "***", "***", "", "", "", "MI", "***"]


def test_work_item_actions_are_audited_with_the_user_and_need_the_csrf_token(console: dict) -> None:
    client: TestClient = console["client"]  # type: ignore[assignment]
    engine: Engine = console["engine"]  # type: ignore[assignment]
    with engine.connect() as conn:
        item = conn.execute(select(m.WorkItem.id).where(m.WorkItem.queue == "denials")).scalar_one()
    token = _csrf(client, f"/work/{item}")

    refused = client.post(
        f"/work/{item}/assign", data={"to": "ana", "csrf": "forged"}, follow_redirects=False
    )
    assert refused.status_code == 403
    r = client.post(f"/work/{item}/assign", data={"to": "ana", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/work/{item}"
    assert (
        client.post(
            f"/work/{item}/note", data={"text": "payer wants records", "csrf": token}, follow_redirects=False
        ).status_code
        == 303
    )
    empty = client.post(f"/work/{item}/note", data={"text": "  ", "csrf": token}, follow_redirects=False)
    assert empty.headers["location"] == f"/work/{item}?error=text"
    page = client.get(f"/work/{item}").text
    assert "payer wants records" in page and "in progress" in page and "A note needs text." not in page
    assert (
        client.post(
            f"/work/{item}/close", data={"why": "appeal won", "csrf": token}, follow_redirects=False
        ).status_code
        == 303
    )
    again = client.post(f"/work/{item}/close", data={"why": "twice", "csrf": token}, follow_redirects=False)
    assert again.headers["location"] == f"/work/{item}?error=closed"
    assert "This work item is closed." in client.get(again.headers["location"]).text

    with engine.connect() as conn:
        row = conn.execute(
            select(m.WorkItem.status, m.WorkItem.assignee, m.WorkItem.resolution).where(m.WorkItem.id == item)
        ).one()
        audits = conn.execute(
            select(m.AuditLog.action, m.AuditLog.actor, m.AuditLog.detail)
            .where(m.AuditLog.object_type == "work_item")
            .order_by(m.AuditLog.id)
        ).all()
        events = conn.execute(
            select(m.WorkItemEvent.kind, m.WorkItemEvent.actor)
            .where(m.WorkItemEvent.work_item_id == item, m.WorkItemEvent.actor.like("console:%"))
            .order_by(m.WorkItemEvent.id)
        ).all()
    assert tuple(row) == ("closed", "ana", "closed")
    assert [(a, actor) for a, actor, _ in audits] == [
        ("work_item_assign", "console:tester"),
        ("work_item_note", "console:tester"),
        ("work_item_close", "console:tester"),
    ]
    assert "payer wants records" not in str([d for _, _, d in audits])  # note text stays out of the audit log
    assert [k for k, _ in events] == ["assigned", "note", "closed"]
    assert "closed" in client.get("/work?status=closed").text


def test_claim_search_and_timeline(console: dict) -> None:
    client: TestClient = console["client"]  # type: ignore[assignment]
    sc = console["sc"]
    denied = sc.claims["denied"]  # type: ignore[attr-defined]
    token = _csrf(client, "/claims")
    r = client.post("/claims", data={"q": denied.claim_number, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{denied.id}"
    page = client.get(r.headers["location"]).text
    assert denied.claim_number in page and "A0000002" in page
    for kind in ("created", "submitted", "denied", "work item"):
        assert f'<span class="kind">{kind}</span>' in page
    assert not any(v in page for v in PHI)
    none = client.post("/claims", data={"q": "NOSUCHCLAIM", "csrf": token})
    assert none.status_code == 200 and "No claim answers to that number." in none.text
    assert client.post("/claims", data={"q": denied.claim_number}, follow_redirects=False).status_code == 403
    assert client.get("/claims/999999").status_code == 404


def test_inside_airflow_the_console_needs_an_airflow_user(console: dict) -> None:
    from claimflow.console import plugin

    parent = FastAPI()
    parent.mount(plugin.URL_PREFIX, create_app(console["engine"], user=plugin.airflow_user))  # type: ignore[arg-type]
    anonymous = TestClient(parent)
    for path in ("/claimflow/", "/claimflow/work", "/claimflow/files"):
        r = anonymous.get(path)
        assert r.status_code == 401 and "SBX01" not in r.text
    assert plugin.ClaimflowConsolePlugin.fastapi_apps[0]["url_prefix"] == "/claimflow"
    view = plugin.ClaimflowConsolePlugin.external_views[0]
    assert view["href"] == "/claimflow/" and view["destination"] == "nav"

    class User:
        def get_name(self) -> str:
            return "airflow-admin"

        def get_id(self) -> str:
            return "1"

    from airflow.api_fastapi.core_api.security import get_user

    signed_in_app = create_app(console["engine"], user=plugin.airflow_user)  # type: ignore[arg-type]
    signed_in_app.dependency_overrides[get_user] = lambda: User()
    parent2 = FastAPI()
    parent2.mount(plugin.URL_PREFIX, signed_in_app)
    client = TestClient(parent2)
    page = client.get("/claimflow/work").text
    assert (
        "airflow-admin" in page
        and 'href="/claimflow/work/' in page
        and 'href="/claimflow/static/console.css"' in page
    )


def test_console_command_serves_the_app(claimflow_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from claimflow.cli import main

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    assert main(["console", "--port", "8799", "--user", "dana"]) == 0
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8799)
    r = TestClient(seen["app"]).get("/work")  # type: ignore[arg-type]
    assert r.status_code == 200 and "Signed in as <strong>dana</strong>" in r.text
