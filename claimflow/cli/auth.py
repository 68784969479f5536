"""``claimflow auth``: the prior authorizations the office received, and the codes payers authorize.

A contract (scripts depend on it)::

    claimflow auth import FILE.csv [--rules RULES.csv]
    claimflow auth import --rules RULES.csv
    claimflow auth list [--expiring DAYS] [--format table|json|csv]

``FILE.csv`` has the header ``auth_number,payer_id,patient_account,codes,units,start_date,end_date`` and
optionally ``status`` (``active`` or ``void``): ``payer_id`` is the payer's identifier (as in the 837),
``patient_account`` the practice's account number (MRN), ``codes`` procedure codes and ranges such as
``97110-97140,G0283``, dates ``YYYY-MM-DD``. ``RULES.csv`` has ``payer_id,codes``: the codes that payer
authorizes in advance (empty codes: none any more). Every row is checked before anything is stored; each
bad row is one line on stderr (``row N: column: why``) and the command exits 2, importing nothing.

``list --format json`` prints one object per line with the keys ``id, auth_number, payer, patient, codes,
units_authorized, units_used, units_left, start_date, end_date, status`` (units as strings, dates ISO).
``--expiring DAYS``: only active authorizations that end within DAYS days.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

FORMATS = ("table", "json", "csv")


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {value!r}") from None
    if days < 0:
        raise argparse.ArgumentTypeError("days must be 0 or more")
    return days


def cmd_auth_import(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.inquiries.authorizations import AuthorizationError, import_authorizations, import_rules

    if args.file is None and args.rules is None:
        print("claimflow auth import: give FILE.csv, --rules RULES.csv or both", file=sys.stderr)
        return 2
    engine = get_engine()
    out: dict[str, int] = {}
    try:
        for path, fn in ((args.rules, import_rules), (args.file, import_authorizations)):
            if path is None:
                continue
            if not Path(path).is_file():
                print(f"claimflow auth import: {Path(path).name}: no such file", file=sys.stderr)
                return 2
            result = fn(engine, Path(path))
            for k, v in result.as_dict().items():
                out[k] = out.get(k, 0) + v
    except AuthorizationError as exc:
        # one line per bad row (``FILE: row N: column: why``), or the one problem with the whole file
        for line in [f"{Path(path).name}: {p}" for p in exc.problems] or [str(exc)]:
            print(f"claimflow auth import: {line}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        **{
            k: f"{item[k]:f}".rstrip("0").rstrip(".")
            for k in ("units_authorized", "units_used", "units_left")
        },
        "start_date": item["start_date"].isoformat(),
        "end_date": item["end_date"].isoformat(),
    }


def cmd_auth_list(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.inquiries.authorizations import LIST_KEYS, list_authorizations

    rows = [_row(i) for i in list_authorizations(get_engine(), expiring_days=args.expiring)]
    if args.format == "json":
        for row in rows:
            print(json.dumps(row))
        return 0
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(LIST_KEYS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    widths = {k: max([len(k)] + [len(str(r[k])) for r in rows]) for k in LIST_KEYS}
    print("  ".join(k.upper().ljust(widths[k]) for k in LIST_KEYS).rstrip())
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in LIST_KEYS).rstrip())
    print(f"{len(rows)} authorizations")
    return 0


def add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("auth", help="prior authorizations: import them, list them (and what is expiring)")
    a = s.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    i = a.add_parser(
        "import",
        help="add or update authorizations (and payer rules) from CSV",
        description="claimflow auth import FILE.csv [--rules RULES.csv]; header of FILE.csv: "
        "auth_number,payer_id,patient_account,codes,units,start_date,end_date[,status]; "
        "of RULES.csv: payer_id,codes",
    )
    i.add_argument("file", nargs="?", metavar="FILE.csv", help="authorizations")
    i.add_argument("--rules", metavar="RULES.csv", help="codes each payer authorizes: payer_id,codes")
    i.set_defaults(handler=cmd_auth_import)
    li = a.add_parser("list", help="authorizations with units left, soonest end first")
    li.add_argument("--expiring", type=_days, metavar="DAYS", help="only active ones ending within DAYS days")
    li.add_argument("--format", choices=FORMATS, default="table", help="table (default), json or csv")
    li.set_defaults(handler=cmd_auth_list)
