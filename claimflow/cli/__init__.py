"""``claimflow`` command line. The command names, options and output keys are a contract: scripts and
other tools rely on them.

Start-up is kept light: ``claimflow parse`` is dispatched before anything heavy (SQLAlchemy, pandas,
pydantic, Airflow) is imported, and every other command imports what it needs inside its handler.

Exit codes: 0 success, 1 the command ran and found problems (e.g. invalid files, data-quality problems,
a database that cannot be reached), 2 bad input, usage or configuration.

Errors are one line on stderr, never a traceback: :func:`main` is the one error boundary. It maps the
project's typed exceptions (``edi.errors``, ``sftp.errors``, ``adjudication.errors``,
``claimflow.errors``) and SQLAlchemy's database-URL / connection errors to ``claimflow COMMAND: message``;
anything else becomes one line naming the exception class (``CLAIMFLOW_DEBUG=1`` shows the traceback).
Messages never quote patient data: the typed exceptions already name files, segment numbers and ids only,
and an unexpected exception's text is not printed at all.

Commands other than ``init-db`` and ``demo`` (and the file-only ones: ``parse``, ``validate``,
``sandbox``, ``sftp``) never create a database: a missing SQLite file or a database without claimflow's
tables is one line asking for ``claimflow init-db``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

Handler = Callable[[argparse.Namespace], int]

FORMATS = ("json", "table", "csv")


def _print_json(obj: object) -> None:
    print(json.dumps(obj, default=str, sort_keys=False))


def _cell(value: object) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def _emit(obj: dict[str, Any] | list[dict[str, Any]], fmt: str = "json") -> None:
    """Print a result: ``json`` (one line, the contract), ``table`` (aligned, for people) or ``csv``.
    A dict is one row (its keys are the columns; ``table`` shows it as key/value lines)."""
    if fmt == "json":
        _print_json(obj)
        return
    rows = obj if isinstance(obj, list) else [obj]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([_cell(row.get(c)) for c in columns])
        sys.stdout.write(buf.getvalue())
        return
    if isinstance(obj, dict):
        width = max((len(k) for k in obj), default=0)
        for k, v in obj.items():
            print(f"{k:<{width}}  {_cell(v)}")
        return
    table = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


# --------------------------------------------------------------------------------------------------
# argument types: a bad value is a usage error (exit 2, one line), never a traceback from the handler
# --------------------------------------------------------------------------------------------------


def _date(value: str) -> str:
    """``YYYY-MM-DD``, checked here (2026-13-45 and 2026-02-30 are refused); kept as the ISO string."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


def _count(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n

    parse.__name__ = "count"
    return parse


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (``claimflow seed: argument --patients: …; see --help``), exit 2.
    Subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="output: json (one line, the default and the scripting contract), table or csv",
    )


# --------------------------------------------------------------------------------------------------
# handlers (heavy imports stay inside)
# --------------------------------------------------------------------------------------------------


def cmd_init_db(args: argparse.Namespace) -> int:
    from claimflow.db.migrate import current_revision, upgrade
    from claimflow.settings import get_settings

    url = get_settings().database_url
    _check_url(url)
    path = _sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise _usage(f"folder {path.parent} does not exist (CLAIMFLOW_DATABASE_URL points into it)")
    upgrade(url)
    print(f"database ready at revision {current_revision(url)} ({_redact(url)})")
    return 0


def _redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _usage(message: str) -> Exception:
    from claimflow.errors import UsageError

    return UsageError(message)


def cmd_seed(args: argparse.Namespace) -> int:
    import datetime as dt

    from claimflow.db.session import get_engine
    from claimflow.sandbox.seed import SeedRefused, seed_practice
    from claimflow.services.progress import working

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    try:
        with working(f"seeding {args.patients} patients, {args.claims} claims"):
            summary = seed_practice(
                get_engine(),
                patients=args.patients,
                claims=args.claims,
                seed=args.seed,
                as_of=as_of,
                replace=args.replace,
            )
    except SeedRefused as exc:
        print(f"claimflow seed: {exc} (use --replace to wipe practice data)", file=sys.stderr)
        return 2
    _emit(summary.as_dict(), args.format)
    return 0


