"""Every CLI mistake a billing manager or on-call engineer makes ends in one line on stderr, no traceback,
and the documented exit code (2 bad input / usage / configuration, 1 the command ran and found problems).
Each case is a real ``claimflow`` process, in a folder of its own, so nothing is created by accident."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import databases as dbs

CLAIMFLOW = Path(sys.executable).with_name("claimflow")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMFLOW_", "AIRFLOW"))}
    return subprocess.run(
        [str(CLAIMFLOW), *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line(
    result: subprocess.CompletedProcess[str], code: int, *fragments: str, prefix: str = "claimflow"
) -> str:
    err = result.stderr
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert result.returncode == code, (result.returncode, err)
    assert lines[0].startswith(prefix), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    d = tmp_path / "elsewhere"
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def initialised_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("db")
    url = f"sqlite:///{d / 'claimflow.db'}"
    result = run(["init-db"], d, CLAIMFLOW_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    return url


@pytest.fixture(scope="module")
def uninitialised_pg() -> Iterator[str]:
    dbs.require_pg()
    url = dbs.create_pg_database("cf_uninit")
    yield url
    dbs.drop_pg_database(url)


USAGE_MISTAKES = [
    (["reconcile", "--run-date", "2026-13-45"], "--run-date", "2026-13-45"),
    (["post", "--run-date", "yesterday"], "--run-date", "YYYY-MM-DD"),
    (["nightly", "--run-date", "2026-02-30"], "--run-date", "2026-02-30"),
    (["seed", "--as-of", "2026-02-30"], "--as-of", "2026-02-30"),
    (["seed", "--patients", "-5"], "--patients", "at least 1"),
    (["seed", "--claims", "many"], "--claims", "whole number"),
    (["reconcile", "--format", "xml"], "--format", "invalid choice"),
    (["frobnicate"], "invalid choice", "frobnicate"),
    (["payments"], "required", ""),
    (["load"], "FILE", ""),
    (["validate", "missing.x12"], "missing.x12: no such file", ""),
    (["sandbox", "adjudicate", "--out", "resp"], "give at least one", ""),
]


@pytest.mark.parametrize(("args", "a", "b"), USAGE_MISTAKES, ids=[" ".join(m[0]) for m in USAGE_MISTAKES])
def test_usage_mistakes_are_one_line_exit_2(args: list[str], a: str, b: str, empty_dir: Path) -> None:
    assert_one_line(run(args, empty_dir), 2, a, b)
    assert list(empty_dir.iterdir()) == [], "a usage error must not create anything"


@pytest.mark.parametrize(
    "args",
    [
        ["reconcile"],
        ["load", "x.835"],
        ["payments", "import", "p.csv"],
        ["acks", "apply"],
        ["post"],
        ["report"],
        ["nightly"],
        ["seed"],
        ["generate-837"],
        ["worklist"],
    ],
)
def test_the_wrong_folder_never_creates_a_database(args: list[str], empty_dir: Path) -> None:
    line = assert_one_line(
        run(args, empty_dir), 2, "no claimflow database at", "claimflow init-db", "CLAIMFLOW_DATABASE_URL"
    )
    assert str(empty_dir / "claimflow.db") in line
    assert list(empty_dir.iterdir()) == [], "neither claimflow.db nor claimflow-data may appear"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("postgres://claimflow@127.0.0.1:5432/claimflow", "postgresql+psycopg://"),
        ("not a url at all", "not a database URL"),
        ("mysql://claimflow@127.0.0.1/claimflow", "supports sqlite and postgresql"),
    ],
)
def test_bad_database_urls_are_configuration_errors(url: str, fragment: str, empty_dir: Path) -> None:
    line = assert_one_line(run(["reconcile"], empty_dir, CLAIMFLOW_DATABASE_URL=url), 2, fragment)
    assert "claimflow@" not in line or url.startswith("postgres:"), "the URL itself is not repeated"


def test_a_password_in_the_url_is_never_printed(empty_dir: Path) -> None:
    url = "postgresql+psycopg://claimflow:s3cret-pw@127.0.0.1:1/claimflow"
    line = assert_one_line(
        run(["reconcile"], empty_dir, CLAIMFLOW_DATABASE_URL=url), 1, "cannot use the database"
    )
    assert "s3cret-pw" not in line


def test_unreachable_and_missing_postgresql_databases(empty_dir: Path) -> None:
    refused = "postgresql+psycopg://postgres@127.0.0.1:1/claimflow"
    assert_one_line(
        run(["post"], empty_dir, CLAIMFLOW_DATABASE_URL=refused),
        1,
        "cannot use the database",
        "Connection refused",
    )
    missing = dbs.PG_ADMIN_URL.rsplit("/", 1)[0] + "/cf_never_created_db"
    assert_one_line(
        run(["post"], empty_dir, CLAIMFLOW_DATABASE_URL=missing), 1, "cf_never_created_db", "does not exist"
    )


def test_debug_shows_the_traceback(empty_dir: Path) -> None:
    refused = "postgresql+psycopg://postgres@127.0.0.1:1/claimflow"
    result = run(["post"], empty_dir, CLAIMFLOW_DATABASE_URL=refused, CLAIMFLOW_DEBUG="1")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_uninitialised_databases_ask_for_init_db(empty_dir: Path, uninitialised_pg: str) -> None:
    path = empty_dir / "other.db"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something_else (a INTEGER)")
    for url in (f"sqlite:///{path}", uninitialised_pg):
        assert_one_line(
            run(["nightly"], empty_dir, CLAIMFLOW_DATABASE_URL=url),
            2,
            "is not initialised",
            "claimflow init-db",
        )
    assert not (empty_dir / "claimflow-data").exists()


def test_mistakes_against_an_initialised_database(initialised_sqlite: str, empty_dir: Path) -> None:
    env = {"CLAIMFLOW_DATABASE_URL": initialised_sqlite, "CLAIMFLOW_DATA_DIR": str(empty_dir / "data")}
    assert_one_line(run(["payments", "import", "nope.csv"], empty_dir, **env), 2, "nope.csv: no such file")
    # load reports per file (the other files still load): the line starts with the file's name
    assert_one_line(run(["load", "nope.835"], empty_dir, **env), 2, "no such file", prefix="nope.835: ")
    assert_one_line(run(["db", "grant-analyst", "analysts"], empty_dir, **env), 2, "grant-analyst")
    assert_one_line(
        run(["init-db"], empty_dir, CLAIMFLOW_DATABASE_URL=f"sqlite:///{empty_dir}/no/such/dir/x.db"),
        2,
        "does not exist",
    )


def test_unexpected_errors_name_the_class_only() -> None:
    from claimflow.cli import explain

    code, message = explain(RuntimeError("Jane Doe 1970-01-01 MEMBER123"))
    assert code == 1
    assert message == "unexpected RuntimeError; run with CLAIMFLOW_DEBUG=1 for the traceback"


def test_version_and_help_on_every_option(empty_dir: Path) -> None:
    from claimflow.cli import build_parser

    result = run(["--version"], empty_dir)
    assert result.returncode == 0 and result.stdout.startswith("claimflow ")

    def walk(parser, path):  # type: ignore[no-untyped-def]
        import argparse

        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from walk(child, [*path, name])
            elif not isinstance(action, argparse._HelpAction):
                yield path, action

    missing = [(" ".join(p), a.dest) for p, a in walk(build_parser(), []) if not a.help]
    mine = {
        "init-db",
        "seed",
        "generate-837",
        "validate",
        "parse",
        "load",
        "payments import",
        "acks apply",
        "post",
        "reconcile",
        "report",
        "nightly",
        "db grant-analyst",
        "demo",
    }
    assert [m for m in missing if m[0] in mine or m[0] == ""] == []


def test_progress_is_drawn_only_on_a_terminal() -> None:
    import io

    from claimflow.services.progress import Bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe, tty = io.StringIO(), Terminal()
    for stream in (pipe, tty):
        with Bar("validating", total=3, stream=stream) as bar:
            for _ in range(3):
                bar.step()
    assert pipe.getvalue() == ""
    drawn = tty.getvalue()
    assert "validating [" in drawn and "3/3" in drawn and drawn.endswith("\r\033[K")
