"""``claimflow worklist`` and ``claimflow claim show``: the billing office's work queues and a claim's story.

A contract (scripts and screens depend on it)::

    claimflow worklist [--queue Q] [--status open|all] [--format table|json|csv]
    claimflow worklist assign ID --to NAME
    claimflow worklist note ID TEXT
    claimflow worklist close ID --why TEXT
    claimflow claim show CLAIM [--format text|json]

``worklist --format json`` prints one object per line with the keys ``id, queue, claim, payer,
reason_codes, reason, amount, next_action, due_date, status, assignee`` (amount a string with two
decimals, due_date ISO). Errors are one line on stderr and exit code 2, never a traceback.

The nightly build's limits come from ``CLAIMFLOW_WORKLIST_*`` variables (:class:`WorklistSettings`);
per-payer values in ``payer_rules`` win over them.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from decimal import Decimal
from typing import Any, NoReturn

ACTIONS = ("assign", "note", "close")
FORMATS = ("table", "json", "csv")


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        user = "unknown"
    return f"cli:{user}"


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit 2."""


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def _item_id(words: list[str], action: str) -> int:
    if len(words) < 2:
        raise UsageError(f"{action} needs a work item id")
    try:
        return int(words[1])
    except ValueError:
        raise UsageError(f"work item id must be a number, not {words[1]!r}") from None


def cmd_worklist(args: argparse.Namespace) -> int:
    from adjudication.errors import AdjudicationError

    try:
        return _worklist(args)
    except (UsageError, AdjudicationError) as exc:
        return _fail("claimflow worklist", str(exc))


def _worklist(args: argparse.Namespace) -> int:
    from adjudication import worklist as wl
    from claimflow.db.session import get_engine

    words: list[str] = list(args.words or [])
    if not words:
        if args.format not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
        items = wl.list_items(get_engine(), queue=args.queue, status=args.status)
        _print_items(items, args.format)
        return 0
    action = words[0]
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}; use assign, note or close (or no action to list)")
    item_id = _item_id(words, action)
    engine = get_engine()
    if action == "assign":
        if len(words) > 2 or not args.to:
            raise UsageError("usage: claimflow worklist assign ID --to NAME")
        wl.assign(engine, item_id, args.to, actor=_actor())
        print(f"work item {item_id} assigned to {args.to}")
    elif action == "note":
        body = " ".join(words[2:])
        if not body:
            raise UsageError("usage: claimflow worklist note ID TEXT")
        wl.add_note(engine, item_id, body, actor=_actor())
        print(f"note added to work item {item_id}")
    else:
        if len(words) > 2 or not args.why:
            raise UsageError("usage: claimflow worklist close ID --why TEXT")
        wl.close_item(engine, item_id, args.why, actor=_actor())
        print(f"work item {item_id} closed")
    return 0


def _json_item(item: dict[str, Any]) -> dict[str, Any]:
    from adjudication.worklist import LIST_KEYS

    out = {k: item[k] for k in LIST_KEYS}
    out["amount"] = f"{item['amount']:.2f}"
    out["due_date"] = item["due_date"].isoformat() if item["due_date"] else None
    return out


def _print_items(items: list[dict[str, Any]], fmt: str) -> None:
    from adjudication.worklist import LIST_KEYS

    rows = [_json_item(i) for i in items]
    if fmt == "json":
        for row in rows:
            print(json.dumps(row))
        return
    flat = [
        {
            **row,
            "reason_codes": ";".join(row["reason_codes"]),
            "due_date": row["due_date"] or "",
            "assignee": row["assignee"] or "",
            "payer": row["payer"] or "",
        }
        for row in rows
    ]
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(LIST_KEYS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return
    cols = (
        "id",
        "queue",
        "claim",
        "payer",
        "amount",
        "next_action",
        "due_date",
        "status",
        "assignee",
        "reason_codes",
        "reason",
    )
    widths = {c: max([len(c)] + [len(str(r[c])) for r in flat]) for c in cols[:-1]}
    print("  ".join(c.upper().ljust(widths.get(c, 0)) for c in cols).rstrip())
    for r in flat:
        cells = [
            str(r[c]).rjust(widths[c]) if c in ("id", "amount") else str(r[c]).ljust(widths.get(c, 0))
            for c in cols
        ]
        print("  ".join(cells).rstrip())
    total = sum((i["amount"] for i in items), start=Decimal("0.00"))
    print(f"{len(items)} work items, ${total:,.2f} at stake")


def cmd_claim_show(args: argparse.Namespace) -> int:
    from adjudication.timeline import ClaimNotFound, claim_story, render_text
    from claimflow.db.session import get_engine

    if args.format not in ("text", "json"):
        return _fail("claimflow claim show", "--format must be text or json")
    try:
        story = claim_story(get_engine(), args.claim)
    except ClaimNotFound as exc:
        return _fail("claimflow claim show", str(exc))
    if args.format == "json":
        print(json.dumps(story.as_dict(), default=str))
    else:
        for line in render_text(story):
            print(line)
    return 0


def _one_line_errors(parser: argparse.ArgumentParser, prog: str) -> None:
    """argparse's own errors (unknown option, missing value) as one line on stderr, exit 2."""

    def error(message: str) -> NoReturn:
        print(f"{prog}: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]


def add_subcommands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], claim_actions: Any = None
) -> None:
    """``claim_actions(cs)``, when given, adds more actions under ``claim`` (claimflow.cli.claim)."""
    s = sub.add_parser(
        "worklist",
        help="work queues: list open work items, or assign / note / close one",
        description="claimflow worklist [--queue Q] [--status open|all] [--format table|json|csv]; "
        "claimflow worklist assign ID --to NAME; claimflow worklist note ID TEXT; "
        "claimflow worklist close ID --why TEXT",
    )
    s.add_argument(
        "words",
        nargs="*",
        metavar="ACTION ID [TEXT]",
        help="assign ID, note ID TEXT or close ID (nothing: list)",
    )
    s.add_argument(
        "--queue",
        help="scrub_holds, rejections, denials, underpayments, no_response, secondary_due, credit_balances, "
        "authorizations",
    )
    s.add_argument("--status", default="open", help="open (default: open and in progress) or all")
    s.add_argument("--format", default="table", help="table (default), json (one object per line) or csv")
    s.add_argument("--to", help="assign: the person's name")
    s.add_argument("--why", help="close: why the item is done")
    s.set_defaults(handler=cmd_worklist)
    _one_line_errors(s, "claimflow worklist")

    c = sub.add_parser("claim", help="one claim: its whole story")
    cs = c.add_subparsers(dest="claim_command", required=True, metavar="ACTION")
    show = cs.add_parser("show", help="everything that happened to a claim, in time order")
    show.add_argument(
        "claim", metavar="CLAIM", help="our claim number, the CLM01 we sent, or the payer's claim number"
    )
    show.add_argument("--format", default="text", help="text (default) or json")
    show.set_defaults(handler=cmd_claim_show)
    _one_line_errors(c, "claimflow claim")
    _one_line_errors(show, "claimflow claim show")
    if claim_actions is not None:
        claim_actions(cs)
