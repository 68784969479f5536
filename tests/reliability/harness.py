"""Crash-consistency harness: SIGKILL the nightly load → post → reconcile anywhere, rerun it, and prove
that nothing was lost, nothing was done twice and the ledger still balances.

How it works
============

1. **Corpus** (:func:`build_corpus`, once, cached in a folder): a migrated SQLite database with a seeded
   practice whose ready claims were batched into 837s (``claimflow.services.outbound.generate_batches``), and the
   sandbox payer's answers to those 837s (999, 277CA and 835 files, with reversals, corrections and PLB
   adjustments), listed in delivery order in ``manifest.json``. This is the state before "the night".
2. **Backends**: every trial starts from a byte-identical copy of that state — a copy of the SQLite file,
   or on PostgreSQL ``CREATE DATABASE … TEMPLATE`` of a template database filled once from the SQLite
   template (much faster than migrating each time) — and an empty data folder.
3. **Reference**: one uninterrupted run of :mod:`tests.reliability.crash_worker`. Its trace says how many
   events the night takes — SQL statements, COMMITs and file-system steps (archive/quarantine writes) —
   where each phase begins, and which event each file-system step is.
4. **Kill points** (:meth:`CrashHarness.plan`, seeded): first, right after each distinct file-system
   step once (archive temp file created, copied, fsynced, renamed; quarantine copy, chmod — up to a
   third of the points); the rest stratified uniform over the reference run's events (point *i* of *m*
   falls in the *i*-th *m*-th of the run), so they are spread over the whole night, and every phase
   (receive, load, acks, post, reconcile, balance proof, data quality) gets at least one. Each point has
   a mode (``before``/``after`` the event, or ``during``: a timer 0-40 ms after it starts), and about a
   quarter of them are chains: the rerun is killed again (1-2 more times) before the final,
   uninterrupted rerun.
5. **Comparison** (:func:`snapshot`, :func:`compare`): after recovery, EVERY claimflow table is compared
   with the reference as a multiset of normalized rows: surrogate ids dropped, every id that points at
   another row (foreign keys, and the ledger's/snapshots' id columns without FKs, ids inside
   ``ledger_entries.txn_key`` and inside audit rows) replaced by that row's natural key (claim number,
   file sha256 + segment number, …), timestamps replaced by "is set". ``lost`` counts reference rows
   missing after recovery, ``duplicated`` counts extra rows (a row that differs counts once in each).
   The data folder is compared too: the archive (each file's sha256 checked against its name), the
   quarantine (by content), every file's permission bits (they hold PHI: 0600), and no stray temporary
   file. ``ledger balanced`` means every txn_key sums to zero and so
   does the whole ledger.

   The only rows that may legitimately differ are the audit records of *re-running* idempotent batch
   steps: a second ``post_remittances`` that found nothing to post writes an honest "nothing posted"
   audit row, and a second ``reconcile`` of the same date writes the same summary again. Such no-op
   ``post_remittances`` rows are dropped and ``reconcile`` rows are compared as a set; everything else
   in the audit log must match exactly (a file loaded twice would show as a duplicated ``file_loaded``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Integer, delete, insert, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 1, 30)
CORPUS_VERSION = 2
PHASES = ("receive", "load", "acks", "post", "reconcile", "balance_proof", "data_quality")
WORKER_TIMEOUT = 300.0


# ==================================================================================================
# corpus
# ==================================================================================================


@dataclass(frozen=True)
class Corpus:
    root: Path
    sqlite_template: Path
    files: tuple[Path, ...]
    run_date: dt.date
    params: dict[str, Any]

    @property
    def description(self) -> str:
        p = self.params
        return (
            f"{p['claims_submitted']} claims submitted in {p['files_837']} 837 files, "
            f"{p['files_837_answered']} of them answered: {len(self.files)} files to load "
            f"({', '.join(f'{n} {k}' for k, n in p['kinds'].items())}, one of them corrupt, one a resend)"
        )


def build_corpus(
    root: Path,
    *,
    patients: int = 120,
    claims: int = 300,
    seed: int = 1,
    run_date: dt.date = RUN_DATE,
    answered: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Corpus:
    """The pre-night state and the night's input files, built once into ``root`` (reused when present).

    ``answered`` limits the sandbox payer to the first N 837 files (in payer order: SBX01 institutional
    and professional, SBX02 …); the other claims stay ``submitted``, as if their answers were still on
    the way. A PostgreSQL load costs mostly per file, so this is what keeps a CI run short; the first 4
    files already carry payments, denials, secondary claims, reversals + corrections and PLB L6/WO/FB."""
    from claimflow.db.session import make_engine
    from claimflow.sandbox.payer import adjudicate_file
    from claimflow.sandbox.seed import seed_practice
    from claimflow.services.outbound import generate_batches
    from claimflow.settings import Settings
    from tests.support.databases import migrated_sqlite

    log = log or (lambda _msg: None)
    root = Path(root)
    manifest = root / "manifest.json"
    wanted = {
        "version": CORPUS_VERSION,
        "patients": patients,
        "claims": claims,
        "seed": seed,
        "run_date": run_date.isoformat(),
        "answered": answered,
        "schema": schema_fingerprint(),
    }
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if {k: data.get(k) for k in wanted} == wanted:
            return _corpus_from(root, data)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.monotonic()
    template = root / "template.db"
    url = migrated_sqlite(template)
    engine = make_engine(url)
    try:
        seed_practice(engine, patients=patients, claims=claims, seed=seed, as_of=run_date)
        settings = Settings(database_url=url, data_dir=root / "outbound-data")
        batches = generate_batches(engine, settings, run_id="crash-harness", today=run_date, now=NOW)
        with engine.connect() as conn:  # leave a self-contained file (empty -wal) to copy
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    log(
        f"corpus: seeded {claims} claims, {batches.claims_batched} submitted in {len(batches.files)} 837 files "
        f"({time.monotonic() - started:.1f}s)"
    )
    responses = root / "responses"
    files: list[Path] = []
    for written in batches.files[:answered]:
        files += adjudicate_file(
            Path(written.path), responses, state_path=root / "payer-state.json", seed=seed, run_date=run_date
        )
    files = _with_problem_files(root, files)
    kinds = Counter(p.suffix.lstrip(".") for p in files)
    data = {
        **wanted,
        "files": [str(p.relative_to(root)) for p in files],
        "claims_submitted": batches.claims_batched,
        "files_837": len(batches.files),
        "files_837_answered": len(batches.files[:answered]),
        "kinds": dict(kinds),
    }
    manifest.write_text(json.dumps(data, indent=1))
    log(f"corpus: sandbox payer answered with {len(files)} files ({time.monotonic() - started:.1f}s)")
    return _corpus_from(root, data)


def schema_fingerprint() -> str:
    """Tables, columns, types and the migration files: a cached corpus built for another schema is
    rebuilt, not copied into a database it does not fit."""
    from claimflow.db.models import Base

    h = hashlib.sha256()
    for t in Base.metadata.sorted_tables:
        for c in t.columns:
            h.update(f"{t.name}.{c.name}:{c.type!r}\n".encode())
    for path in sorted((REPO / "claimflow" / "migrations" / "versions").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _with_problem_files(root: Path, files: list[Path]) -> list[Path]:
    """Two files that take the other exits of ``load_interchange``, so kills land there too: a corrupt
    copy of an 835 from the middle of the night (its last CLP03 is not a number: quarantined after the
    rest was parsed) delivered just before the good one (a resend: same sender + ISA13, loaded), and a
    second copy of the first 999 with one more byte (same sender + ISA13, different sha256: marked
    duplicate) a few files after the original."""

    extra = root / "problem-files"
    extra.mkdir()
    out = list(files)
    first_999 = next(p for p in files if p.suffix == ".999")
    dup = extra / f"resent-{first_999.name}"
    dup.write_bytes(first_999.read_bytes() + b"\n")
    out.insert(min(out.index(first_999) + 4, len(out)), dup)
    pays = [p for p in files if p.suffix == ".835"]
    src = pays[len(pays) // 2]
    data = src.read_bytes()
    last = list(re.finditer(rb"CLP\*([^*~]*)\*([^*~]*)\*[0-9.]+", data))[-1]
    bad = extra / f"corrupt-{src.name}"
    bad.write_bytes(
        data[: last.start()] + b"CLP*" + last[1] + b"*" + last[2] + b"*12X.00" + data[last.end() :]
    )
    out.insert(out.index(src), bad)
    return out


def _corpus_from(root: Path, data: dict[str, Any]) -> Corpus:
    return Corpus(
        root=root,
        sqlite_template=root / "template.db",
        files=tuple(root / f for f in data["files"]),
        run_date=dt.date.fromisoformat(data["run_date"]),
        params=data,
    )


# ==================================================================================================
# backends: a fresh copy of the pre-night state per trial
# ==================================================================================================


class SqliteBackend:
    name = "sqlite"

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def fresh(self, trial_dir: Path) -> str:
        db = trial_dir / "claimflow.db"
        shutil.copyfile(self.corpus.sqlite_template, db)
        return f"sqlite:///{db}"

    def drop(self, url: str) -> None:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self, keep: Iterable[str] = ()) -> None:
        pass


class PostgresBackend:
    """A template database filled once from the SQLite template; each trial is a ``CREATE DATABASE …
    TEMPLATE`` copy of it."""

    name = "postgresql"

    def __init__(self, corpus: Corpus, admin_url: str) -> None:
        from claimflow.db.migrate import upgrade
        from claimflow.db.session import make_engine

        self.admin_url = admin_url
        self._admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())
        self._lock = threading.Lock()
        self.live: set[str] = set()  # trial databases not dropped yet (dropped by close())
        self.template = f"cf_crash_tpl_{uuid.uuid4().hex[:10]}"
        self._create(self.template)
        url = self._url(self.template)
        try:
            upgrade(url)
            src = make_engine(f"sqlite:///{corpus.sqlite_template}")
            dst = make_engine(url)
            try:
                copy_tables(src, dst)
            finally:
                src.dispose()
                dst.dispose()
        except BaseException:
            self.close()
            raise

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _create(self, name: str, template: str | None = None) -> None:
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with self._lock, self._admin.connect() as conn:
            conn.execute(text(sql))

    def fresh(self, trial_dir: Path) -> str:
        name = f"cf_crash_{uuid.uuid4().hex[:12]}"
        self.live.add(name)
        self._create(name, self.template)
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.live.discard(str(name))

    def close(self, keep: Iterable[str] = ()) -> None:
        """Drop the template and every trial database still there (except ``keep``: failed points kept
        for a look)."""
        for name in sorted(self.live - set(keep)):
            self.drop(self._url(name))
        self.drop(self._url(self.template))
        self._admin.dispose()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def copy_tables(src: Engine, dst: Engine) -> None:
    """Every claimflow table's rows from ``src`` into the (migrated, empty) ``dst``, ids included."""
    from claimflow.db.models import Base

    tables = Base.metadata.sorted_tables
    with src.connect() as s, dst.begin() as d:
        for table in reversed(tables):
            d.execute(delete(table))
        for table in tables:
            order = list(table.primary_key.columns)
            rows = [dict(r) for r in s.execute(select(table).order_by(*order)).mappings()]
            for start in range(0, len(rows), 2000):
                d.execute(insert(table), rows[start : start + 2000])
        if dst.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].name == "id" and isinstance(pk[0].type, Integer):
                    d.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )


