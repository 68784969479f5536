"""PHI at rest is private: umask 077, data folders 0700, the SQLite database and its companions 0600."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from claimflow.db.at_rest import ensure_private_dir, private_umask, tighten_file
from claimflow.db.session import make_engine, sqlite_file, sqlite_files
from claimflow.settings import Settings, prepare_data_dirs, reset_settings_cache

REPO = Path(__file__).resolve().parents[4]
DATA_FOLDERS = ("", "outbox", "inbox", "archive", "quarantine", "reports")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Run as a careless shell would (umask 022), and give the test process its umask back afterwards."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_private_umask_sets_077_and_returns_the_previous(loose_umask: None) -> None:
    previous = private_umask()
    try:
        assert previous == 0o022
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(previous)
    os.umask(0o277)
    private_umask()
    assert os.umask(0o022) == 0o277  # a stricter umask is kept, never loosened


def test_ensure_private_dir_creates_0700_with_parents(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "a" / "b" / "c"
    ensure_private_dir(target)
    for p in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode(p) == 0o700, p


def test_open_folder_and_file_are_tightened_with_a_log_line(
    tmp_path: Path, loose_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "archive"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    secret = folder / "x.835"
    secret.write_text("ISA*00~")
    os.chmod(secret, 0o644)
    with caplog.at_level(logging.WARNING, logger="claimflow.db.at_rest"):
        ensure_private_dir(folder)
        assert tighten_file(secret) is True
    assert mode(folder) == 0o700 and mode(secret) == 0o600
    messages = [r.getMessage() for r in caplog.records]
    assert any(str(folder) in m and "755" in m for m in messages), messages
    assert any(str(secret) in m and "644" in m for m in messages), messages
    caplog.clear()
    ensure_private_dir(folder)  # already private: nothing to say
    assert tighten_file(secret) is False and not caplog.records


def test_prepare_data_dirs_covers_every_phi_folder(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "inbox", 0o777)
    settings = Settings(data_dir=data)
    made = prepare_data_dirs(settings)
    assert set(made) == {data / sub if sub else data for sub in DATA_FOLDERS}
    for p in made:
        assert mode(p) == 0o700, p


def test_sqlite_url_to_file() -> None:
    assert sqlite_file("sqlite:///./claimflow.db") == Path("./claimflow.db")
    assert sqlite_file("sqlite:////var/lib/cf/claimflow.db") == Path("/var/lib/cf/claimflow.db")
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@h/db") is None


def test_new_sqlite_database_and_companions_are_0600(tmp_path: Path, loose_umask: None) -> None:
    db = tmp_path / "claimflow.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        present = [p for p in sqlite_files(db) if p.exists()]
        assert db in present and db.with_name("claimflow.db-wal") in present
        for p in present:
            assert mode(p) == 0o600, p
    finally:
        engine.dispose()


def test_existing_world_readable_sqlite_database_is_tightened(tmp_path: Path, loose_umask: None) -> None:
    db = tmp_path / "old.db"
    first = make_engine(f"sqlite:///{db}")
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    first.dispose()
    for p in sqlite_files(db):
        if p.exists():
            os.chmod(p, 0o644)  # as an older release (or cp) left it
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        for p in sqlite_files(db):
            if p.exists():
                assert mode(p) == 0o600, p
    finally:
        engine.dispose()


def test_cli_run_leaves_everything_private(
    claimflow_env: Engine, tmp_path: Path, loose_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """init-db, seed and generate-837 in process (both backends): data folders 0700, 837s and the SQLite
    database 0600 — and the caller's umask is given back."""
    from claimflow.cli import main

    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # an open data folder from before: tightened
    os.chmod(data, 0o755)
    assert main(["init-db"]) == 0
    assert main(["seed", "--patients", "20", "--claims", "40", "--seed", "3"]) == 0
    assert main(["generate-837"]) == 0
    capsys.readouterr()
    assert os.umask(0o022) == 0o022  # main() restored it
    for sub in DATA_FOLDERS:
        assert mode(data / sub) == 0o700, sub
    written = sorted((data / "outbox").rglob("*"))
    files = [p for p in written if p.is_file()]
    assert files, "generate-837 wrote no files"
    for p in written:
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    path = sqlite_file(claimflow_env.url.render_as_string(hide_password=False))
    if path is not None:
        for p in sqlite_files(path):
            if p.exists():
                assert mode(p) == 0o600, p


def test_real_cli_process_creates_a_private_database(tmp_path: Path, loose_umask: None) -> None:
    """``claimflow init-db`` as its own process, started from a umask 022 shell, on a fresh SQLite file."""
    work = tmp_path / "site"
    work.mkdir()
    env = {
        **os.environ,
        "CLAIMFLOW_DATABASE_URL": f"sqlite:///{work / 'claimflow.db'}",
        "CLAIMFLOW_DATA_DIR": str(work / "claimflow-data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "claimflow.cli", "init-db"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "database ready at revision" in done.stdout
    db = work / "claimflow.db"
    assert mode(db) == 0o600
    for p in sqlite_files(db):
        if p.exists():
            assert mode(p) == 0o600, p
    for sub in DATA_FOLDERS:
        assert mode(work / "claimflow-data" / sub) == 0o700, sub


def test_dag_tasks_start_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None) -> None:
    """Every task runs dags.common.private_files first (default_args' on_execute_callback)."""
    from dags import common

    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    try:
        assert common.default_args()["on_execute_callback"] is common.private_files
        common.private_files({})
        assert os.umask(0o022) == 0o077
        for sub in DATA_FOLDERS:
            assert mode(tmp_path / "data" / sub) == 0o700, sub
    finally:
        reset_settings_cache()


class _Stop(Exception):
    pass


def test_demo_workdir_is_private(tmp_path: Path, loose_umask: None) -> None:
    """The demo's first steps (fresh workdir, data folders, migrated + seeded SQLite) on an open
    workdir, stopped right after seeding: the costly Airflow part is not needed to check the modes."""
    from claimflow.sandbox.demo import run_two_nights

    workdir = tmp_path / "claimflow-demo"
    workdir.mkdir(mode=0o755)
    os.chmod(workdir, 0o755)
    saved_env = dict(os.environ)

    def stop(engine: Engine) -> None:
        engine.dispose()
        raise _Stop

    try:
        with pytest.raises(_Stop):
            run_two_nights(
                workdir,
                database_url=f"sqlite:///{workdir / 'claimflow.db'}",
                make_clearinghouse=lambda wd: None,
                patients=5,
                claims=5,
                seed=1,
                progress=lambda _msg: None,
                after_seed=stop,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        reset_settings_cache()
    assert os.umask(0o022) == 0o022  # the demo gave the umask back
    assert mode(workdir) == 0o700
    for p in sorted(workdir.rglob("*")):
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    for sub in DATA_FOLDERS:
        assert mode(workdir / "data" / sub) == 0o700, sub
    assert mode(workdir / "claimflow.db") == 0o600