def cmd_generate_837(args: argparse.Namespace) -> int:
    from claimflow.services.outbound import generate_batches
    from claimflow.services.progress import working

    with working("scrubbing ready claims and writing 837 files"):
        result = generate_batches(out_dir=Path(args.out) if args.out else None, run_id="cli:generate-837")
    for line in result.report_lines():
        print(line)
    _print_json(result.as_dict())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from claimflow.services.progress import Bar
    from edi.validate import format_report, validate_x12

    for name in args.files:  # every path checked before the (slow) validation starts
        if not Path(name).is_file():
            raise _usage(
                f"{name}: no such file" if not Path(name).exists() else f"{name}: not a regular file"
            )
    bad = 0
    with Bar("validating", total=len(args.files)) as bar:
        for name in args.files:
            report = validate_x12(Path(name), engine=args.engine)
            if report.ok:
                bar.echo(f"{name}: valid")
            else:
                bad += 1
                for line in format_report(report, name):
                    bar.echo(line)
            bar.step()
    print(f"{len(args.files) - bad} valid, {bad} with errors")
    return 0 if bad == 0 else 1


def cmd_load(args: argparse.Namespace) -> int:
    from claimflow.services.inbound import load_files
    from claimflow.services.progress import Bar

    worst = 0
    with Bar("loading", total=len(args.files)) as bar:
        for name in args.files:  # one at a time: the bar moves per file, a bad file never stops the rest
            for o in load_files([Path(name)], actor="cli:load"):
                # A path that is not a loadable file (missing, a directory, a FIFO, unreadable, disk full)
                # gets one line on stderr; the other files are still loaded.
                if o.status == "refused":
                    print(o.line(), file=sys.stderr)
                else:
                    bar.echo(o.line())
                if o.status in ("quarantined", "refused"):
                    worst = 2
            bar.step()
    return worst


def cmd_payments_import(args: argparse.Namespace) -> int:
    from adjudication.patient_payments import import_payments_csv
    from claimflow.db.session import get_engine

    path = Path(args.file)
    if not path.is_file():
        raise _usage(
            f"{args.file}: no such file" if not path.exists() else f"{args.file}: not a regular file"
        )
    result = import_payments_csv(get_engine(), path, actor="cli:payments-import")
    _emit(result, args.format)
    return 0