# ==================================================================================================
# snapshot: every table as a multiset of normalized rows
# ==================================================================================================

#: Natural keys of the rows other rows point at. A tuple column that is itself a reference is resolved
#: recursively (a claim payment is (its remittance = (its file's sha256, ST segment), its CLP segment)).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "payers": ("payer_id",),
    "providers": ("npi",),
    "patients": ("account_number",),
    "claims": ("claim_number",),
    "service_lines": ("line_control_number",),
    "submissions": ("patient_control_number",),
    "interchanges": ("sha256",),
    "acknowledgments": ("interchange_id", "segment_no"),
    "claim_statuses": ("interchange_id", "segment_no"),
    "remittances": ("interchange_id", "segment_no"),
    "claim_payments": ("remittance_id", "segment_no"),
    "service_line_payments": ("claim_payment_id", "segment_no"),
    "adjustments": ("claim_payment_id", "segment_no", "position"),
    "remark_codes": ("claim_payment_id", "segment_no", "position"),
    "provider_adjustments": ("remittance_id", "segment_no", "position"),
    "patient_payments": ("external_id",),
    "unmatched_payments": ("claim_payment_id",),
    "reconciliation_runs": ("run_date",),
}

#: Id columns that carry no foreign key but still point at rows.
EXTRA_REFS: dict[tuple[str, str], str] = {
    ("ledger_entries", "claim_id"): "claims",
    ("ledger_entries", "patient_id"): "patients",
    ("ledger_entries", "payer_id"): "payers",
    ("ledger_entries", "claim_payment_id"): "claim_payments",
    ("ledger_entries", "patient_payment_id"): "patient_payments",
    ("ledger_entries", "provider_adjustment_id"): "provider_adjustments",
    ("claim_balances", "claim_id"): "claims",
    ("claim_balances", "patient_id"): "patients",
    ("claim_balances", "payer_id"): "payers",
    ("patient_balances", "patient_id"): "patients",
    ("patient_keys", "patient_id"): "patients",
}

