"""The sandbox clearinghouse's payer simulator: answers an uploaded 837 like a clearinghouse and payer.

"Acknowledge now, pay later", as in the real world:

* on upload: a TA1 when the envelope is bad (then nothing else) or when ISA14=1 asks for one; a 999 per
  interchange (one 999 transaction set per functional group, IK3/IK4 from pyx12's validation); a 277CA
  for the claims of the accepted transaction sets (A2:20 with REF*1K, or a rejection such as A7:562:85);
* at the next payment run (:func:`release_payments`, e.g. the next night): one 835 per payer and run,
  one transaction set per payee; reversals/corrections and PLB adjustments promised by earlier runs.

``adjudicate_file(..., defer_payments=False)`` (the default, and the CLI's) runs the payment run right
after the acknowledgments, so everything comes back at once.

Response file names never carry PHI: ``<ISA13>.ta1``, ``<ISA13>.999``, ``<ISA13>.277`` (the *received*
ISA13, so a user can match them to the upload) and ``<payer id>-<YYYYMMDD>-<run>.835``.

State (accumulators, claims already adjudicated, pending payments, scheduled reversals, control numbers)
lives in one JSON file; see :mod:`claimflow.sandbox.payer.state`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from claimflow.sandbox.payer.claims837 import Claim837, Group837, Interchange837, read_837
from claimflow.sandbox.payer.engine import ClaimAck, EngineConfig, PayerSimulator, Remittance, Route
from claimflow.sandbox.payer.responses import GroupResult, write_277ca, write_835, write_999, write_ta1
from claimflow.sandbox.payer.state import SandboxState, StateControlNumbers, locked_state
from edi.errors import X12ParseError

__all__ = [
    "DEFAULT_STATE_NAME",
    "EngineConfig",
    "SandboxPayer",
    "acknowledge",
    "adjudicate_file",
    "default_state_path",
    "make_upload_handler",
    "on_upload",
    "payment_run",
    "release_payments",
]

log = logging.getLogger(__name__)

DEFAULT_STATE_NAME = "payer-state.json"
ACK_TIME = dt.time(21, 0)  # acknowledgments are stamped at this time of the run date (deterministic output)
PAY_TIME = dt.time(6, 0)  # payment runs at this time

Output = tuple[str, bytes]
"""A response to deliver: file name and bytes."""


def default_state_path(root: Path) -> Path:
    """``<root>/.sandbox/payer-state.json``: next to the SFTP server's own state, outside every mailbox."""
    return Path(root) / ".sandbox" / DEFAULT_STATE_NAME


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "X"


def _route(partner: str, ich: Interchange837, group: Group837, claim: Claim837) -> Route:
    return Route(
        partner=partner,
        our_qualifier=ich.receiver_qualifier,
        our_id=ich.receiver_id,
        their_qualifier=ich.sender_qualifier,
        their_id=ich.sender_id,
        gs_sender=group.receiver or ich.receiver_id,
        gs_receiver=group.sender or ich.sender_id,
        usage=ich.usage if ich.usage in ("P", "T") else "T",
        payer_id=claim.payer_id,
        payer_name=claim.payer_name,
        payer_address=claim.payer_address,
        payee=claim.billing,
    )


def _validate(path: Path, ich: Interchange837) -> tuple[list[GroupResult], list[str]]:
    """pyx12 findings (through ``edi.validate``) as 999 material, plus TA1 codes for the envelope."""
    from claimflow.sandbox.payer.validation import validate_837

    return validate_837(path, ich)


def acknowledge(
    path: Path,
    state: SandboxState,
    *,
    seed: int,
    run_date: dt.date,
    partner: str = "sandbox",
    config: EngineConfig | None = None,
) -> list[Output]:
    """TA1/999/277CA for one received file; accepted claims are adjudicated and queued for payment."""
    created = dt.datetime.combine(run_date, ACK_TIME)
    ctl = StateControlNumbers(state)
    try:
        ich = read_837(path)
    except X12ParseError as exc:
        log.warning("sandbox payer: %s: not answerable (%s)", path.name, exc.message)
        return []
    name = _safe(ich.control_number)
    if ich.envelope_errors:
        log.info("sandbox payer: %s: interchange rejected, TA1 %s", path.name, ich.envelope_errors[0])
        ta1 = write_ta1(ich, ich.envelope_errors[0], ctl.next_interchange(), created)
        return [(f"{name}.ta1", ta1.encode("ascii"))]
    results, ta1_codes = _validate(path, ich)
    if ta1_codes:
        log.info("sandbox payer: %s: interchange rejected by validation, TA1 %s", path.name, ta1_codes[0])
        return [
            (f"{name}.ta1", write_ta1(ich, ta1_codes[0], ctl.next_interchange(), created).encode("ascii"))
        ]
    out: list[Output] = []
    if ich.ack_requested == "1":
        out.append((f"{name}.ta1", write_ta1(ich, "000", ctl.next_interchange(), created).encode("ascii")))
    spans = {t.control_number: t.claim_spans() for g in ich.groups for t in g.transactions}
    if results:
        text = write_999(ich, results, ctl.next_interchange(), ctl.next_group(), created, spans)
        out.append((f"{name}.999", text.encode("ascii")))
    accepted_st = {(g.control_number, t.control_number) for g in results for t in g.accepted_transactions()}
    claims = [
        (g, c)
        for g in ich.groups
        for t in g.transactions
        if (g.control_number, t.control_number) in accepted_st and g.functional_id == "HC"
        for c in t.claims
    ]
    if not claims:
        return out
    payer = PayerSimulator(state, seed, config)
    acks: list[ClaimAck] = []
    for group, claim in claims:
        ack = payer.front_end(claim, run_date)
        acks.append(ack)
        if ack.accepted:
            payer.accept(ack, _route(partner, ich, group, claim), run_date)
    rejected = sum(1 for a in acks if not a.accepted)
    log.info(
        "sandbox payer: %s: %d claims, %d accepted, %d rejected",
        path.name,
        len(acks),
        len(acks) - rejected,
        rejected,
    )
    text = write_277ca(ich, acks, ctl.next_interchange(), ctl.next_group(), created, run_date)
    out.append((f"{name}.277", text.encode("ascii")))
    return out


