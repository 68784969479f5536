"""CLI of the patient's side (contract; see docs/PATIENTS.md)::

    claimflow statements run [--run-date D] --out DIR [--config statement.toml] [--codes FILE]
    claimflow plan create --patient MRN --amount X --installments N [--day D] [--start D]
    claimflow plan list [--as-of D]
    claimflow payments webhook serve --port P [--host H]     (secret: CLAIMFLOW_WEBHOOK_SECRET)
    claimflow refund find [--run-date D]
    claimflow refund issue ID [--as-of D]
    claimflow dispute set|clear PATIENT_ID

Results are printed with the global ``--format`` (json one line by default). Errors go through the CLI's
one error boundary (one line, no traceback). Nothing printed names a patient: ids and statement ids only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


def _actor(what: str) -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        user = "unknown"
    return f"cli:{user}:{what}"


def _day(value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else dt.date.today()


def _date_arg(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


def _money_arg(value: str) -> Decimal:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError("not an amount (expected e.g. 250.00)") from None
    if d <= 0 or d != d.quantize(Decimal("0.01")):
        raise argparse.ArgumentTypeError("amount must be above 0 with at most two decimals")
    return d


def _emit(obj: Any, args: argparse.Namespace) -> None:
    from claimflow.cli import _emit as emit

    emit(obj, getattr(args, "format", "json") or "json")


def cmd_statements_run(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.statements import run_statements

    result = run_statements(
        get_engine(),
        run_date=_day(args.run_date),
        out=Path(args.out),
        config=Path(args.config) if args.config else None,
        codes=Path(args.codes) if args.codes else None,
        actor=_actor("statements"),
    )
    _emit(result, args)
    return 0


def cmd_plan_create(args: argparse.Namespace) -> int:
    from adjudication.statements import create_plan
    from claimflow.db.session import get_engine

    result = create_plan(
        get_engine(),
        account_number=args.patient,
        amount=args.amount,
        installments=args.installments,
        day=args.day,
        start=_day(args.start),
        actor=_actor("plan"),
    )
    _emit(result, args)
    return 0


def cmd_plan_list(args: argparse.Namespace) -> int:
    from adjudication.statements import list_plans
    from claimflow.db.session import get_engine

    _emit(list_plans(get_engine(), as_of=_day(args.as_of)), args)
    return 0


def cmd_webhook_serve(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.services.webhooks import serve

    serve(get_engine(), host=args.host, port=args.port)
    return 0


def cmd_refund_find(args: argparse.Namespace) -> int:
    from adjudication.statements import find_refunds
    from claimflow.db.session import get_engine

    _emit(find_refunds(get_engine(), _day(args.run_date), actor=_actor("refund")), args)
    return 0


def cmd_refund_issue(args: argparse.Namespace) -> int:
    from adjudication.statements import issue_refund
    from claimflow.db.session import get_engine

    _emit(issue_refund(get_engine(), args.id, as_of=_day(args.as_of), actor=_actor("refund")), args)
    return 0


def cmd_dispute(args: argparse.Namespace) -> int:
    from adjudication.statements import set_dispute
    from claimflow.db.session import get_engine

    set_dispute(get_engine(), args.patient_id, args.action == "set", actor=_actor("dispute"))
    _emit({"patient_id": args.patient_id, "dispute": args.action == "set"}, args)
    return 0


def _payments_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction | None:
    """The subcommands of the existing ``payments`` command (cli.py owns it); None if it is absent."""
    parser = sub.choices.get("payments")
    if parser is None:
        return None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    from claimflow.cli import _add_format

    s = sub.add_parser("statements", help="patient statements and dunning")
    ss = s.add_subparsers(dest="statements_command", required=True, metavar="SUBCOMMAND")
    r = ss.add_parser(
        "run", help="write tonight's statements (PDF + HTML + statements.csv) and collections hand-off"
    )
    r.add_argument("--run-date", type=_date_arg, metavar="YYYY-MM-DD", help="statement date (default today)")
    r.add_argument("--out", required=True, metavar="DIR", help="folder for the files (created 0700)")
    r.add_argument(
        "--config", metavar="TOML", help="statement.toml with branding and dunning (default: sample)"
    )
    r.add_argument("--codes", metavar="CSV", help="code,description file for services (default: sample)")
    _add_format(r)
    r.set_defaults(handler=cmd_statements_run)

    p = sub.add_parser("plan", help="patient payment plans")
    ps = p.add_subparsers(dest="plan_command", required=True, metavar="SUBCOMMAND")
    c = ps.add_parser("create", help="create a payment plan for a patient")
    c.add_argument("--patient", required=True, metavar="MRN", help="the patient's account number (MRN)")
    c.add_argument("--amount", required=True, type=_money_arg, help="plan total in dollars")
    c.add_argument("--installments", required=True, type=int, help="number of monthly payments (1-120)")
    c.add_argument("--day", type=int, help="day of the month payments are due (1-28; default: start day)")
    c.add_argument("--start", type=_date_arg, metavar="YYYY-MM-DD", help="plan start (default today)")
    _add_format(c)
    c.set_defaults(handler=cmd_plan_create)
    pl = ps.add_parser("list", help="list payment plans with paid and remaining amounts")
    pl.add_argument("--as-of", type=_date_arg, metavar="YYYY-MM-DD", help="date (default today)")
    _add_format(pl)
    pl.set_defaults(handler=cmd_plan_list)

    rf = sub.add_parser("refund", help="patient and payer refunds")
    rs = rf.add_subparsers(dest="refund_command", required=True, metavar="SUBCOMMAND")
    f = rs.add_parser("find", help="credits and overpayments become refunds due (and work items)")
    f.add_argument("--run-date", type=_date_arg, metavar="YYYY-MM-DD", help="date (default today)")
    _add_format(f)
    f.set_defaults(handler=cmd_refund_find)
    i = rs.add_parser("issue", help="record a refund as paid (ledger rfi:<id>)")
    i.add_argument("id", type=int, help="refund id")
    i.add_argument("--as-of", type=_date_arg, metavar="YYYY-MM-DD", help="date paid (default today)")
    _add_format(i)
    i.set_defaults(handler=cmd_refund_issue)

    d = sub.add_parser("dispute", help="hold or release dunning for a patient who disputes the bill")
    d.add_argument("action", choices=("set", "clear"))
    d.add_argument("patient_id", type=int, help="patients.id")
    _add_format(d)
    d.set_defaults(handler=cmd_dispute)

    payments = _payments_subparsers(sub)
    if payments is not None:
        w = payments.add_parser("webhook", help="payment-processor webhooks")
        ws = w.add_subparsers(dest="webhook_command", required=True, metavar="SUBCOMMAND")
        sv = ws.add_parser("serve", help="receive signed payment events at POST /webhooks/payments")
        sv.add_argument("--port", type=int, required=True, help="TCP port")
        sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        sv.set_defaults(handler=cmd_webhook_serve)