#: txn_key prefixes (adjudication.ledger) → the table each id field names, field by field.
TXN_KEY_IDS: dict[str, tuple[str | None, ...]] = {
    "chg": ("claims",),
    "pay": ("claim_payments",),
    "co": ("claim_payments",),
    "oa": ("claim_payments",),
    "pr": ("claim_payments",),
    "unm": ("claim_payments",),
    "unm-clear": ("claim_payments",),
    "plb": ("provider_adjustments",),
    "ppay": ("patient_payments", None),
    "wo": ("claims", None, None),
}

AUDIT_OBJECTS = {
    "interchange": "interchanges",
    "claim_payment": "claim_payments",
    "claim": "claims",
    "patient_payment": "patient_payments",
}
AUDIT_DETAIL_IDS = {
    "interchange_id": "interchanges",
    "claim_payment_id": "claim_payments",
    "original_claim_payment_id": "claim_payments",
    "claim_id": "claims",
    "patient_payment_id": "patient_payments",
}
#: post_remittances detail fields that are work done (a rerun that did nothing has them all zero).
POST_WORK = (
    "charges_posted",
    "claim_payments_posted",
    "reversals_posted",
    "ledger_entries",
    "plb_posted",
    "plb_linked",
    "unmatched_new",
    "unmatched_resolved",
    "corrections_paired",
    "reversals_paired",
)
#: audit actions that recompute a snapshot: a rerun writes the same row again (compared as a set).
RECOMPUTE_ACTIONS = ("reconcile",)

