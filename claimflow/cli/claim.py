"""``claimflow claim correct | void | resubmit``: finish the rejection and denial work items.

A contract (scripts depend on it)::

    claimflow claim correct CLAIM [--set FIELD=VALUE ...] [--format text|json]
    claimflow claim void CLAIM [--format text|json]
    claimflow claim resubmit CLAIM [--set FIELD=VALUE ...] [--format text|json]
    claimflow claim follow-up [--date YYYY-MM-DD]     (secondary/tertiary claims due; JSON counts)
    claimflow claim appeal CLAIM --out DIR [--template FILE] [--format text|json]

``appeal`` writes ``appeal-<claim number>-<n>.html`` and ``.pdf`` for a medical-necessity or authorization
denial (:mod:`claimflow.followup.appeals`); ``--format json`` prints ``claim_id, claim, payer_claim_number, appeal,
categories, reason_codes, amount, html, pdf, work_items_noted`` (no PHI). A claim without such a denial is
refused (exit 2, naming the denial categories it has).

CLAIM is our claim number, a CLM01 we sent, or the payer's claim number. The claim goes out with the next
``claims_submission`` / ``claimflow generate-837`` (frequency 7, 8 or 1; see :mod:`claimflow.followup.corrections`
for the fields ``--set`` accepts). ``--format json`` prints one object with the keys ``claim_id, claim,
action, frequency, payer_claim_number, changed, charge_before, charge_after, work_items_noted``. Errors
are one line on stderr and exit code 2, never a value from the claim.

These actions hang under the ``claim`` command that :mod:`claimflow.cli.worklist` owns (it calls
:func:`add_claim_actions` with its sub-parsers).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_claim_action(args: argparse.Namespace) -> int:
    from claimflow.cli.worklist import _actor
    from claimflow.db.session import get_engine
    from claimflow.followup.corrections import CorrectionError, correct_claim, resubmit_claim, void_claim

    prog = f"claimflow claim {args.claim_command}"
    if args.format not in ("text", "json"):
        print(f"{prog}: --format must be text or json", file=sys.stderr)
        return 2
    engine = get_engine()
    try:
        if args.claim_command == "correct":
            result = correct_claim(engine, args.claim, args.set or [], actor=_actor())
        elif args.claim_command == "resubmit":
            result = resubmit_claim(engine, args.claim, args.set or [], actor=_actor())
        else:
            result = void_claim(engine, args.claim, actor=_actor())
    except CorrectionError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(result.as_dict()))
        return 0
    what = {"7": "replacement (frequency 7)", "8": "void (frequency 8)", "1": "new original (frequency 1)"}[
        result.frequency
    ]
    ref = f", REF*F8 {result.payer_claim_number}" if result.payer_claim_number else ""
    print(f"claim {result.claim_number}: {what}{ref} queued for the next 837")
    if result.changed:
        print(f"  changed: {', '.join(result.changed)}")
    if result.charge_after != result.charge_before:
        print(f"  total charge ${result.charge_before:,.2f} -> ${result.charge_after:,.2f}")
    if result.work_items_noted:
        print(f"  work items noted: {result.work_items_noted} (they close when the payer's answer is posted)")
    return 0


def cmd_claim_follow_up(args: argparse.Namespace) -> int:
    """What the nightly follow-up step does (``claimflow.services.pipeline.issue_follow_up_claims``), by hand."""
    import datetime as dt

    from claimflow.services.pipeline import issue_follow_up_claims

    try:
        day = dt.date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print("claimflow claim follow-up: --date must be YYYY-MM-DD", file=sys.stderr)
        return 2
    print(json.dumps(issue_follow_up_claims(day.isoformat() if day else None)))
    return 0


def cmd_claim_appeal(args: argparse.Namespace) -> int:
    from pathlib import Path

    from claimflow.cli.worklist import _actor
    from claimflow.db.session import get_engine
    from claimflow.followup.appeals import AppealError, write_appeal

    prog = "claimflow claim appeal"
    if args.format not in ("text", "json"):
        print(f"{prog}: --format must be text or json", file=sys.stderr)
        return 2
    try:
        result = write_appeal(
            get_engine(), args.claim, Path(args.out), template=args.template, actor=_actor()
        )
    except AppealError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(result))
        return 0
    print(
        f"claim {result['claim']}: appeal {result['appeal']} ({', '.join(result['categories'])}; "
        f"{', '.join(result['reason_codes'])}; ${result['amount']}) written to {result['pdf']} and {result['html']}"
    )
    if result["work_items_noted"]:
        print(f"  work items noted: {result['work_items_noted']}")
    return 0


def add_claim_actions(cs: Any) -> None:
    """Register ``correct``, ``void`` and ``resubmit`` under the ``claim`` command's sub-parsers."""
    from claimflow.cli.worklist import _one_line_errors
    from claimflow.followup.corrections import FIELDS

    fields = "; ".join(f"{k}: {v}" for k, v in FIELDS.items())
    for name, help_text in (
        ("correct", "send a replacement claim (frequency 7, REF*F8) after the payer adjudicated it"),
        ("void", "send a void (frequency 8, REF*F8): the payer takes its payment back"),
        ("resubmit", "send a rejected claim again as a new original (frequency 1)"),
    ):
        p = cs.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "claim", metavar="CLAIM", help="our claim number, the CLM01 we sent, or the payer's claim number"
        )
        if name != "void":
            p.add_argument("--set", action="append", metavar="FIELD=VALUE", help=f"change a field ({fields})")
        p.add_argument("--format", default="text", help="text (default) or json")
        p.set_defaults(handler=cmd_claim_action)
        _one_line_errors(p, f"claimflow claim {name}")
    f = cs.add_parser(
        "follow-up",
        help="create the secondary/tertiary claims due and settle answered voids "
        "(the nightly step, by hand); prints the counts as JSON",
    )
    f.add_argument("--date", help="run date (YYYY-MM-DD, default today)")
    f.set_defaults(handler=cmd_claim_follow_up)
    _one_line_errors(f, "claimflow claim follow-up")
    a = cs.add_parser(
        "appeal",
        help="write an appeal letter (HTML and PDF) for a medical-necessity or authorization denial",
        description="claimflow claim appeal CLAIM --out DIR [--template FILE] [--format text|json]",
    )
    a.add_argument(
        "claim", metavar="CLAIM", help="our claim number, the CLM01 we sent, or the payer's claim number"
    )
    a.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the letter (made 0700; files 0600)"
    )
    a.add_argument(
        "--template",
        metavar="FILE",
        help="Jinja2 HTML template (default: $CLAIMFLOW_APPEAL_TEMPLATE, "
        "else the sample claimflow/followup/appeals/templates/appeal.html.j2)",
    )
    a.add_argument("--format", default="text", help="text (default) or json")
    a.set_defaults(handler=cmd_claim_appeal)
    _one_line_errors(a, "claimflow claim appeal")