def payment_run(
    state: SandboxState,
    *,
    seed: int,
    run_date: dt.date,
    partner: str | None = None,
    config: EngineConfig | None = None,
) -> list[tuple[str, str, bytes]]:
    """One payment run: ``(partner, file name, 835 bytes)`` per payer and submitter with something due."""
    remits = PayerSimulator(state, seed, config).release_payments(run_date, partner)
    ctl = StateControlNumbers(state)
    created = dt.datetime.combine(run_date, PAY_TIME)
    files: dict[tuple[str, str, str], list[Remittance]] = {}
    for r in remits:
        files.setdefault((r.route.partner, r.route.their_id, r.route.payer_id), []).append(r)
    out: list[tuple[str, str, bytes]] = []
    names: set[tuple[str, str]] = set()
    for (part, _, payer_id), group in files.items():
        isa13 = ctl.next_interchange()
        text = write_835(group, isa13, ctl.next_group(), created)
        name = f"{_safe(payer_id)}-{run_date:%Y%m%d}-{group[0].run_no:04d}.835"
        if (part, name) in names:
            name = f"{name[:-4]}-{isa13:09d}.835"
        names.add((part, name))
        out.append((part, name, text.encode("ascii")))
    if out:
        log.info("sandbox payer: payment run %d: %d 835 file(s)", remits[0].run_no, len(out))
    return out


def _write_atomic(out_dir: Path, name: str, data: bytes) -> Path:
    """Temp name in the same directory, fsync, then rename; an existing name gets ``-2``, ``-3``…"""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem, dot, ext = name.rpartition(".")
    final = out_dir / name
    n = 1
    while final.exists():
        n += 1
        final = out_dir / f"{stem}-{n}{dot}{ext}"
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return final


def adjudicate_file(
    path_837: Path,
    out_dir: Path,
    *,
    state_path: Path,
    seed: int,
    run_date: dt.date,
    defer_payments: bool = False,
    partner: str = "sandbox",
    config: EngineConfig | None = None,
) -> list[Path]:
    """Answer one 837 file into ``out_dir``; returns the files written, in order.

    With ``defer_payments`` only the acknowledgments are written and the 835s wait for the next
    :func:`release_payments`; otherwise a payment run follows immediately (everything at once).
    """
    written: list[Path] = []
    with locked_state(Path(state_path), seed) as state:
        outputs = acknowledge(
            Path(path_837), state, seed=seed, run_date=run_date, partner=partner, config=config
        )
        if not defer_payments:
            outputs += [
                (name, data)
                for _, name, data in payment_run(
                    state, seed=seed, run_date=run_date, partner=partner, config=config
                )
            ]
        for name, data in outputs:
            written.append(_write_atomic(Path(out_dir), name, data))
    return written


def release_payments(
    out_dir: Path,
    *,
    state_path: Path,
    seed: int,
    run_date: dt.date,
    partner: str | None = None,
    config: EngineConfig | None = None,
) -> list[Path]:
    """Run a payment run and write its 835s into ``out_dir`` (all partners unless ``partner``)."""
    written: list[Path] = []
    with locked_state(Path(state_path), seed) as state:
        for _, name, data in payment_run(state, seed=seed, run_date=run_date, partner=partner, config=config):
            written.append(_write_atomic(Path(out_dir), name, data))
    return written


def _deliver(root: Path, partner: str, name: str, data: bytes) -> Path:
    """``claimflow.sandbox.server.deliver`` under a name that does not exist yet."""
    from claimflow.sandbox.server import deliver

    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 1
    while True:
        try:
            return deliver(root, partner, candidate, data)
        except FileExistsError:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"