Snapshot = dict[str, Counter[tuple[Any, ...]]]


class _Resolver:
    def __init__(self, rows: dict[str, list[dict[str, Any]]], refs: dict[tuple[str, str], str]) -> None:
        self.by_id = {t: {r["id"]: r for r in rs} for t, rs in rows.items() if rs and "id" in rs[0]}
        self.refs = refs
        self.memo: dict[tuple[str, Any], Any] = {}

    def key(self, table: str, ident: Any) -> Any:
        if ident is None:
            return None
        try:
            ident = int(ident)
        except (TypeError, ValueError):
            return ("bad-id", table, ident)
        memo = self.memo.get((table, ident))
        if memo is not None:
            return memo
        row = self.by_id.get(table, {}).get(ident)
        if row is None:
            out: Any = ("dangling", table, ident)
        elif table not in NATURAL_KEYS:
            out = (table, ident)  # rows of the pre-night state: ids identical in every copy
        else:
            out = (table, *(self.value(table, c, row[c]) for c in NATURAL_KEYS[table]))
        self.memo[(table, ident)] = out
        return out

    def value(self, table: str, column: str, value: Any) -> Any:
        target = self.refs.get((table, column))
        return self.key(target, value) if target else value

    def txn_key(self, key: str) -> Any:
        prefix, _, rest = key.partition(":")
        if prefix == "rev":  # rev:<reversal cp id>:<original key>
            cp, _, original = rest.partition(":")
            return ("rev", self.key("claim_payments", cp), self.txn_key(original))
        fields = rest.split(":")
        tables = TXN_KEY_IDS.get(prefix)
        if tables is None or len(fields) != len(tables):
            return ("unknown-key", key)
        return (prefix, *(self.key(t, f) if t else f for t, f in zip(tables, fields, strict=True)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, list):
        return json.dumps(value, default=str)
    return value


def snapshot(engine: Engine, data_dir: Path | None = None) -> Snapshot:
    """Every claimflow table (and the data folder) as a multiset of normalized rows."""
    from claimflow.db.models import Base

    tables = Base.metadata.sorted_tables
    with engine.connect() as conn:
        rows = {t.name: [dict(r) for r in conn.execute(select(t)).mappings()] for t in tables}
    refs: dict[tuple[str, str], str] = dict(EXTRA_REFS)
    for t in tables:
        for c in t.columns:
            for fk in c.foreign_keys:
                if fk.column.name == "id":
                    refs[(t.name, c.name)] = fk.column.table.name
    res = _Resolver(rows, refs)
    out: Snapshot = {}
    data_prefix = str(data_dir) + os.sep if data_dir is not None else None
    for t in tables:
        pk = list(t.primary_key.columns)
        drop_id = len(pk) == 1 and pk[0].name == "id"
        cols = [c for c in t.columns if not (drop_id and c.name == "id")]
        counter: Counter[tuple[Any, ...]] = Counter()
        for row in rows[t.name]:
            values: list[Any] = []
            for c in cols:
                v = row[c.name]
                if (t.name, c.name) in refs:
                    v = res.key(refs[(t.name, c.name)], v)
                elif isinstance(c.type, DateTime):
                    v = v is not None  # when is volatile; whether is not
                elif t.name == "ledger_entries" and c.name == "txn_key":
                    v = res.txn_key(v)
                elif t.name == "interchanges" and c.name == "archive_path" and v and data_prefix:
                    v = "<data>/" + v.removeprefix(data_prefix) if v.startswith(data_prefix) else v
                elif t.name == "interchanges" and c.name == "error" and v:
                    v = re.sub(
                        r"interchange (\d+)", lambda m: f"interchange {res.key('interchanges', m[1])}", v
                    )
                elif t.name == "audit_log" and c.name == "object_id" and v is not None:
                    target = AUDIT_OBJECTS.get(row["object_type"])
                    v = res.key(target, v) if target and str(v).isdigit() else v
                elif t.name == "audit_log" and c.name == "detail" and isinstance(v, dict):
                    v = {
                        k: (res.key(AUDIT_DETAIL_IDS[k], x) if k in AUDIT_DETAIL_IDS else x)
                        for k, x in v.items()
                    }
                values.append(_plain(v) if not isinstance(v, tuple) else v)
            if t.name == "audit_log" and _noop_post(row):
                continue
            counter[tuple(values)] += 1
        if t.name == "audit_log":
            action = [c.name for c in cols].index("action")
            for k in list(counter):
                if k[action] in RECOMPUTE_ACTIONS:
                    counter[k] = 1
        out[t.name] = counter
    if data_dir is not None:
        out["(data folder)"] = _files(Path(data_dir))
    return out


def _noop_post(row: dict[str, Any]) -> bool:
    detail = row.get("detail") or {}
    if row.get("action") != "post_remittances" or not isinstance(detail, dict):
        return False
    return all(not detail.get(k) for k in POST_WORK) and not detail.get("status_changes")


def _files(data_dir: Path) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    if not data_dir.exists():
        return out
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir).as_posix()
        mode = oct(stat.S_IMODE(path.stat().st_mode))  # archived files hold PHI: 0o600
        if rel.startswith("archive/"):
            ok = hashlib.sha256(path.read_bytes()).hexdigest() == path.name
            out[("archive", rel, "sha256 ok" if ok else "sha256 MISMATCH", mode)] += 1
        else:  # quarantine copies are named after the interchange id: name them by content instead
            if rel.startswith("quarantine/"):
                rel = "quarantine/" + hashlib.sha256(path.read_bytes()).hexdigest()
            out[("file", rel, path.stat().st_size, mode)] += 1
    return out


