"""``claimflow`` command line. The command names, options and output keys are a contract: scripts and
other tools rely on them.

Start-up is kept light: ``claimflow parse`` is dispatched before anything heavy (SQLAlchemy, pandas,
pydantic, Airflow) is imported, and every other command imports what it needs inside its handler.

Exit codes: 0 success, 1 the command ran and found problems (e.g. invalid files), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def _print_json(obj: object) -> None:
    print(json.dumps(obj, default=str, sort_keys=False))


# --------------------------------------------------------------------------------------------------
# handlers (heavy imports stay inside)
# --------------------------------------------------------------------------------------------------


def cmd_init_db(args: argparse.Namespace) -> int:
    from claimflow.db.migrate import current_revision, upgrade
    from claimflow.settings import get_settings

    url = get_settings().database_url
    upgrade(url)
    print(f"database ready at revision {current_revision(url)} ({_redact(url)})")
    return 0


def _redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_seed(args: argparse.Namespace) -> int:
    import datetime as dt

    from claimflow.db.session import get_engine
    from claimflow.seed import SeedRefused, seed_practice

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    try:
        summary = seed_practice(
            get_engine(), patients=args.patients, claims=args.claims, seed=args.seed, as_of=as_of,
            replace=args.replace,
        )
    except SeedRefused as exc:
        print(f"claimflow seed: {exc} (use --replace to wipe practice data)", file=sys.stderr)
        return 2
    _print_json(summary.as_dict())
    return 0


def cmd_generate_837(args: argparse.Namespace) -> int:
    from claimflow.outbound import generate_batches

    result = generate_batches(out_dir=Path(args.out) if args.out else None, run_id="cli:generate-837")
    for line in result.report_lines():
        print(line)
    _print_json(result.as_dict())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from edi.validate import format_report, validate_x12

    bad = 0
    for name in args.files:
        report = validate_x12(Path(name))
        if report.ok:
            print(f"{name}: valid")
        else:
            bad += 1
            for line in format_report(report, name):
                print(line)
    print(f"{len(args.files) - bad} valid, {bad} with errors")
    return 0 if bad == 0 else 1


def cmd_load(args: argparse.Namespace) -> int:
    from claimflow.inbound import load_files

    outcomes = load_files([Path(f) for f in args.files], actor="cli:load")
    worst = 0
    for o in outcomes:
        # A path that is not a loadable file (missing, a directory, a FIFO, unreadable, disk full) gets
        # one line on stderr; the other files were still loaded.
        print(o.line(), file=sys.stderr if o.status == "refused" else sys.stdout)
        if o.status in ("quarantined", "refused"):
            worst = 2
    return worst


def cmd_payments_import(args: argparse.Namespace) -> int:
    from adjudication.patient_payments import import_payments_csv
    from claimflow.db.session import get_engine

    result = import_payments_csv(get_engine(), Path(args.file), actor="cli:payments-import")
    _print_json(result)
    return 0


def cmd_grant_analyst(args: argparse.Namespace) -> int:
    from claimflow.analyst import AnalystError, grant_analyst
    from claimflow.db.session import get_engine

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
    from claimflow.demo import run_demo

    return run_demo(
        workdir=Path(args.workdir), patients=args.patients, claims=args.claims, seed=args.seed,
        quiet=args.quiet,
    )


def cmd_reconcile(args: argparse.Namespace) -> int:
    import datetime as dt

    from adjudication.reconcile import reconcile
    from claimflow.db.session import get_engine

    run_date = dt.date.fromisoformat(args.run_date) if args.run_date else dt.date.today()
    _print_json(reconcile(get_engine(), run_date))
    return 0


# --------------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="claimflow",
        description="HIPAA 5010 claims pipeline: 837 out, TA1/999/277CA/835 in, posting and reconciliation. "
        "Database: CLAIMFLOW_DATABASE_URL (default sqlite:///./claimflow.db).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init-db", help="create or migrate the database (Alembic)")
    s.set_defaults(handler=cmd_init_db)

    s = sub.add_parser("seed", help="write a deterministic synthetic practice (no real PHI)")
    s.add_argument("--patients", type=int, default=200)
    s.add_argument("--claims", type=int, default=500)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--as-of", help="practice date YYYY-MM-DD (default today); service dates precede it")
    s.add_argument("--replace", action="store_true", help="wipe existing practice data first")
    s.set_defaults(handler=cmd_seed)

    s = sub.add_parser("generate-837", help="scrub ready claims and write 837P/837I interchanges")
    s.add_argument("--out", help="output folder (default CLAIMFLOW_DATA_DIR/outbox)")
    s.set_defaults(handler=cmd_generate_837)

    s = sub.add_parser("validate", help="pyx12 implementation-guide validation; exit 0 only if all are clean")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.set_defaults(handler=cmd_validate)

    s = sub.add_parser("parse", help="parse TA1/999/277CA/835 to JSON lines (or --summary)")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--summary", action="store_true")

    s = sub.add_parser("load", help="archive, parse and store inbound files (idempotent)")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.set_defaults(handler=cmd_load)

    s = sub.add_parser("payments", help="patient payments")
    ps = s.add_subparsers(dest="payments_command", required=True)
    pi = ps.add_parser("import", help="import patient payments from CSV (idempotent by external id)")
    pi.add_argument("file", metavar="FILE.csv")
    pi.set_defaults(handler=cmd_payments_import)

    s = sub.add_parser("reconcile", help="run the nightly reconciliation for a date")
    s.add_argument("--run-date", help="YYYY-MM-DD (default today)")
    s.set_defaults(handler=cmd_reconcile)

    s = sub.add_parser("db", help="database administration")
    ds = s.add_subparsers(dest="db_command", required=True)
    g = ds.add_parser("grant-analyst", help="create a read-only role that sees de-identified views only")
    g.add_argument("role")
    g.set_defaults(handler=cmd_grant_analyst)

    s = sub.add_parser("demo", help="full nightly cycle on SQLite against the built-in sandbox clearinghouse")
    s.add_argument("--workdir", default="./claimflow-demo")
    s.add_argument("--patients", type=int, default=300)
    s.add_argument("--claims", type=int, default=800)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(handler=cmd_demo)

    _add_optional_subcommands(sub)
    return p


def _add_optional_subcommands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """sftp/sandbox commands live next to their packages; they register their own subparsers."""
    from claimflow import claim_cli, sftp_cli, worklist_cli

    sftp_cli.add_subcommands(sub)
    from claimflow import console_cli

    console_cli.add_subcommands(sub)
    worklist_cli.add_subcommands(sub, claim_actions=claim_cli.add_claim_actions)
    try:
        from claimflow.sandbox import adjudicate_cli
    except ImportError:  # pragma: no cover - during development only
        return
    if hasattr(adjudicate_cli, "add_subcommands"):
        adjudicate_cli.add_subcommands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    # PHI at rest is private: every file and folder this process writes is 0600/0700. The previous
    # umask comes back on return, so calling main() in-process (tests) leaves the caller as it was.
    import os

    from claimflow.at_rest import private_umask

    previous_umask = private_umask()
    try:
        return _main(argv)
    finally:
        os.umask(previous_umask)


#: Commands that never touch claimflow's data folders (the demo has its own under --workdir; the sandbox
#: writes where --out says).
_NO_DATA_DIR = frozenset({"parse", "validate", "demo", "sandbox"})


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "parse":
        # Fast path: no SQLAlchemy/pydantic/pandas/Airflow on the way to parsing a file.
        from claimflow.parse_cli import main as parse_main

        return parse_main(argv[1:])
    args = build_parser().parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        build_parser().print_help()
        return 2
    if args.command not in _NO_DATA_DIR:
        from claimflow.settings import prepare_data_dirs

        prepare_data_dirs()  # data folders 0700 (tightened, with a log line, if they were open)
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
