"""``claimflow generate-270 --out DIR [--days-ahead N] [--fresh-days N]``: eligibility inquiries due;
``claimflow generate-276 --out DIR [--older-than DAYS]``: claim status requests due;
``claimflow eligibility check --patient MRN [--payer CODE] [--format text|json] [--envelope multipart|soap]``:
one real-time 270 over CAQH CORE connectivity (see :mod:`claimflow.inquiries.eligibility_realtime`).

The generators print one JSON object (``files``, ``inquiries``, ``skipped_fresh``) on stdout; errors are
one line on stderr and exit 2. ``eligibility check`` prints the answer in plain words (or one JSON object)
and exits 0 when the payer answered (active, inactive or rejected), 2 for bad input (unknown MRN, no such
coverage, configuration), 1 when the endpoint could not be reached or refused the request (one line). Loading the 271 answers is ``claimflow load F.271``; reading one is ``claimflow parse``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn


def _one_line_errors(parser: argparse.ArgumentParser, prog: str) -> None:
    def error(message: str) -> NoReturn:
        print(f"{prog}: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]


def cmd_generate_270(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.inquiries.eligibility import generate_270

    if args.days_ahead < 0 or args.fresh_days < 0:
        print("claimflow generate-270: days must be zero or more", file=sys.stderr)
        return 2
    try:
        result = generate_270(
            get_engine(), Path(args.out), days_ahead=args.days_ahead, fresh_days=args.fresh_days
        )
    except OSError as exc:
        print(f"claimflow generate-270: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()))
    return 0


def cmd_generate_276(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.inquiries.claim_status import generate_276

    if args.older_than is not None and args.older_than < 0:
        print("claimflow generate-276: days must be zero or more", file=sys.stderr)
        return 2
    try:
        result = generate_276(get_engine(), Path(args.out), older_than=args.older_than)
    except OSError as exc:
        print(f"claimflow generate-276: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict()))
    return 0


def cmd_eligibility_check(args: argparse.Namespace) -> int:
    from claimflow.db.session import get_engine
    from claimflow.inquiries.eligibility_realtime import (
        CoreConnectionError,
        CoreRejected,
        RealtimeInputError,
        check_patient,
    )

    prog = "claimflow eligibility check"
    try:
        answer = check_patient(get_engine(), args.patient, payer=args.payer, form=args.envelope)
    except RealtimeInputError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except (CoreConnectionError, CoreRejected) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer.as_dict()) if args.format == "json" else answer.text())
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "generate-270",
        help="write 270 eligibility inquiries for coverages with claims or visits coming up",
        description="claimflow generate-270 --out DIR [--days-ahead N] [--fresh-days N]",
    )
    g.add_argument("--out", required=True, help="folder for the 270 files")
    g.add_argument(
        "--days-ahead",
        type=int,
        default=7,
        help="service dates up to N days ahead (default 7); ready claims always",
    )
    g.add_argument(
        "--fresh-days", type=int, default=30, help="skip coverages verified in the last N days (default 30)"
    )
    g.set_defaults(handler=cmd_generate_270)
    _one_line_errors(g, "claimflow generate-270")
    s = sub.add_parser(
        "generate-276",
        help="write 276 claim status requests for claims with no 277CA or no 835 after the configured days",
        description="claimflow generate-276 --out DIR [--older-than DAYS]",
    )
    s.add_argument("--out", required=True, help="folder for the 276 files")
    s.add_argument(
        "--older-than",
        type=int,
        default=None,
        help="days since the claim was sent (default: CLAIMFLOW_WORKLIST_NO_277CA_DAYS / _NO_835_DAYS)",
    )
    s.set_defaults(handler=cmd_generate_276)
    _one_line_errors(s, "claimflow generate-276")
    e = sub.add_parser(
        "eligibility",
        help="real-time eligibility (270/271 over CAQH CORE connectivity)",
        description="claimflow eligibility check --patient MRN [--payer CODE] [--format text|json]",
    )
    es = e.add_subparsers(dest="eligibility_command", required=True, metavar="SUBCOMMAND")
    c = es.add_parser(
        "check",
        help="send one 270 now and print the payer's answer (CLAIMFLOW_CORE_URL, CLAIMFLOW_CORE_CERT_SHA256)",
        description="claimflow eligibility check --patient MRN [--payer CODE] [--format text|json]",
    )
    c.add_argument("--patient", required=True, metavar="MRN", help="the patient's MRN (account number)")
    c.add_argument("--payer", metavar="CODE", help="payer id of the coverage to ask about (default: primary)")
    c.add_argument("--format", choices=("text", "json"), default="text", help="plain words (default) or JSON")
    c.add_argument(
        "--envelope",
        choices=("multipart", "soap"),
        default="multipart",
        help="CORE envelope: MIME multipart (default) or SOAP 1.2",
    )
    c.set_defaults(handler=cmd_eligibility_check)
    _one_line_errors(c, "claimflow eligibility check")
    _one_line_errors(e, "claimflow eligibility")