@dataclass
class TableDiff:
    table: str
    lost: int
    duplicated: int
    examples: list[str]


def compare(reference: Snapshot, got: Snapshot, *, examples: int = 3) -> list[TableDiff]:
    """Per table: reference rows missing from ``got`` (lost) and rows ``got`` has in excess (duplicated)."""
    diffs = []
    for table in sorted(set(reference) | set(got)):
        ref, cur = reference.get(table, Counter()), got.get(table, Counter())
        lost, extra = ref - cur, cur - ref
        if lost or extra:
            ex = [f"lost {k!r}" for k in list(lost)[:examples]] + [
                f"extra {k!r}" for k in list(extra)[:examples]
            ]
            diffs.append(TableDiff(table, sum(lost.values()), sum(extra.values()), ex))
    return diffs


@dataclass
class LedgerCheck:
    entries: int
    total: Decimal
    unbalanced_txns: int
    by_account: dict[str, Decimal]

    @property
    def balanced(self) -> bool:
        return self.total == 0 and self.unbalanced_txns == 0


def ledger_check(engine: Engine) -> LedgerCheck:
    from adjudication._sql import Sql

    with engine.connect() as conn:
        q = Sql(conn)
        n, total = conn.execute(text("SELECT COUNT(*), SUM(amount) FROM ledger_entries")).one()
        bad = conn.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT txn_key FROM ledger_entries GROUP BY txn_key "
                "HAVING SUM(amount) <> 0) x"
            )
        ).scalar_one()
        accounts = {
            str(a): q.money(s)
            for a, s in conn.execute(
                text("SELECT account, SUM(amount) FROM ledger_entries GROUP BY account ORDER BY account")
            )
        }
    return LedgerCheck(int(n), q.money(total), int(bad), accounts)


# ==================================================================================================
# kill plans and trials
# ==================================================================================================


@dataclass(frozen=True)
class Kill:
    at: int
    mode: str  # before, after, during
    delay_ms: int = 0

    def label(self) -> str:
        return f"{self.mode}@{self.at}" + (f"+{self.delay_ms}ms" if self.mode == "during" else "")


@dataclass(frozen=True)
class KillPlan:
    index: int
    kills: tuple[Kill, ...]
    phase: str  # phase of the first kill in the reference run
    note: str = ""  # the file-system step a targeted point follows