class SandboxPayer:
    """The SFTP server's ``on_upload`` callback plus the nightly payment run.

    ``payer(partner, path)`` answers an upload into the partner's ``outbound/`` (TA1/999/277CA, and the
    835s too unless ``defer_payments``); ``payer.release_payments(run_date)`` delivers the 835s of a
    payment run to every partner with something due. ``today`` decides the receipt/run date of uploads.
    """

    def __init__(
        self,
        root: Path,
        seed: int,
        state_path: Path | None = None,
        *,
        defer_payments: bool = True,
        today: Callable[[], dt.date] = dt.date.today,
        config: EngineConfig | None = None,
    ) -> None:
        self.root = Path(root)
        self.seed = seed
        self.state_path = Path(state_path) if state_path is not None else default_state_path(self.root)
        self.defer_payments = defer_payments
        self.today = today
        self.config = config

    def __call__(self, partner: str, path: Path) -> None:
        run_date = self.today()
        with locked_state(self.state_path, self.seed) as state:
            self._answer(state, partner, Path(path), run_date, deliver=True)

    def answer_many(self, items: Iterable[tuple[str, Path]]) -> None:
        """``payer(partner, path)`` for each item in order, under one state load and one save.

        Each call of ``payer(partner, path)`` reads and rewrites the whole state file, which grows by a
        record per claim: a night of many files costs quadratic time. Here the state stays in memory
        between files; the delivered files and the final state are byte for byte those of the calls one
        by one (the state only ever holds JSON values, so a save/load between files changes nothing).

        If an item fails, the items before it stay answered, as with separate calls: the state as of
        the batch's start is loaded again, those items are replayed on it without delivering (their
        answers are out already; the payer is deterministic) and that state is saved before re-raising.
        An interrupt (``KeyboardInterrupt``) saves nothing, as it would not be worth a long replay.
        """
        done: list[tuple[str, Path, dt.date]] = []
        with locked_state(self.state_path, self.seed) as state:
            for partner, path in items:
                run_date = self.today()
                try:
                    self._answer(state, partner, Path(path), run_date, deliver=True)
                except Exception:
                    replay = SandboxState.load(self.state_path, self.seed)
                    for part, done_path, day in done:
                        self._answer(replay, part, done_path, day, deliver=False)
                    replay.save()
                    raise
                done.append((partner, Path(path), run_date))

    def _answer(
        self, state: SandboxState, partner: str, path: Path, run_date: dt.date, *, deliver: bool
    ) -> None:
        """One upload's work on a loaded state: acknowledgments, the payment run unless deferred, delivery."""
        outputs = acknowledge(
            path, state, seed=self.seed, run_date=run_date, partner=partner, config=self.config
        )
        files = [(partner, n, d) for n, d in outputs]
        if not self.defer_payments:
            files += payment_run(
                state, seed=self.seed, run_date=run_date, partner=partner, config=self.config
            )
        if deliver:
            for part, name, data in files:
                _deliver(self.root, part, name, data)

    def release_payments(self, run_date: dt.date | None = None, partner: str | None = None) -> list[Path]:
        """Payment run: deliver the 835s into each partner's ``outbound/``; returns the paths."""
        when = run_date or self.today()
        delivered = []
        with locked_state(self.state_path, self.seed) as state:
            for part, name, data in payment_run(
                state, seed=self.seed, run_date=when, partner=partner, config=self.config
            ):
                delivered.append(_deliver(self.root, part, name, data))
        return delivered


def make_upload_handler(
    root: Path,
    seed: int,
    state_path: Path | None = None,
    *,
    defer_payments: bool = True,
    today: Callable[[], dt.date] = dt.date.today,
    config: EngineConfig | None = None,
) -> SandboxPayer:
    """``SandboxServer(root, on_upload=make_upload_handler(root, seed))``; keep the returned object to
    call ``.release_payments(run_date)`` for the nightly 835s."""
    return SandboxPayer(root, seed, state_path, defer_payments=defer_payments, today=today, config=config)


DEFAULT_SEED = 42


def on_upload(partner: str, path: Path) -> None:
    """Zero-configuration ``on_upload`` for ``claimflow sandbox serve --on-upload
    claimflow.sandbox.payer:on_upload``.

    The root is found from the upload's path (``<root>/<partner>/inbound/<name>``); the seed comes from
    ``CLAIMFLOW_SANDBOX_SEED`` (default 42). Everything is answered at once (835s included) unless
    ``CLAIMFLOW_SANDBOX_DEFER_PAYMENTS=1``, in which case the 835s wait for a
    :meth:`SandboxPayer.release_payments` (or ``claimflow sandbox adjudicate --release-payments`` with
    ``--state <root>/.sandbox/payer-state.json``, which writes into a folder instead of the mailboxes).
    """
    root = Path(path).resolve().parents[2]
    seed = int(os.environ.get("CLAIMFLOW_SANDBOX_SEED", DEFAULT_SEED))
    defer = os.environ.get("CLAIMFLOW_SANDBOX_DEFER_PAYMENTS", "") in ("1", "true", "yes")
    SandboxPayer(root, seed, defer_payments=defer)(partner, Path(path))