def cmd_grant_analyst(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.services.analyst import AnalystError, grant_analyst

    try:
        notes = grant_analyst(get_engine(), args.role)
    except AnalystError as exc:  # SQLite, a bad role name, the default salt: one line, no traceback
        print(f"claimflow db grant-analyst: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"claimflow db grant-analyst: warning: {note}", file=sys.stderr)
    print(f"role {args.role} can read the analyst schema (de-identified views) and nothing else")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from claimflow.sandbox.demo import run_demo

    return run_demo(
        workdir=Path(args.workdir),
        patients=args.patients,
        claims=args.claims,
        seed=args.seed,
        quiet=args.quiet,
    )


def cmd_reconcile(args: argparse.Namespace) -> int:
    import datetime as dt

    from adjudication.reconcile import reconcile
    from claimflow.db.session import get_engine

    run_date = dt.date.fromisoformat(args.run_date) if args.run_date else dt.date.today()
    _emit(reconcile(get_engine(), run_date), args.format)
    return 0


def cmd_acks_apply(args: argparse.Namespace) -> int:
    from claimflow.services.pipeline import apply_acknowledgments

    _emit(apply_acknowledgments(actor="cli:acks-apply"), args.format)
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    from claimflow.services.pipeline import post_remittances

    _emit(post_remittances(args.run_date, actor="cli:post"), args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from claimflow.services.pipeline import run_report

    _emit(run_report(args.run_date), args.format)
    return 0


def cmd_nightly(args: argparse.Namespace) -> int:
    from claimflow.services.pipeline import nightly

    result = nightly(args.run_date, actor="cli:nightly")
    problems: list[str] = result.pop("problems")
    out = {
        k: result[k]
        for k in (
            "acknowledgments_applied",
            "claim_payments_posted",
            "balance_exceptions",
            "data_quality_problems",
            "report",
        )
    }
    _emit(out, args.format)
    if problems:
        print(
            f"claimflow nightly: {len(problems)} data-quality problems (first: {problems[0]}); "
            f"see {result['report']}",
            file=sys.stderr,
        )
        return 1
    return 0


# --------------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("claimflow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="claimflow",
        description="HIPAA 5010 claims pipeline: 837 out, TA1/999/277CA/835 in, posting and reconciliation. "
        "Database: CLAIMFLOW_DATABASE_URL (default sqlite:///./claimflow.db); create it with "
        "`claimflow init-db`. CLAIMFLOW_DEBUG=1 shows tracebacks.",
    )
    p.add_argument("--version", action="version", version=f"claimflow {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init-db", help="create or migrate the database (Alembic)")
    s.set_defaults(handler=cmd_init_db)

    s = sub.add_parser("seed", help="write a deterministic synthetic practice (no real PHI)")
    s.add_argument(
        "--patients", type=_count(1), default=200, metavar="N", help="patients to create (default 200)"
    )
    s.add_argument(
        "--claims", type=_count(0), default=500, metavar="N", help="claims to create (default 500)"
    )
    s.add_argument(
        "--seed", type=int, default=7, metavar="N", help="random seed: same seed, same practice (default 7)"
    )
    s.add_argument(
        "--as-of",
        type=_date,
        metavar="YYYY-MM-DD",
        help="practice date (default today); service dates precede it",
    )
    s.add_argument("--replace", action="store_true", help="wipe existing practice data first")
    _add_format(s)
    s.set_defaults(handler=cmd_seed)

    s = sub.add_parser("generate-837", help="scrub ready claims and write 837P/837I interchanges")
    s.add_argument("--out", metavar="DIR", help="output folder (default CLAIMFLOW_DATA_DIR/outbox)")
    s.set_defaults(handler=cmd_generate_837)

    s = sub.add_parser("validate", help="pyx12 implementation-guide validation; exit 0 only if all are clean")
    s.add_argument("files", nargs="+", metavar="FILE", help="X12 interchange files (837, 835, 999, …)")
    s.add_argument(
        "--engine",
        choices=["fast", "pyx12"],
        default="fast",
        help="fast: prove valid files with edi.fastvalidate, pyx12's report otherwise (default); pyx12: pyx12 only",
    )
    s.set_defaults(handler=cmd_validate)

    s = sub.add_parser("parse", help="parse TA1/999/277CA/835 to JSON lines (or --summary)")
    s.add_argument("file", metavar="FILE", help="an inbound X12 file")
    s.add_argument("--summary", action="store_true", help="one JSON summary instead of one line per record")

    s = sub.add_parser("load", help="archive, parse and store inbound files (idempotent)")
    s.add_argument("files", nargs="+", metavar="FILE", help="TA1/999/277CA/835 files")
    s.set_defaults(handler=cmd_load)

    s = sub.add_parser("payments", help="patient payments")
    ps = s.add_subparsers(dest="payments_command", required=True, metavar="SUBCOMMAND")
    pi = ps.add_parser("import", help="import patient payments from CSV (idempotent by external id)")
    pi.add_argument("file", metavar="FILE.csv", help="CSV with the columns of docs/OPERATIONS.md")
    _add_format(pi)
    pi.set_defaults(handler=cmd_payments_import)

    s = sub.add_parser("acks", help="999/277CA acknowledgments")
    acks = s.add_subparsers(dest="acks_command", required=True, metavar="SUBCOMMAND")
    a = acks.add_parser("apply", help="apply loaded TA1/999/277CA to claims (accepted / rejected)")
    _add_format(a)
    a.set_defaults(handler=cmd_acks_apply)

    run_date_help = "run date YYYY-MM-DD (default today)"
    s = sub.add_parser("post", help="post loaded 835 payments to claims and the ledger (idempotent)")
    s.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help=run_date_help)
    _add_format(s)
    s.set_defaults(handler=cmd_post)

    s = sub.add_parser(
        "reconcile",
        help="reconcile balances for a date from what has been posted "
        "(run `claimflow nightly` for the whole cycle)",
    )
    s.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help=run_date_help)
    _add_format(s)
    s.set_defaults(handler=cmd_reconcile)

    s = sub.add_parser("report", help="write the nightly HTML run report (after reconcile)")
    s.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help=run_date_help)
    _add_format(s)
    s.set_defaults(handler=cmd_report)

    s = sub.add_parser(
        "nightly",
        help="the nightly_reconciliation DAG's steps: acknowledgments, posting, "
        "follow-up claims, reconciliation, balance proof, data quality, work items, report",
    )
    s.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help=run_date_help)
    _add_format(s)
    s.set_defaults(handler=cmd_nightly)

    s = sub.add_parser("db", help="database administration")
    ds = s.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    g = ds.add_parser("grant-analyst", help="create a read-only role that sees de-identified views only")
    g.add_argument("role", help="PostgreSQL role name to create or update")
    g.set_defaults(handler=cmd_grant_analyst)

    s = sub.add_parser("demo", help="full nightly cycle on SQLite against the built-in sandbox clearinghouse")
    s.add_argument(
        "--workdir",
        default="./claimflow-demo",
        metavar="DIR",
        help="folder for the demo's database, files and keys (default ./claimflow-demo)",
    )
    s.add_argument("--patients", type=_count(1), default=300, metavar="N", help="patients (default 300)")
    s.add_argument("--claims", type=_count(1), default=800, metavar="N", help="claims (default 800)")
    s.add_argument("--seed", type=int, default=7, metavar="N", help="random seed (default 7)")
    s.add_argument("--quiet", action="store_true", help="print only the final summary")
    s.set_defaults(handler=cmd_demo)

    _add_optional_subcommands(sub)
    return p