@dataclass
class TrialResult:
    plan: KillPlan
    kills_done: list[str] = field(default_factory=list)  # "<event> <phase> <mode>" from the worker
    runs: int = 0
    seconds: float = 0.0
    diffs: list[TableDiff] = field(default_factory=list)
    ledger: LedgerCheck | None = None
    error: str | None = None
    kept: str | None = None  # where a failed point's folder and database were kept

    @property
    def lost(self) -> int:
        return sum(d.lost for d in self.diffs)

    @property
    def duplicated(self) -> int:
        return sum(d.duplicated for d in self.diffs)

    @property
    def balanced(self) -> bool:
        return self.ledger is not None and self.ledger.balanced

    @property
    def ok(self) -> bool:
        return self.error is None and not self.diffs and self.balanced

    def line(self) -> str:
        kills = ", ".join(self.kills_done) or "no kill landed"
        state = (
            f"ERROR {self.error}"
            if self.error
            else f"lost {self.lost}, duplicated {self.duplicated}, ledger balanced {'yes' if self.balanced else 'NO'}"
        )
        where = self.plan.phase + (f": {self.plan.note}" if self.plan.note else "")
        return (
            f"kill point {self.plan.index:>3} [{where:<13}] "
            f"{' → '.join(k.label() for k in self.plan.kills):<40} killed at: {kills}; {self.runs} runs; "
            f"{state} ({self.seconds:.1f}s)" + (f" [kept: {self.kept}]" if self.kept else "")
        )


@dataclass
class Report:
    backend: str
    results: list[TrialResult]
    reference_events: int
    seconds: float

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.results)

    @property
    def duplicated(self) -> int:
        return sum(r.duplicated for r in self.results)

    @property
    def balanced(self) -> bool:
        return all(r.balanced for r in self.results)

    @property
    def errors(self) -> list[TrialResult]:
        return [r for r in self.results if r.error]

    @property
    def kills(self) -> int:
        return sum(len(r.kills_done) for r in self.results)

    def phases_hit(self) -> Counter[str]:
        return Counter(k.split()[1] for r in self.results for k in r.kills_done)

    def line(self) -> str:
        return (
            f"kill points: {len(self.results)}, lost: {self.lost}, duplicated: {self.duplicated}, "
            f"ledger balanced: {'yes' if self.balanced else 'no'}"
        )

    def details(self) -> str:
        out = [
            f"{self.backend}: {len(self.results)} kill points, {self.kills} SIGKILLs landed "
            f"(by phase: {dict(sorted(self.phases_hit().items()))}), reference run {self.reference_events} "
            f"database events, {self.seconds:.0f}s"
        ]
        for r in self.results:
            if not r.ok:
                out.append(r.line())
                for d in r.diffs:
                    out.append(f"    {d.table}: lost {d.lost}, duplicated {d.duplicated}")
                    out += [f"      {e[:300]}" for e in d.examples]
                if r.ledger is not None and not r.ledger.balanced:
                    out.append(
                        f"    ledger: total {r.ledger.total}, {r.ledger.unbalanced_txns} unbalanced txn_keys"
                    )
        return "\n".join(out)


def _phase_ranges(phases: list[list[Any]], events: int) -> list[tuple[str, int, int]]:
    out = []
    for i, (name, start, *_seconds) in enumerate(phases):
        end = phases[i + 1][1] - 1 if i + 1 < len(phases) else events
        if name != "end" and end >= start:
            out.append((str(name), int(start), int(end)))
    return out


