"""README "Watching the DAGs in the Airflow UI", step by step, with dag.test() standing in for the
scheduler: a fresh database with ready claims, `claimflow sandbox serve --payer --env-file`, the connection
from that file, claims_submission sends, clearinghouse_inbox collects the answers, nightly_reconciliation
posts them. And the mistake the old README led to (a key the sandbox does not authorize) fails once, with
the one-line explanation, and is not retried."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = (REPO / "README.md").read_text()


def _section() -> str:
    start = README.index("## Watching the DAGs in the Airflow UI")
    return README[start : README.index("\n## ", start + 5)]


def _env_file_vars(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        out[name] = shlex.split(value)[0]
    return out


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    from claimflow.sandbox.demo import _airflow_migrate

    ui = tmp_path_factory.mktemp("clone") / "claimflow-ui"
    ui.mkdir(mode=0o700)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMFLOW_", "AIRFLOW"))}
    env = {
        **base,
        "AIRFLOW_HOME": str(ui / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CLAIMFLOW_DATABASE_URL": f"sqlite:///{ui / 'claimflow.db'}",
        "CLAIMFLOW_DATA_DIR": str(ui / "data"),
        # dag.test() only (Airflow 3.3 cannot finish a dag.test run carrying a deadline alert); quick retries
        "CLAIMFLOW_NIGHTLY_DEADLINE_HOURS": "0",
        "CLAIMFLOW_RETRY_DELAY_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }

    def claimflow(*args: str) -> str:
        r = subprocess.run(
            [str(BIN / "claimflow"), *args],
            env=env,
            cwd=ui.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    claimflow("init-db")
    claimflow("seed", "--patients", "40", "--claims", "80")
    env_file = ui / "airflow-conn.env"
    serve = subprocess.Popen(
        [
            str(BIN / "claimflow"),
            "sandbox",
            "serve",
            "--root",
            str(ui / "sandbox"),
            "--port",
            "0",
            "--user",
            "sandbox",
            "--payer",
            "--env-file",
            str(env_file),
        ],
        env=env,
        cwd=ui.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists():
            assert serve.poll() is None and time.monotonic() < deadline, "sandbox serve did not start"
            time.sleep(0.2)
        env.update(_env_file_vars(env_file))
        with (
            _own_environment()
        ):  # _airflow_migrate merges os.environ under env: another test's AIRFLOW_* stays out
            _airflow_migrate(env, ui / "airflow-migrate.log")
        subprocess.run(
            [str(BIN / "airflow"), "pools", "set", "sftp_sandbox", "2", "SFTP sessions to the sandbox"],
            env=env,
            capture_output=True,
            check=True,
            timeout=300,
        )
        yield {"ui": ui, "env": env, "serve": serve}
    finally:
        serve.terminate()
        serve.wait(30)


def _run(dag_id: str, env: dict[str, str], log: Path) -> dict:  # type: ignore[type-arg]
    from claimflow.sandbox.demo import run_dag

    env_only = {k: v for k, v in env.items() if k.startswith(("CLAIMFLOW", "AIRFLOW", "PYTHON"))}
    with _own_environment():  # run_dag merges os.environ under env
        return run_dag(dag_id, dt.date.today(), env_only, log)


@contextlib.contextmanager
def _own_environment() -> Iterator[None]:
    """Keep the test process's own CLAIMFLOW_/AIRFLOW settings (other tests in this process set some) out of
    the commands the walkthrough runs, as on a fresh shell."""
    saved = dict(os.environ)
    try:
        for k in [k for k in os.environ if k.startswith(("CLAIMFLOW_", "AIRFLOW"))]:
            del os.environ[k]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_readme_section_names_what_works() -> None:
    text = _section()
    for needed in (
        "claimflow init-db",
        "claimflow seed",
        "--user sandbox",
        "--payer",
        "--env-file",
        "airflow pools set sftp_sandbox",
        "airflow standalone",
        "simple_auth_manager_passwords.json.generated",
    ):
        assert needed in text, needed
    assert "claimflow-demo/keys/claimflow_ed25519" not in text


def test_the_walkthrough_sends_collects_and_posts(walkthrough: dict) -> None:  # type: ignore[type-arg]
    from sqlalchemy import create_engine, text

    ui, env = walkthrough["ui"], walkthrough["env"]
    assert isinstance(ui, Path) and isinstance(env, dict)
    sent = _run("claims_submission", env, ui / "claims_submission.log")
    assert sent["state"] == "success", sent
    engine = create_engine(env["CLAIMFLOW_DATABASE_URL"])
    with engine.connect() as conn:
        uploaded = conn.execute(
            text("SELECT COUNT(*) FROM interchanges WHERE direction = 'out' AND status = 'uploaded'")
        ).scalar_one()
    assert uploaded > 0
    time.sleep(3)  # the payer answers each upload as it lands
    inbox = _run("clearinghouse_inbox", env, ui / "clearinghouse_inbox.log")
    assert inbox["state"] == "success", inbox
    nightly = _run("nightly_reconciliation", env, ui / "nightly_reconciliation.log")
    assert nightly["tasks"].get("post_remittances") == "success", nightly
    with engine.connect() as conn:
        inbound = conn.execute(text("SELECT COUNT(*) FROM interchanges WHERE direction = 'in'")).scalar_one()
        paid = conn.execute(text("SELECT COUNT(*) FROM claim_payments")).scalar_one()
    assert inbound > 0 and paid > 0


def test_a_key_the_sandbox_does_not_authorize_fails_once_with_one_line(walkthrough: dict) -> None:  # type: ignore[type-arg]
    import json

    from sftp.keys import generate_ed25519

    ui, env = walkthrough["ui"], dict(walkthrough["env"])  # type: ignore[call-overload]
    other = generate_ed25519(ui / "other_ed25519", comment="not-registered")
    conn = json.loads(env["AIRFLOW_CONN_CLAIMFLOW_SANDBOX"])
    conn["extra"]["key_file"] = str(other.private_path)  # what the old README configured
    env["AIRFLOW_CONN_CLAIMFLOW_SANDBOX"] = json.dumps(conn)
    log = ui / "wrong-key.log"
    result = _run("clearinghouse_inbox", env, log)
    # the run itself ends "success": summarize runs all_done and is the DAG's leaf; the task failed
    assert result["tasks"]["fetch_new_files"] == "failed", result
    assert result["tasks"]["load_file"] == "upstream_failed", result
    text = log.read_text("utf-8", "replace")
    explained = [
        line
        for line in text.splitlines()
        if "claimflow: 'collect files from the clearinghouse' failed" in line
    ]
    assert explained and "refused our key" in explained[0], text[-3000:]
    assert "AuthenticationFailed" in text
    assert "action=fail" in text and "not retried" in text  # the retry policy's decision, by type
    assert not re.search(r"up_for_retry|UP_FOR_RETRY", text), "an authentication failure is not retried"