def _add_optional_subcommands(sub: argparse._SubParsersAction[Any]) -> None:
    """sftp/sandbox commands live next to their packages; they register their own subparsers."""
    from claimflow.cli import auth as auth_cli
    from claimflow.cli import claim as claim_cli
    from claimflow.cli import sftp as sftp_cli
    from claimflow.cli import worklist as worklist_cli

    sftp_cli.add_subcommands(sub)
    auth_cli.add_subcommands(sub)
    from claimflow.cli import console as console_cli

    console_cli.add_subcommands(sub)
    worklist_cli.add_subcommands(sub, claim_actions=claim_cli.add_claim_actions)
    from claimflow.cli import patient as patient_cli

    patient_cli.add_subcommands(sub)
    from claimflow.cli import eligibility as eligibility_cli

    eligibility_cli.add_subcommands(sub)
    from claimflow.sandbox import scaleout

    scaleout.add_subcommands(sub)
    try:
        from claimflow.sandbox import adjudicate_cli
    except ImportError:  # pragma: no cover - during development only
        return
    if hasattr(adjudicate_cli, "add_subcommands"):
        adjudicate_cli.add_subcommands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    # PHI at rest is private: every file and folder this process writes is 0600/0700. The previous
    # umask comes back on return, so calling main() in-process (tests) leaves the caller as it was.
    from claimflow.db.at_rest import private_umask

    previous_umask = private_umask()
    try:
        return _main(argv)
    finally:
        os.umask(previous_umask)


#: Commands that never touch claimflow's data folders (the demo has its own under --workdir; the sandbox
#: writes where --out says).
_NO_DATA_DIR = frozenset({"parse", "validate", "demo", "sandbox", "cluster"})

#: Commands that do not need an initialised claimflow database (init-db and demo create one).
_NO_DATABASE = frozenset({"init-db", "demo", "parse", "validate", "sandbox", "sftp", "cluster"})

#: Commands that configure logging themselves (servers, transfers with their own verbosity, the demo).
_OWN_LOGGING = frozenset({"sandbox", "sftp", "demo", "console", "cluster"})


def _cli_logging() -> None:
    """The CLI's output is its printed result and, on failure, one line: the log lines the same functions
    write for Airflow (``Data quality: …``, ``Remittances posted: …``) would repeat it. So by default only
    the at-rest security notices (a file or folder tightened to 0600/0700) reach stderr;
    ``CLAIMFLOW_LOG_LEVEL=INFO`` shows everything. Nothing is configured when the root logger already has
    handlers (an embedding application, pytest)."""
    import logging

    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("claimflow: %(message)s"))
    root.addHandler(handler)
    level = os.environ.get("CLAIMFLOW_LOG_LEVEL", "").upper()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
        return
    root.setLevel(logging.CRITICAL + 1)
    logging.getLogger("claimflow.db.at_rest").setLevel(logging.WARNING)


_SUBCOMMAND_DESTS = (
    "payments_command",
    "acks_command",
    "db_command",
    "sandbox_command",
    "sftp_command",
    "cluster_command",
)


