"""The console inside Airflow's own API server (``airflow.api_fastapi.app.create_app``, simple auth manager):
the plugin is found in ``plugins/``, mounted at ``/claimflow``, answers 401 to anyone Airflow has not signed
in, and for a signed-in user (JWT as bearer token or as the UI's ``_token`` cookie) shows the pages and
audits a work-item action with the Airflow user's name — against a SQLite and a PostgreSQL claimflow
database in one Airflow process.

Airflow reads its configuration once per process, so the Airflow side runs in a child process with its own
``AIRFLOW_HOME`` (metadata database migrated there); the parent prepares and inspects the claimflow data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adjudication.worklist import build_worklist
from claimflow.db import models as m
from tests.unit.adjudication.worklist_builders import RUN, every_source

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import glob, json, os, re, sys
from airflow.utils import db as airflow_db
airflow_db.initdb()
from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient
from claimflow.settings import reset_settings_cache

client = TestClient(create_app())
out = {"anonymous": [client.get(p).status_code for p in ("/claimflow/", "/claimflow/work", "/claimflow/files")]}
home = os.environ["AIRFLOW_HOME"]
passwords = json.load(open(glob.glob(home + "/simple_auth_manager_passwords.json*")[0]))
token = client.post("/auth/token", json={"username": "admin", "password": passwords["admin"]}).json()["access_token"]
os.environ["CLAIMFLOW_DATABASE_URL"] = sys.argv[1]
reset_settings_cache()
bearer = client.get("/claimflow/", headers={"Authorization": "Bearer " + token})
out["bearer"] = [bearer.status_code, "Signed in as <strong>admin</strong>" in bearer.text]
client.cookies.set("_token", token)
out["runs"] = []
for url in sys.argv[1:]:
    os.environ["CLAIMFLOW_DATABASE_URL"] = url
    reset_settings_cache()
    page = client.get("/claimflow/work?queue=denials")
    item = int(re.search(r'href="/claimflow/work/(\d+)"', page.text).group(1))
    form = client.get(f"/claimflow/work/{item}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    posted = client.post(f"/claimflow/work/{item}/assign", data={"to": "ana", "csrf": csrf}, follow_redirects=False)
    out["runs"].append({"status": page.status_code, "admin": "Signed in as <strong>admin</strong>" in page.text,
                        "item": item, "post": posted.status_code, "location": posted.headers.get("location")})
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_airflow_api_server_mounts_the_console_behind_its_login(
    sqlite_engine: Engine, pg_engine: Engine, tmp_path: Path
) -> None:
    engines = [sqlite_engine, pg_engine]
    for engine in engines:
        every_source(engine)
        build_worklist(engine, RUN)
    home = tmp_path / "airflow"
    home.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "CLAIMFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    urls = [e.url.render_as_string(hide_password=False) for e in engines]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *urls], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    out = json.loads(line.removeprefix("RESULT "))
    assert out["anonymous"] == [401, 401, 401]
    assert out["bearer"] == [200, True]
    assert len(out["runs"]) == 2
    for engine, run in zip(engines, out["runs"], strict=True):
        assert run["status"] == 200 and run["admin"] and run["post"] == 303
        assert run["location"] == f"/claimflow/work/{run['item']}"
        with engine.connect() as conn:
            audit = conn.execute(
                select(m.AuditLog.action, m.AuditLog.actor).where(
                    m.AuditLog.object_type == "work_item", m.AuditLog.object_id == str(run["item"])
                )
            ).all()
            assignee = conn.execute(
                select(m.WorkItem.assignee).where(m.WorkItem.id == run["item"])
            ).scalar_one()
        assert [tuple(a) for a in audit] == [("work_item_assign", "console:admin")]
        assert assignee == "ana"
