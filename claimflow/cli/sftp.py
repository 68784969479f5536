"""``claimflow sftp put|fetch`` and ``claimflow sandbox serve``.

Partner profiles come from the environment (``CLAIMFLOW_PARTNER_<NAME>_*`` or a JSON blob in
``CLAIMFLOW_PARTNER_<NAME>``, see :mod:`sftp.partner`). Nothing heavy is imported until a handler runs.

Exit codes follow ``claimflow.cli``: 0 success; 1 the command ran but something was refused or failed
(profile mismatch, host key, authentication, network after retries, a remote file not fetched: too big,
too slow, refused); 2 bad usage or configuration.

``put`` checks *every* interchange of a file (ISA15 usage, ISA07/08 receiver, ISA05/06 sender) against
the profile; a refusal names the interchange's position, ISA13 and byte offset. ``fetch`` prints one
``failed  '<name>': <reason>`` line per remote file it could not take (``--json``: on stderr) and goes on
with the others.

::

    claimflow sftp put out/*.x12 --partner sandbox
    claimflow sftp fetch --partner sandbox [--inbox DIR]
    claimflow sandbox serve --root ./sandbox --port 2222          # loopback by default; Ctrl-C stops it
    claimflow sandbox serve --root ./sandbox --payer --core-port 8443   # + real-time CORE endpoint (HTTPS)

``--core-port`` also starts the sandbox's CAQH CORE real-time endpoint (:mod:`claimflow.sandbox.core_server`:
``POST /core/realtime``, TLS with a self-signed certificate kept in ``<root>/.sandbox/core/``) answering
270s with the same payer seed and state as the SFTP payer; it prints ``CLAIMFLOW_CORE_URL`` and the
certificate's ``CLAIMFLOW_CORE_CERT_SHA256`` for ``claimflow eligibility check``. ``--core-username``
requires credentials (password from ``CLAIMFLOW_CORE_PASSWORD``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_SANDBOX_PORT = 2222
DEFAULT_SANDBOX_USER = "claimflow"


def _err(msg: str) -> None:
    print(f"claimflow: {msg}", file=sys.stderr)


def _load_profile(name: str) -> Any:
    from sftp.partner import profile_from_env

    return profile_from_env(name)


def _default_inbox(partner: str) -> Path:
    from claimflow.settings import get_settings

    return get_settings().inbox_dir / partner


# ---------------------------------------------------------------------------------------------- sftp put


def cmd_sftp_put(args: argparse.Namespace) -> int:
    import logging

    from sftp.connect import open_sftp
    from sftp.errors import ProfileConfigError, ProfileMismatch, RemoteNameConflict, SFTPError
    from sftp.retry import RetryPolicy, retry_call
    from sftp.transfer import UploadResult, list_remote, upload

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        profile = _load_profile(args.partner)
    except ProfileConfigError as exc:
        _err(str(exc))
        return 2
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        _err(f"no such file: {', '.join(missing)}")
        return 2

    done: dict[Path, UploadResult] = {}
    refused: dict[Path, str] = {}

    def attempt() -> None:
        todo = [f for f in files if f not in done and f not in refused]
        if not todo:
            return
        with open_sftp(profile) as sftp:
            listing = list_remote(sftp, profile.remote_outbound, profile)
            for f in todo:
                try:
                    done[f] = upload(sftp, f, profile, remote_listing=listing)
                except (ProfileMismatch, RemoteNameConflict) as exc:  # this file only; go on with the rest
                    refused[f] = str(exc)

    policy = RetryPolicy(attempts=1) if args.no_retry else RetryPolicy.from_profile(profile)
    failure: str | None = None
    try:
        retry_call(attempt, policy, what=f"upload to partner {profile.name}")
    except (SFTPError, OSError) as exc:
        failure = str(exc)

    for f in files:
        if f in done:
            r = done[f]
            status = "already-present" if r.already_present else "sent"
            if args.json:
                print(
                    json.dumps(
                        {
                            "file": str(f),
                            "status": status,
                            "remote": r.remote_path,
                            "size": r.size,
                            "sha256": r.sha256,
                            "isa13": r.isa_control_number,
                        }
                    )
                )
            else:
                print(f"{status:15} {f} -> {r.remote_path} ({r.size} bytes, sha256 {r.sha256[:12]}…)")
        elif f in refused:
            if args.json:
                print(json.dumps({"file": str(f), "status": "refused", "error": refused[f]}))
            else:
                print(f"{'refused':15} {refused[f]}")
        elif args.json:
            print(json.dumps({"file": str(f), "status": "not-sent"}))
        else:
            print(f"{'not sent':15} {f}")
    if failure:
        _err(failure)
    return 1 if failure or refused else 0


# -------------------------------------------------------------------------------------------- sftp fetch


def cmd_sftp_fetch(args: argparse.Namespace) -> int:
    import logging

    from sftp.connect import open_sftp
    from sftp.errors import ProfileConfigError, SFTPError, TransientTransferError
    from sftp.retry import RetryPolicy, retry_call
    from sftp.transfer import FetchedFile, JsonFileLedger, fetch_new

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        profile = _load_profile(args.partner)
    except ProfileConfigError as exc:
        _err(str(exc))
        return 2
    inbox = Path(args.inbox) if args.inbox else _default_inbox(profile.name)
    ledger = JsonFileLedger(inbox / JsonFileLedger.FILENAME)
    got: list[FetchedFile] = []
    failed: dict[str, str] = {}  # escaped remote name → one-line reason (the last attempt's)

    def attempt() -> None:
        with open_sftp(profile) as sftp:
            try:
                result = fetch_new(sftp, profile, inbox, ledger, stability_wait=args.stability_wait)
            except TransientTransferError as exc:
                got.extend(f for f in exc.fetched if isinstance(f, FetchedFile))
                raise
            got.extend(result)
            failed.clear()
            failed.update((f.name, f.reason) for f in result.failed)

    policy = RetryPolicy(attempts=1) if args.no_retry else RetryPolicy.from_profile(profile)
    failure = None
    try:
        retry_call(attempt, policy, what=f"fetch from partner {profile.name}")
    except (SFTPError, OSError) as exc:
        failure = str(exc)
    for f in got:
        if args.json:
            print(json.dumps(f.to_json()))
        else:
            print(f"new  {f.local_path}  ({f.size} bytes, sha256 {f.sha256[:12]}…, remote {f.remote_path})")
    for name, reason in failed.items():  # one line per file that was not taken; stdout keeps its keys
        if args.json:
            _err(f"not fetched: {name}: {reason}")
        else:
            print(f"failed  {name}: {reason}")
    if not args.json:
        print(f"{len(got)} new file(s) from partner {profile.name} in {inbox}")
        if failed:
            print(f"{len(failed)} file(s) not fetched (see above); the next fetch tries them again")
    if failure:
        _err(failure)
        return 1
    return 1 if failed else 0


# ----------------------------------------------------------------------------------------- sandbox serve


def _load_callable(spec: str) -> Any:
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"--on-upload wants MODULE:FUNCTION, got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    import ipaddress
    import logging
    import signal
    import threading

    from claimflow.sandbox.server import STATE_DIR, SandboxServer, check_partner
    from sftp.keys import ensure_ed25519
    from sftp.partner import env_key

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    root = Path(args.root).resolve()
    try:
        users = [check_partner(u) for u in (args.user or [DEFAULT_SANDBOX_USER])]
        if args.on_upload and args.payer:
            raise ValueError("give --payer or --on-upload, not both")
        on_upload = _load_callable(args.on_upload) if args.on_upload else None
        if args.payer:
            from claimflow.sandbox.payer import make_upload_handler

            # everything comes back at once (TA1/999/277CA and the 835s), as in `sandbox adjudicate`
            on_upload = make_upload_handler(root, args.seed, defer_payments=False)
    except (ValueError, ImportError, AttributeError) as exc:
        _err(str(exc))
        return 2
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        _err(f"warning: listening on {args.host}, not loopback; the sandbox holds test data only")

    limits = {
        k: v
        for k in ("max_file_size", "quota_bytes", "max_connections_per_partner", "max_connections")
        if (v := getattr(args, k)) is not None
    }
    try:
        server = SandboxServer(root, host=args.host, port=args.port, on_upload=on_upload, **limits)
    except ValueError as exc:
        _err(str(exc))
        return 2
    keys = {}
    for user in users:
        pair = ensure_ed25519(root / STATE_DIR / "clients" / f"{user}_ed25519", comment=f"{user}@sandbox")
        server.add_partner(user, pair.public_line)
        keys[user] = pair
    core = None
    if args.core_port is not None:
        import os

        from claimflow.sandbox.core_server import CoreServer

        password = os.environ.get("CLAIMFLOW_CORE_PASSWORD") if args.core_username else None
        if args.core_username and not password:
            _err("--core-username needs CLAIMFLOW_CORE_PASSWORD in the environment")
            return 2
        try:
            core = CoreServer(
                root,
                host=args.host,
                port=args.core_port,
                seed=args.seed,
                username=args.core_username,
                password=password,
                receiver_id=args.receiver_id,
            )
        except (OSError, ValueError) as exc:
            _err(f"CORE endpoint: {exc}")
            return 2
    try:
        server.start()
    except OSError as exc:
        _err(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    if core is not None:
        try:
            core.start()
        except OSError as exc:
            server.stop()
            _err(f"cannot listen on {args.host}:{args.core_port}: {exc.strerror or exc}")
            return 1

    prefix = env_key(args.profile_name)
    print(f"sandbox clearinghouse SFTP server on {args.host}:{server.port}  (root {root})")
    print(f"host key:     {server.host_key_line()}")
    print(f"known_hosts:  {server.known_hosts_line()}")
    for user, pair in keys.items():
        print(f"mailbox {user}: {server.mailbox(user)}  (inbound/ = claims in, outbound/ = responses out)")
        print(f"  client key: {pair.private_path}  (public: {pair.public_path})")
    first = users[0]
    print(f"\npoint claimflow at it (partner profile '{args.profile_name}', mailbox '{first}'):")
    for var, value in (
        ("HOST", args.host),
        ("PORT", str(server.port)),
        ("USERNAME", first),
        ("PRIVATE_KEY_PATH", str(keys[first].private_path)),
        ("HOST_KEY", server.host_key_line()),
        ("REMOTE_OUTBOUND", "/inbound"),
        ("REMOTE_INBOUND", "/outbound"),
        ("ISA_RECEIVER_ID", args.receiver_id),
        ("USAGE_INDICATOR", "T"),
    ):
        print(f"  export {prefix}_{var}='{value}'")
    from claimflow.sandbox.adjudicate_cli import airflow_connection, write_env_file

    conn = airflow_connection(
        partner=args.profile_name,
        host=args.host,
        port=server.port,
        user=first,
        key_file=keys[first].private_path,
        host_key_line=server.host_key_line(),
        receiver_id=args.receiver_id,
    )
    print(f"\nor, for Airflow (login {first}, this key file, this host key):\n  export {conn[0]}='{conn[1]}'")
    if args.env_file:
        write_env_file(Path(args.env_file), [conn])
        print(f"  (also written to {args.env_file}: `. {args.env_file}`)")
    if not args.payer and not args.on_upload:
        print("note: without --payer nothing answers uploads (no 999/277CA/835 will come back)")
    if core is not None:
        print(f"\nreal-time eligibility (CAQH CORE, HTTPS): POST {core.url}")
        print(f"certificate SHA-256: {core.fingerprint}  ({core.cert_path})")
        print(f"  export CLAIMFLOW_CORE_URL='{core.url}'")
        print(f"  export CLAIMFLOW_CORE_CERT_SHA256='{core.fingerprint}'")
        if args.core_username:
            print(f"  export CLAIMFLOW_CORE_USERNAME='{args.core_username}'  (and CLAIMFLOW_CORE_PASSWORD)")
    print("\nCtrl-C to stop.", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if core is not None:
            core.stop()
        server.stop()
    print("sandbox stopped")
    return 0


# ------------------------------------------------------------------------------------------------ wiring


def _subparsers_of(parser: argparse.ArgumentParser) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def add_sandbox_subcommands(sandbox_sub: Any) -> None:
    """Add ``serve`` to an existing ``claimflow sandbox`` subparsers object."""
    s = sandbox_sub.add_parser("serve", help="run the sandbox clearinghouse's SFTP server until Ctrl-C")
    s.add_argument("--root", required=True, help="folder holding the mailboxes and the server's keys")
    s.add_argument(
        "--port", type=int, default=DEFAULT_SANDBOX_PORT, help=f"default {DEFAULT_SANDBOX_PORT}; 0 = any"
    )
    s.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1, loopback only)")
    s.add_argument(
        "--user",
        action="append",
        metavar="NAME",
        help=f"trading-partner mailbox / SSH user (repeatable; default {DEFAULT_SANDBOX_USER})",
    )
    s.add_argument(
        "--profile-name",
        default="sandbox",
        help="partner name for the printed CLAIMFLOW_PARTNER_<NAME>_* exports (default sandbox)",
    )
    s.add_argument(
        "--receiver-id", default="SANDBOXCH", help="ISA08 the sandbox answers to (default SANDBOXCH)"
    )
    s.add_argument(
        "--payer",
        action="store_true",
        help="answer every upload with the payer simulator (TA1/999/277CA and 835s into outbound/)",
    )
    s.add_argument("--seed", type=int, default=42, help="payer simulator seed (default 42)")
    s.add_argument(
        "--on-upload",
        metavar="MODULE:FUNCTION",
        help="another callable(partner, path) to run for every finished upload",
    )
    for flag, what in (  # defaults live on SandboxServer (256 MiB, 1 GiB, 4, 64; docs/SANDBOX.md)
        ("--max-file-size", "largest file a partner may upload, bytes (default 256 MiB)"),
        ("--quota-bytes", "bytes one partner may keep in its inbound/ (default 1 GiB)"),
        ("--max-connections-per-partner", "concurrent logins per mailbox (default 4)"),
        ("--max-connections", "connections in all (default 64)"),
    ):
        s.add_argument(flag, type=int, default=None, metavar="N", help=what)
    s.add_argument(
        "--env-file",
        metavar="FILE",
        help="also write `export AIRFLOW_CONN_CLAIMFLOW_<NAME>=…` (user, key file, host key) to FILE",
    )
    s.add_argument(
        "--core-port",
        type=int,
        default=None,
        metavar="P",
        help="also serve real-time 270s (CAQH CORE, HTTPS POST /core/realtime) on port P "
        "(off by default; 8443 is customary; 0 = any)",
    )
    s.add_argument(
        "--core-username",
        metavar="NAME",
        help="require this CORE username (password: CLAIMFLOW_CORE_PASSWORD); default no credentials",
    )
    s.add_argument("-v", "--verbose", action="store_true", help="log every login and transfer")
    s.set_defaults(handler=cmd_sandbox_serve)


def add_subcommands(subparsers: Any) -> None:
    """Register ``sftp put|fetch`` and ``sandbox serve`` on the top-level ``claimflow`` subparsers.

    If another module already registered ``sandbox``, ``serve`` is added to its subcommands.
    """
    p = subparsers.add_parser("sftp", help="exchange files with a clearinghouse over SFTP")
    ss = p.add_subparsers(dest="sftp_command", required=True, metavar="SUBCOMMAND")

    put = ss.add_parser("put", help="upload interchange files (checked against the partner profile)")
    put.add_argument("files", nargs="+", metavar="FILE")
    put.add_argument("--partner", required=True, help="profile name: CLAIMFLOW_PARTNER_<NAME>_* variables")
    put.add_argument("--no-retry", action="store_true", help="fail on the first transient error")
    put.add_argument("--json", action="store_true", help="one JSON object per file")
    put.set_defaults(handler=cmd_sftp_put)

    fetch = ss.add_parser("fetch", help="download new files from the partner into the inbox")
    fetch.add_argument("--partner", required=True, help="profile name: CLAIMFLOW_PARTNER_<NAME>_* variables")
    fetch.add_argument("--inbox", help="local folder (default CLAIMFLOW_DATA_DIR/inbox/<partner>)")
    fetch.add_argument(
        "--stability-wait",
        type=float,
        default=None,
        help="seconds between the two listings (default: the profile's)",
    )
    fetch.add_argument("--no-retry", action="store_true", help="fail on the first transient error")
    fetch.add_argument("--json", action="store_true", help="one JSON object per new file")
    fetch.set_defaults(handler=cmd_sftp_fetch)

    existing = subparsers.choices.get("sandbox")
    if existing is not None:
        sandbox_sub = _subparsers_of(existing)
        if sandbox_sub is None:
            sandbox_sub = existing.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    else:
        sb = subparsers.add_parser("sandbox", help="the built-in sandbox clearinghouse")
        sandbox_sub = sb.add_subparsers(dest="sandbox_command", required=True, metavar="SUBCOMMAND")
    add_sandbox_subcommands(sandbox_sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimflow")
    add_subcommands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    handler = getattr(args, "handler", None)
    if handler is None:
        build_parser().print_help()
        return 2
    return int(handler(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
