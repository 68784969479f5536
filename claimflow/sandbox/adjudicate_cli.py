"""``claimflow sandbox adjudicate``: the sandbox payer without SFTP.

::

    claimflow sandbox adjudicate out/claims.837 --out responses/ [--seed 42] [--state FILE]
                                 [--run-date 2025-01-21] [--defer-payments | --release-payments]

Answers each 837 (in the order given) with TA1/999/277CA and, unless ``--defer-payments``, then runs
one payment run so the 835s come back too. ``--release-payments`` (no files needed) runs only a
payment run, for the "next night". Prints the files written, one per line. The state file (default
``<out>/.payer-state.json``) keeps deductibles, adjudicated claims and pending payments between calls;
use the same seed with the same state file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimflow.sandbox.payer import adjudicate_file, release_payments
from claimflow.sandbox.payer.state import StateError
from edi.errors import X12Error

DEFAULT_SEED = 42


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DD") from None


DESCRIPTION = "Answer 837 files like a clearinghouse and payer: TA1/999/277CA now, 835 at a payment run."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", type=Path, metavar="FILE.837", help="837P/837I interchanges")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="where responses are written")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"simulator seed (default {DEFAULT_SEED})")
    p.add_argument("--state", type=Path, metavar="FILE", help="state file (default DIR/.payer-state.json)")
    p.add_argument(
        "--run-date", type=_date, metavar="YYYY-MM-DD", help="receipt/payment date (default today)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--defer-payments", action="store_true", help="acknowledge only; 835s wait for --release-payments"
    )
    mode.add_argument(
        "--release-payments", action="store_true", help="run a payment run (835s of earlier uploads)"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="claimflow sandbox adjudicate", description=DESCRIPTION)
    add_arguments(p)
    return p


def add_subcommands(subparsers: Any) -> None:
    """Register ``claimflow sandbox adjudicate`` (next to ``sandbox serve`` when that is registered)."""
    existing = subparsers.choices.get("sandbox")
    sandbox_sub = None
    if existing is not None:
        sandbox_sub = next((a for a in existing._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sandbox_sub is None:
            sandbox_sub = existing.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    else:
        sb = subparsers.add_parser("sandbox", help="the built-in sandbox clearinghouse")
        sandbox_sub = sb.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    p = sandbox_sub.add_parser("adjudicate", help="answer 837 files without SFTP", description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(handler=run)


def _inquiry_kind(path: Path) -> str | None:
    """``"270"`` or ``"276"`` from the file's ST01, else None (837s and anything else)."""
    from edi.reader import iter_segments

    try:
        for _n, el in iter_segments(path.read_bytes()[:4096], log_padding=False):
            if el[0] == "ST":
                return el[1] if len(el) > 1 and el[1] in ("270", "276") else None
    except X12Error:
        return None
    return None


def answer_inquiry(
    path: Path, out_dir: Path, kind: str, *, state_path: Path, seed: int, run_date: dt.date
) -> Path:
    """Answer one 270 (→ .271) or 276 (→ .277) into ``out_dir``; see ``claimflow.sandbox.payer.inquiries``."""
    from claimflow.sandbox.payer import _write_atomic
    from claimflow.sandbox.payer.inquiries import answer_270, answer_276
    from claimflow.sandbox.payer.state import locked_state

    with locked_state(Path(state_path), seed) as st:
        if kind == "270":
            data, ext = answer_270(path, st, seed=seed, run_date=run_date), "271"
        else:
            data, ext = answer_276(path, st, seed=seed, run_date=run_date), "277"
        return _write_atomic(Path(out_dir), f"{path.stem}.{ext}", data)


def run(args: argparse.Namespace) -> int:
    """The command itself; exit 0, 1 when something could not be answered, 2 for usage errors."""
    if not args.files and not args.release_payments:
        print(
            "claimflow sandbox adjudicate: give at least one FILE.837, or --release-payments", file=sys.stderr
        )
        return 2
    state = args.state or args.out / ".payer-state.json"
    run_date = args.run_date or dt.date.today()
    written: list[Path] = []
    try:
        for f in args.files:
            if not f.is_file():
                print(f"{f}: no such file", file=sys.stderr)
                return 1
            inquiry = _inquiry_kind(f)
            if inquiry is not None:  # a 270 or 276: answered with a 271 / 277 (X212) right away
                written.append(
                    answer_inquiry(f, args.out, inquiry, state_path=state, seed=args.seed, run_date=run_date)
                )
                continue
            written += adjudicate_file(
                f, args.out, state_path=state, seed=args.seed, run_date=run_date, defer_payments=True
            )
        if not args.defer_payments:  # one payment run for everything acknowledged so far
            written += release_payments(args.out, state_path=state, seed=args.seed, run_date=run_date)
    except (StateError, X12Error, OSError) as exc:
        print(f"claimflow sandbox adjudicate: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def airflow_connection(
    *, partner: str, host: str, port: int, user: str, key_file: Path, host_key_line: str, receiver_id: str
) -> tuple[str, str]:
    """``(variable, value)`` of the Airflow connection that reaches a running ``claimflow sandbox serve``:
    ``AIRFLOW_CONN_CLAIMFLOW_<PARTNER>`` as JSON, with the server's host key pinned (never
    ``no_host_key_check``), the login and private key file the server authorizes, and the mailbox folders.
    A key *file path*, never key material."""
    import json

    extra = {
        "host_key": " ".join(host_key_line.split()[:2]),  # "ssh-ed25519 AAAA…" (no comment)
        "key_file": str(key_file),
        "look_for_keys": "false",
        "remote_outbound": "/inbound",
        "remote_inbound": "/outbound",
        "isa_receiver_id": receiver_id,
        "usage_indicator": "T",
    }
    conn = {"conn_type": "sftp", "host": host, "port": port, "login": user, "extra": extra}
    return f"AIRFLOW_CONN_CLAIMFLOW_{partner.upper()}", json.dumps(conn)


def write_env_file(path: Path, variables: Sequence[tuple[str, str]]) -> None:
    """``export NAME='value'`` lines (``. FILE`` in a shell), written 0600: it names our key file."""
    import os
    import shlex

    text = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)  # whole or absent: a script waiting for the file never reads half of it


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
