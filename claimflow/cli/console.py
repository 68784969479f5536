"""``claimflow console [--host 127.0.0.1] [--port 8765] [--user NAME]``: the RCM console alone, on uvicorn.

The user named in the audit rows is ``--user`` or the OS user (``console:<name>``). The console has no
login of its own: it binds to 127.0.0.1 unless told otherwise; inside Airflow (the plugin) Airflow's auth
manager signs people in. See docs/CONSOLE.md.
"""

from __future__ import annotations

import argparse


def cmd_console(args: argparse.Namespace) -> int:
    import uvicorn

    from claimflow.console.app import create_app

    app = create_app(user=args.user or None)
    # access_log off: uvicorn's lines carry paths, which hold ids only, but there is nothing to gain by them.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "console",
        help="the RCM console in a browser (dashboard, work queues, claims, files)",
        description="claimflow console [--host 127.0.0.1] [--port 8765] [--user NAME]",
    )
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--user", default=None, help="name written in the audit trail (default: the OS user)")
    s.set_defaults(handler=cmd_console)