class CrashHarness:
    """Runs kill plans against fresh copies of the corpus on one backend (see the module docstring)."""

    def __init__(
        self,
        corpus: Corpus,
        backend: SqliteBackend | PostgresBackend,
        work_dir: Path,
        *,
        jobs: int = 2,
        keep_failed: bool = False,
        launcher: str = "fork",
        pycache: Path | None = None,
    ) -> None:
        self.corpus = corpus
        self.backend = backend
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.jobs = max(1, jobs)
        self.keep_failed = keep_failed
        self.env = dict(os.environ)
        # The children are fresh interpreters: let them cache bytecode (outside the repository) instead
        # of compiling claimflow + SQLAlchemy on every start when PYTHONDONTWRITEBYTECODE is set.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(
            pycache or Path(tempfile.gettempdir()) / "claimflow-crash-pycache"
        )
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        # "exec": every run is ``python -m tests.reliability.crash_worker …`` (the command line);
        # "fork": forked from a fork server that imported claimflow once (same code path after the
        # imports, ~1 s less per run; the reference run and the kills use the same launcher).
        if launcher not in ("fork", "exec"):
            raise ValueError(f"launcher must be fork or exec, not {launcher!r}")
        self.launcher = launcher
        if launcher == "fork":
            import multiprocessing

            from tests.reliability.crash_worker import PRELOAD

            self._ctx = multiprocessing.get_context("forkserver")
            self._ctx.set_forkserver_preload(list(PRELOAD))
        self.kept: list[str] = []  # databases of failed points kept with keep_failed
        self.reference_snapshot: Snapshot | None = None
        self.reference_ledger: LedgerCheck | None = None
        self.events = 0
        self.phases: list[tuple[str, int, int]] = []
        self.fs_events: list[tuple[int, str, str, str]] = []
        self._counter = 0
        self._counter_lock = threading.Lock()

    # ---- worker ------------------------------------------------------------------------------------
    def _worker(
        self,
        url: str,
        data_dir: Path,
        kill: Kill | None,
        *,
        output: Path,
        trace: Path | None = None,
        kill_log: Path | None = None,
    ) -> tuple[int, str]:
        """Run the worker once; returns (exit status, its output). -9 is SIGKILL."""
        argv = [
            url,
            str(data_dir),
            *map(str, self.corpus.files),
            "--run-date",
            self.corpus.run_date.isoformat(),
        ]
        if kill is not None:
            argv += [
                "--kill-at",
                str(kill.at),
                "--kill-mode",
                kill.mode,
                "--kill-delay-ms",
                str(kill.delay_ms),
            ]
        if trace is not None:
            argv += ["--trace", str(trace)]
        if kill_log is not None:
            argv += ["--kill-log", str(kill_log)]
        if self.launcher == "exec":
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "tests.reliability.crash_worker", *argv],
                    cwd=REPO,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=WORKER_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return 124, f"timed out after {WORKER_TIMEOUT:.0f}s"
            return proc.returncode, proc.stdout + proc.stderr
        from tests.reliability.crash_worker import forked_main

        output.unlink(missing_ok=True)
        child = self._ctx.Process(target=forked_main, args=(argv, str(output)))
        child.start()
        child.join(WORKER_TIMEOUT)
        if child.is_alive():
            child.kill()
            child.join()
            return 124, f"timed out after {WORKER_TIMEOUT:.0f}s"
        text_out = output.read_text(errors="replace") if output.exists() else ""
        return int(child.exitcode if child.exitcode is not None else 1), text_out

    def _trial_dir(self, label: str) -> Path:
        with self._counter_lock:
            self._counter += 1
            n = self._counter
        path = self.work_dir / f"{self.backend.name}-{label}-{n:04d}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    # ---- reference ----------------------------------------------------------------------------------
    def reference(self) -> LedgerCheck:
        """One uninterrupted night on a fresh copy: the state every recovered run must reach."""
        from claimflow.db.session import make_engine

        trial = self._trial_dir("reference")
        url = self.backend.fresh(trial)
        try:
            rc, out = self._worker(
                url, trial / "data", None, output=trial / "worker.log", trace=trial / "trace.json"
            )
            if rc != 0:
                raise RuntimeError(f"reference run failed ({rc}):\n{out[-4000:]}")
            trace = json.loads((trial / "trace.json").read_text())
            self.events = int(trace["events"])
            self.phases = _phase_ranges(trace["phases"], self.events)
            self.fs_events = [(int(n), str(p), str(op), str(area)) for n, p, op, area in trace["fs_events"]]
            engine = make_engine(url)
            try:
                self.reference_snapshot = snapshot(engine, trial / "data")
                self.reference_ledger = ledger_check(engine)
            finally:
                engine.dispose()
        finally:
            self.backend.drop(url)
            shutil.rmtree(trial, ignore_errors=True)
        if not self.reference_ledger.balanced:
            raise RuntimeError(f"the reference run's ledger does not balance: {self.reference_ledger}")
        return self.reference_ledger

    def phase_of(self, event: int) -> str:
        for name, start, end in self.phases:
            if start <= event <= end:
                return name
        return "end"

    # ---- plans --------------------------------------------------------------------------------------
    def fs_steps(self) -> list[tuple[int, str, str, str]]:
        """The first occurrence of each distinct file-system step (phase, operation, folder) of the
        reference run: archive temp file created, copied, fsynced, renamed; quarantine copy, chmod."""
        seen: dict[tuple[str, str, str], tuple[int, str, str, str]] = {}
        for ev in self.fs_events:
            seen.setdefault(ev[1:], ev)
        return sorted(seen.values())

    def plan(self, n: int, seed: int) -> list[KillPlan]:
        """``n`` kill points: right after each distinct file-system step once (up to a third of ``n``;
        deterministic), the rest stratified uniform over the reference run's events with every phase
        covered and random modes; about a quarter of all points are followed by 1-2 more kills of the
        rerun."""
        if not self.events:
            raise RuntimeError("run reference() first")
        rng = random.Random(seed)
        targeted = [Kill(ev[0], "after") for ev in self.fs_steps()[: max(1, n // 3)]] if n > 1 else []
        m = n - len(targeted)
        points = [min(self.events, int(self.events * (i + rng.random()) / m) + 1) for i in range(m)]
        # Every phase at least once (with n >= number of phases): take the spare point from the phase
        # that has the most.
        by_phase: dict[str, list[int]] = {p: [] for p in PHASES}
        for i, k in enumerate(points):
            by_phase.setdefault(self.phase_of(k), []).append(i)
        for name in PHASES:
            spans = [(s, e) for p, s, e in self.phases if p == name]
            if by_phase.get(name) or not spans or m < len(PHASES):
                continue
            donor = max(by_phase, key=lambda p: len(by_phase[p]))
            i = by_phase[donor].pop()
            s, e = rng.choice(spans)
            points[i] = rng.randint(s, e)
            by_phase[name].append(i)
        fs_at = {ev[0]: ev for ev in self.fs_events}
        firsts = sorted([*targeted, *(self._kill(rng, at) for at in points)], key=lambda k: (k.at, k.mode))
        plans = []
        for index, first in enumerate(firsts, start=1):
            at = first.at
            kills = [first]
            if rng.random() < 0.25:
                kills += [self._kill(rng, rng.randint(1, self.events)) for _ in range(rng.choice((1, 1, 2)))]
            step = fs_at.get(at) if first in targeted else None
            plans.append(
                KillPlan(index, tuple(kills), self.phase_of(at), f"{step[2]} {step[3]}" if step else "")
            )
        return plans

    @staticmethod
    def _kill(rng: random.Random, at: int) -> Kill:
        mode = rng.choices(("before", "after", "during"), weights=(4, 3, 3))[0]
        return Kill(at, mode, rng.randint(0, 40) if mode == "during" else 0)

    # ---- trials ------------------------------------------------------------------------------------
    def run_trial(self, plan: KillPlan) -> TrialResult:
        from claimflow.db.session import make_engine

        result = TrialResult(plan)
        started = time.monotonic()
        trial = self._trial_dir(f"kp{plan.index:03d}")
        data_dir = trial / "data"
        kill_log = trial / "kills.log"
        url = self.backend.fresh(trial)
        try:
            for kill in (*plan.kills, None):
                result.runs += 1
                kills_before = _count_lines(kill_log)
                rc, out = self._worker(
                    url, data_dir, kill, output=trial / f"worker-{result.runs}.log", kill_log=kill_log
                )
                if (
                    rc == 255
                    and kill is not None
                    and not out.strip()
                    and _count_lines(kill_log) > kills_before
                ):
                    # multiprocessing's forkserver reports 255 when it could not read the child's status
                    # (seen once under a loaded CI run); the worker logged its own SIGKILL just before
                    # sending it, so this run was killed as planned
                    rc = -9
                if rc == -9 and kill is not None:
                    continue
                if rc != 0:
                    what = "killed run" if kill is not None else "recovery run"
                    result.error = f"{what} {result.runs} exited {rc}: {_last_line(out)}"
                    (trial / "worker-output.txt").write_text(out)
                    break
            if kill_log.exists():
                result.kills_done = kill_log.read_text().split("\n")[:-1]
            if result.error is None:
                engine = make_engine(url)
                try:
                    got = snapshot(engine, data_dir)
                    result.ledger = ledger_check(engine)
                finally:
                    engine.dispose()
                assert self.reference_snapshot is not None
                result.diffs = compare(self.reference_snapshot, got)
        except Exception as exc:  # a harness problem is a failed trial, never a silent pass
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            result.seconds = time.monotonic() - started
            if result.ok or not self.keep_failed:
                self.backend.drop(url)
                shutil.rmtree(trial, ignore_errors=True)
            else:
                self.kept.append(str(make_url(url).database))
                result.kept = f"{trial}, database {make_url(url).database}"
        return result

    def run(
        self,
        plans: Iterable[KillPlan],
        progress: Callable[[TrialResult, int, int], None] | None = None,
    ) -> Report:
        plans = list(plans)
        started = time.monotonic()
        results: list[TrialResult] = []
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [pool.submit(self.run_trial, p) for p in plans]
            for fut in as_completed(futures):
                r = fut.result()
                results.append(r)
                if progress is not None:
                    progress(r, len(results), len(plans))
        results.sort(key=lambda r: r.plan.index)
        return Report(self.backend.name, results, self.events, time.monotonic() - started)


def _count_lines(path: Path) -> int:
    """Lines in the kill log (the worker appends one, fsynced, just before it SIGKILLs itself)."""
    try:
        return path.read_text().count("\n")
    except FileNotFoundError:
        return 0


def _last_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "(no output)"
