"""SFTP exchange overhead: claimflow's upload/fetch against plain paramiko put/get, same files, same run.

    uv run python bench/bench_sftp.py                      # 1,000 small files + one 500 MB file
    uv run python bench/bench_sftp.py --big-mb 50 --reps 3 # smaller big file, best of 3
    uv run python bench/bench_sftp.py --server sandbox     # force the in-process sandbox server

Server: a real OpenSSH sshd on loopback (tests/support/sshd.py) when it is installed, else the sandbox
server; the output says which. Both sides use the same paramiko ``SFTPClient`` session.

What "ours" does on top of put/get — the guarantees, not waste:
upload: ISA receiver/usage check, sha256 while sending, temporary name + size check + rename, one listing
of the outbound folder for idempotency; fetch: two-phase local write (``.part``, fsync, link, fsync dir),
sha256, ledger append + fsync, post-download fstat. ``stability_wait`` is 0 here (it is a deliberate pause,
not overhead). The target is an overhead within 10 %.

A third contender, ``paramiko+``, does the same *guarantees* by hand with plain paramiko (put to a temp
name, size check, rename; get, fsync, rename, fsync the folder), so the table separates the cost of
atomicity/durability from the cost of claimflow's own code. Order is rotated each repetition; on a shared
machine run several repetitions and read the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# first, so that ``tests`` is this repository's package (a bench extra ships a top-level ``tests`` too)
sys.path[:] = [str(REPO)] + [p for p in sys.path if p != str(REPO)]

RECEIVER = "SANDBOXCH"
SENDER = "CLAIMFLOW01"


def interchange(path: Path, size: int, control: int) -> None:
    isa = (
        f"ISA*00*          *00*          *ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*250101*1200*^*00501*"
        f"{control:09d}*0*T*:~"
    )
    head = isa + f"GS*HC*{SENDER}*{RECEIVER}*20250101*1200*{control}*X*005010X222A1~ST*837*0001*005010X222A1~"
    seg = "NTE*ADD*" + "CLAIM NOTE " * 6 + "~"
    tail = f"SE*3*0001~GE*1*{control}~IEA*1*{control:09d}~"
    with open(path, "w", encoding="ascii") as fh:
        fh.write(head)
        remaining = size - len(head) - len(tail)
        block = seg * max(1, (1 << 20) // len(seg))
        while remaining > len(block):
            fh.write(block)
            remaining -= len(block)
        if remaining > 0:
            fh.write((seg * (remaining // len(seg) + 1))[:remaining])
        fh.write(tail)


def clear(folder: Path) -> None:
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small-count", type=int, default=1000)
    ap.add_argument("--small-kb", type=float, default=2.0, help="size of each small file (default 2 KB)")
    ap.add_argument("--big-mb", type=float, default=500.0, help="size of the big file (default 500 MB)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions; the median is reported")
    ap.add_argument("--server", choices=["auto", "sshd", "sandbox"], default="auto")
    ap.add_argument("--workdir", help="scratch folder (default: a temp dir, removed at the end)")
    args = ap.parse_args(argv)

    from sftp.connect import open_sftp
    from sftp.keys import generate_ed25519
    from sftp.partner import PartnerProfile
    from sftp.transfer import JsonFileLedger, fetch_new, upload, upload_many
    from tests.support.sshd import Sshd, find_sshd

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-sftp-"))
    work.mkdir(parents=True, exist_ok=True)
    key = generate_ed25519(work / "client_key")
    local = {n: work / n for n in ("small", "big", "ours_in", "plain_in")}
    for d in local.values():
        d.mkdir(parents=True, exist_ok=True)

    @dataclass
    class Side:
        """One contender: its own session, upload folder and responses folder (server-side paths too)."""

        profile: PartnerProfile
        up_dir: Path  # where uploads land, on the server's disk
        responses_dir: Path
        inbox: Path

    use_sshd = args.server == "sshd" or (args.server == "auto" and find_sshd() is not None)
    stop: Callable[[], None]
    common = {
        "private_key_path": str(key.private_path),
        "isa_receiver_id": RECEIVER,
        "isa_sender_id": SENDER,
        "stability_wait": 0.0,
        "io_timeout": 300.0,
        # the big file may pass the 256 MiB default max_file_size on purpose; the per-file deadline
        # (transfer_timeout + size / min_transfer_rate) stays the default
        "max_file_size": max(256 * 1024 * 1024, int(args.big_mb * 1024 * 1024) + (1 << 20)),
    }
    sides: dict[str, Side] = {}
    if use_sshd:
        sshd = Sshd(work / "sshd", authorized_keys=[key.public_line]).start()
        server_name = f"OpenSSH sshd ({sshd.binary}, internal-sftp) on 127.0.0.1:{sshd.port}"
        responses = work / "remote" / "responses"
        responses.mkdir(parents=True)
        for who in ("ours", "paramiko"):
            up = work / "remote" / f"{who}_up"
            up.mkdir(parents=True)
            prof = PartnerProfile(
                name="bench",
                host=sshd.host,
                port=sshd.port,
                username=sshd.user,
                host_key=sshd.host_key_line(),
                remote_outbound=str(up),
                remote_inbound=str(responses),
                **common,  # type: ignore[arg-type]
            )
            sides[who] = Side(prof, up, responses, local["ours_in" if who == "ours" else "plain_in"])
        stop = sshd.stop
    else:
        from claimflow.sandbox.server import SandboxServer

        users = {"ours": "bench", "paramiko": "bench-plain"}
        sandbox = SandboxServer(
            work / "sandbox", authorized_keys={u: key.public_line for u in users.values()}
        )
        sandbox.start()
        server_name = f"claimflow sandbox SFTP server (asyncssh, in-process) on 127.0.0.1:{sandbox.port}"
        for who, u in users.items():
            box = sandbox.mailbox(u)
            prof = sandbox.profile(u, **common)
            sides[who] = Side(
                prof, box / "inbound", box / "outbound", local["ours_in" if who == "ours" else "plain_in"]
            )
        stop = sandbox.stop

    print(f"server: {server_name}")
    small_size = int(args.small_kb * 1024)
    big_size = int(args.big_mb * 1024 * 1024)
    t0 = time.perf_counter()
    smalls = []
    for i in range(args.small_count):
        p = local["small"] / f"claims{i:05d}.837"
        interchange(p, small_size, i + 1)
        smalls.append(p)
    big = local["big"] / "big.837"
    interchange(big, big_size, 999999)
    print(
        f"files: {args.small_count:,} x {small_size:,} B and 1 x {big_size / 1e6:,.0f} MB "
        f"(generated in {time.perf_counter() - t0:.1f}s); {args.reps} rep(s), median shown"
    )

    results: dict[str, dict[str, list[float]]] = {}
    small_label = f"{args.small_count:,} small"
    big_label = f"1 x {big_size / 1e6:,.0f} MB"
    cases = [(small_label, smalls), (big_label, [big])]

    with open_sftp(sides["ours"].profile) as ours_sftp, open_sftp(sides["paramiko"].profile) as plain_sftp:
        ours, plain = sides["ours"], sides["paramiko"]

        def ours_upload(paths: list[Path]) -> None:
            upload_many(ours_sftp, paths, ours.profile)

        def plain_upload(paths: list[Path]) -> None:
            base = plain.profile.remote_outbound
            for p in paths:
                plain_sftp.put(str(p), f"{base}/{p.name}")

        def ours_fetch() -> None:
            got = fetch_new(ours_sftp, ours.profile, ours.inbox, JsonFileLedger(ours.inbox), stability_wait=0)
            assert got, "nothing fetched"

        def plain_fetch() -> None:
            base = plain.profile.remote_inbound
            for name in plain_sftp.listdir(base):
                plain_sftp.get(f"{base}/{name}", str(plain.inbox / name))

        # the same guarantees by hand, without claimflow's checks/hashing/ledger: what atomicity costs
        def plain_atomic_upload(paths: list[Path]) -> None:
            base = plain.profile.remote_outbound
            for p in paths:
                plain_sftp.put(str(p), f"{base}/.{p.name}.part")  # confirm=True: stat, size check
                plain_sftp.rename(f"{base}/.{p.name}.part", f"{base}/{p.name}")

        def plain_durable_fetch() -> None:
            base = plain.profile.remote_inbound
            for name in plain_sftp.listdir(base):
                tmp = plain.inbox / f".{name}.part"
                plain_sftp.get(f"{base}/{name}", str(tmp))
                fd = os.open(tmp, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
                os.rename(tmp, plain.inbox / name)
            fd = os.open(plain.inbox, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        Contender = tuple[str, Callable[[], object], Callable[[], None]]

        def run(case: str, contenders: list[Contender], rep: int) -> None:
            k = rep % len(contenders)  # rotate the order: no contender always runs first
            for who, fn, reset in contenders[k:] + contenders[:k]:
                reset()
                results.setdefault(case, {}).setdefault(who, []).append(timed(fn))

        for rep in range(args.reps):
            for label, paths in cases:
                run(
                    "upload " + label,
                    [
                        ("ours", lambda ps=paths: ours_upload(ps), lambda: clear(ours.up_dir)),
                        ("paramiko", lambda ps=paths: plain_upload(ps), lambda: clear(plain.up_dir)),
                        ("paramiko+", lambda ps=paths: plain_atomic_upload(ps), lambda: clear(plain.up_dir)),
                    ],
                    rep,
                )
            for label, paths in cases:
                for side in sides.values():
                    clear(side.responses_dir)
                for side in {id(s.responses_dir): s for s in sides.values()}.values():
                    for p in paths:  # responses appear server-side (not timed)
                        os.link(p, side.responses_dir / p.name)
                run(
                    "fetch " + label,
                    [
                        ("ours", ours_fetch, lambda: clear(ours.inbox)),
                        ("paramiko", plain_fetch, lambda: clear(plain.inbox)),
                        ("paramiko+", plain_durable_fetch, lambda: clear(plain.inbox)),
                    ],
                    rep,
                )
        # sanity: both sides fetched the same bytes; a re-run of an upload sends nothing
        assert sorted(os.listdir(plain.inbox)) == sorted(
            n for n in os.listdir(ours.inbox) if not n.startswith(".")
        )
        upload_many(ours_sftp, [big], ours.profile)
        assert upload(ours_sftp, big, ours.profile).already_present

    stop()
    print()
    print(
        f"{'case':20} {'claimflow':>10} {'paramiko':>9} {'overhead':>9}  {'paramiko+':>9} {'vs +':>7}"
        f"   {'best-of overhead':>18}   throughput"
    )
    for case, r in results.items():
        t_ours, t_plain, t_plus = (statistics.median(r[k]) for k in ("ours", "paramiko", "paramiko+"))
        b_ours, b_plain = min(r["ours"]), min(r["paramiko"])
        rate = (
            f"{args.small_count / t_ours:,.0f} files/s"
            if "small" in case
            else f"{big_size / 1e6 / t_ours:,.0f} MB/s"
        )
        print(
            f"{case:20} {t_ours:9.2f}s {t_plain:8.2f}s {(t_ours - t_plain) / t_plain * 100:+8.1f}%  "
            f"{t_plus:8.2f}s {(t_ours - t_plus) / t_plus * 100:+6.1f}%   "
            f"{b_ours:5.2f}/{b_plain:5.2f}s {(b_ours - b_plain) / b_plain * 100:+6.1f}%   {rate}"
        )
    print(
        "\nmedians of the repetitions. paramiko = plain put/get. paramiko+ = the same guarantees by hand\n"
        "(put to a temp name + rename; get + fsync + rename + fsync dir), without claimflow's ISA check,\n"
        "sha256, idempotency listing or ledger. best-of = fastest claimflow vs fastest plain run."
    )
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