def _command_name(args: argparse.Namespace | None, argv: list[str]) -> str:
    if args is None:
        return "claimflow"
    words = [str(args.command)] + [str(v) for d in _SUBCOMMAND_DESTS if (v := getattr(args, d, None))]
    return "claimflow " + " ".join(words)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "parse":
        # Fast path: no SQLAlchemy/pydantic/pandas/Airflow on the way to parsing a file.
        from claimflow.cli.parse import main as parse_main

        return parse_main(argv[1:])
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            build_parser().print_help()
            return 2
        if args.command not in _OWN_LOGGING:
            _cli_logging()
        if args.command not in _NO_DATABASE:
            from claimflow.settings import get_settings

            require_database(get_settings().database_url)
        if args.command not in _NO_DATA_DIR:
            from claimflow.settings import prepare_data_dirs

            prepare_data_dirs()  # data folders 0700 (tightened, with a log line, if they were open)
        return int(handler(args))
    except KeyboardInterrupt:
        print(f"{_command_name(args, argv)}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one error boundary: one line, no traceback (CLAIMFLOW_DEBUG=1 shows it)
        if os.environ.get("CLAIMFLOW_DEBUG", "") not in ("", "0"):
            raise
        code, message = explain(exc)
        print(f"{_command_name(args, argv)}: {message}", file=sys.stderr)
        return code


# --------------------------------------------------------------------------------------------------
# the database must exist and be initialised (never created by accident in the wrong folder)
# --------------------------------------------------------------------------------------------------


_INIT_HINT = "run `claimflow init-db` (or set CLAIMFLOW_DATABASE_URL)"


def _check_url(url: str) -> None:
    """A URL SQLAlchemy can use, or a one-line ConfigurationError (the URL itself is not repeated: it may
    carry a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from claimflow.errors import ConfigurationError

    if url.startswith("postgres://"):
        raise ConfigurationError(
            "CLAIMFLOW_DATABASE_URL starts with postgres://, which SQLAlchemy does not "
            "accept; use postgresql+psycopg://user@host:5432/db"
        )
    try:
        u = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "CLAIMFLOW_DATABASE_URL is not a database URL; expected e.g. "
            "sqlite:///./claimflow.db or postgresql+psycopg://user@host:5432/db"
        ) from None
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"CLAIMFLOW_DATABASE_URL uses {u.get_backend_name()!r}; claimflow supports "
            "sqlite and postgresql (postgresql+psycopg://…)"
        )


def _sqlite_path(url: str) -> Path | None:
    from claimflow.db.session import sqlite_file

    return sqlite_file(url)


def require_database(url: str) -> None:
    """Refuse (one line, exit 2) a database that does not exist or was never initialised; never create it."""
    from sqlalchemy import inspect

    from claimflow.db.session import get_engine
    from claimflow.errors import DatabaseNotReady

    _check_url(url)
    path = _sqlite_path(url)
    if path is not None and (not path.is_file() or path.stat().st_size == 0):
        raise DatabaseNotReady(f"no claimflow database at {path.resolve()}; {_INIT_HINT}")
    with get_engine(url).connect() as conn:
        initialised = inspect(conn).has_table("alembic_version")
    if not initialised:
        where = str(path.resolve()) if path is not None else _redact(url)
        raise DatabaseNotReady(f"the database at {where} is not initialised; {_INIT_HINT}")


# --------------------------------------------------------------------------------------------------
# error boundary
# --------------------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that ended a command. Typed project errors are
    repeated (their messages are PHI-free by contract); anything else is named by class only."""
    from claimflow.errors import ClaimflowError

    if isinstance(exc, ClaimflowError):
        return exc.exit_code, _first_line(str(exc)) or type(exc).__name__
    mod = sys.modules.get
    edi_errors, sftp_errors, adj_errors = mod("edi.errors"), mod("sftp.errors"), mod("adjudication.errors")
    if edi_errors is not None and isinstance(exc, edi_errors.X12Error):
        return 2, _first_line(str(exc))
    if sftp_errors is not None and isinstance(exc, sftp_errors.SFTPError):
        return (2 if isinstance(exc, sftp_errors.ProfileConfigError) else 1), _first_line(str(exc))
    if adj_errors is not None and isinstance(exc, adj_errors.AdjudicationError):
        return (2 if isinstance(exc, adj_errors.PaymentFileError) else 1), _first_line(str(exc))
    sa_exc = mod("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.ArgumentError):
        return (
            2,
            "CLAIMFLOW_DATABASE_URL is not a usable database URL (e.g. postgresql+psycopg://user@host:5432/db)",
        )
    if sa_exc is not None and isinstance(exc, sa_exc.DBAPIError):
        # Only the driver's first line, and only for the kinds whose first line names no values: a missing
        # table, a connection problem. Other database errors (which may quote a row) are named by class.
        orig = _first_line(str(exc.orig)) if exc.orig is not None else ""
        if "no such table" in orig or ("relation" in orig and "does not exist" in orig):
            return 2, f"the database is not initialised ({orig[:120]}); {_INIT_HINT}"
        if isinstance(exc, sa_exc.OperationalError):
            return 1, f"cannot use the database: {orig[:240] or type(exc).__name__}"
        return 1, (
            f"database error {type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__}; "
            "run with CLAIMFLOW_DEBUG=1 for the traceback"
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return 2, f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    return 1, f"unexpected {type(exc).__name__}; run with CLAIMFLOW_DEBUG=1 for the traceback"
