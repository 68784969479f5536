"""claimflow generate-837 end to end: scrub → batch → files → database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from claimflow.db import models as m
from claimflow.sandbox.seed import seed_practice
from claimflow.services import outbound
from claimflow.services.outbound import generate_batches
from claimflow.settings import Settings
from edi.reader import iter_segments
from edi.validate import validate_x12

AS_OF = dt.date(2026, 11, 25)
TODAY = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 1, 30)


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(database_url="sqlite://", data_dir=tmp_path / "data", **kw)  # type: ignore[arg-type]


def _read_claims(path: Path) -> dict[str, tuple[Decimal, int]]:
    """Independent read-back: CLM01 → (CLM02, number of LX lines)."""
    out: dict[str, tuple[Decimal, int]] = {}
    current = None
    for _n, seg in iter_segments(path.read_bytes(), name=path.name):
        if seg[0] == "CLM":
            current = seg[1]
            out[current] = (Decimal(seg[2]), 0)
        elif seg[0] == "LX" and current is not None:
            charge, lines = out[current]
            out[current] = (charge, lines + 1)
    return out


def test_generate_scrub_batch_and_round_trip(engine: Engine, tmp_path: Path) -> None:
    seeded = seed_practice(engine, patients=150, claims=400, seed=7, as_of=AS_OF)
    settings = _settings(tmp_path, max_claims_per_file=120)
    result = generate_batches(engine, settings, run_id="test", today=TODAY, now=NOW)

    assert result.claims_in > 0 and result.scrubbed_out > 0
    assert result.claims_batched + result.scrubbed_out == result.claims_in
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(m.Claim.status, func.count()).group_by(m.Claim.status)).all())
        scrub_claims = conn.execute(select(func.count(func.distinct(m.ScrubResult.claim_id)))).scalar_one()
        subs = {r.patient_control_number: r for r in conn.execute(select(m.Submission.__table__))}
        lines = dict(
            conn.execute(select(m.ServiceLine.claim_id, func.count()).group_by(m.ServiceLine.claim_id)).all()
        )
        charges = dict(conn.execute(select(m.Claim.id, m.Claim.total_charge)).all())
    assert statuses[m.ClaimStatus.SUBMITTED] == result.claims_batched
    assert statuses[m.ClaimStatus.SCRUB_FAILED] == scrub_claims == result.scrubbed_out
    assert seeded.deliberately_flawed <= result.scrubbed_out
    from claimflow.sandbox.synthetic import generate_practice

    flawed = generate_practice(150, 400, 7, AS_OF).flaws
    with engine.connect() as conn:
        flawed_status = dict(
            conn.execute(select(m.Claim.id, m.Claim.status).where(m.Claim.id.in_(flawed))).all()
        )
    assert set(flawed_status.values()) == {m.ClaimStatus.SCRUB_FAILED}, "every deliberate flaw is caught"

    # Every claim marked submitted is in exactly one file, with the charge and line count we hold.
    seen: set[str] = set()
    for f in result.files:
        path = Path(f.path)
        assert hashlib.sha256(path.read_bytes()).hexdigest()
        back = _read_claims(path)
        assert len(back) == f.claims
        for pcn, (charge, n_lines) in back.items():
            sub = subs[pcn]
            assert charge == charges[sub.claim_id]
            assert n_lines == lines[sub.claim_id]
        seen |= back.keys()
    assert seen == set(subs)
    # The payer-type split: one interchange per payer and claim type, never mixed.
    assert all(f.claims <= 120 for f in result.files)

    # A second run finds nothing ready and writes nothing.
    again = generate_batches(engine, settings, run_id="test", today=TODAY, now=NOW)
    assert again.claims_in == 0 and not again.files


@pytest.mark.slow
def test_every_generated_file_validates_clean(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The issue's acceptance run: 2,000 patients, 5,000 claims, seed 7 — every 837 passes pyx12 with zero errors."""
    seed_practice(sqlite_engine, patients=2000, claims=5000, seed=7, as_of=AS_OF)
    result = generate_batches(sqlite_engine, _settings(tmp_path), run_id="test", today=TODAY, now=NOW)
    assert len(result.files) >= 10
    from concurrent.futures import ProcessPoolExecutor

    paths = [f.path for f in result.files]
    with ProcessPoolExecutor(max_workers=2) as pool:  # pyx12 runs at ~0.3 MB/s: use both cores
        reports = list(pool.map(_errors_of, paths))
    problems = {Path(p).name: errs for p, errs in zip(paths, reports, strict=True) if errs}
    assert problems == {}
    assert sum(f.claims for f in result.files) == result.claims_batched > 4500


def _errors_of(path: str) -> list[str]:
    report = validate_x12(Path(path))
    return [] if report.ok else [str(e) for e in report.errors[:3]]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    from claimflow.db.session import make_engine
    from tests.support.databases import migrated_sqlite

    digests = []
    for run in ("a", "b"):
        engine = make_engine(migrated_sqlite(tmp_path / f"{run}.db"))
        seed_practice(engine, patients=80, claims=200, seed=11, as_of=AS_OF)
        result = generate_batches(engine, _settings(tmp_path / run), run_id="t", today=TODAY, now=NOW)
        digests.append(
            [(f.file_name, hashlib.sha256(Path(f.path).read_bytes()).hexdigest()) for f in result.files]
        )
        engine.dispose()
    assert digests[0] == digests[1]


def test_database_error_mid_batch_leaves_no_half_submitted_state(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_practice(sqlite_engine, patients=60, claims=200, seed=3, as_of=AS_OF)
    settings = _settings(tmp_path, max_claims_per_file=40)
    real_register = outbound._register
    calls = {"n": 0}

    def flaky_register(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("database went away")
        return real_register(*args, **kwargs)

    monkeypatch.setattr(outbound, "_register", flaky_register)
    with pytest.raises(RuntimeError):
        generate_batches(sqlite_engine, settings, run_id="t", today=TODAY, now=NOW)
    out_dir = settings.outbox_dir
    with sqlite_engine.connect() as conn:
        registered = set(conn.execute(select(m.Interchange.file_name)).scalars())
        submitted = conn.execute(
            select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.SUBMITTED)
        ).scalar_one()
        in_files = conn.execute(select(func.count()).select_from(m.Submission)).scalar_one()
    on_disk = {p.name for p in out_dir.iterdir() if p.is_file()}
    assert on_disk == registered  # no file without its claims, no claims without their file
    assert submitted == in_files > 0

    monkeypatch.setattr(outbound, "_register", real_register)
    result = generate_batches(sqlite_engine, settings, run_id="t", today=TODAY, now=NOW)
    assert result.claims_batched > 0
    with sqlite_engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(m.Claim).where(m.Claim.status == m.ClaimStatus.READY)
            ).scalar_one()
            == 0
        )


def test_orphan_file_from_a_crashed_run_is_moved_aside(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.outbox_dir.mkdir(parents=True)
    (settings.outbox_dir / "sandbox-837P-SBX01-000000099.x12").write_bytes(b"ISA*...")
    seed_practice(sqlite_engine, patients=10, claims=10, seed=1, as_of=AS_OF)
    result = generate_batches(sqlite_engine, settings, run_id="t", today=TODAY, now=NOW)
    assert result.orphans_moved == 1
    assert (settings.outbox_dir / "orphaned" / "sandbox-837P-SBX01-000000099.x12").exists()


def test_chunked_night_sends_the_same_claims_as_one_pass(tmp_path: Path) -> None:
    """``outbound_chunk_claims`` bounds memory (a 1M-claim night is loaded a chunk at a time): the same claims are
    held and sent, with the same charges, whether the night is one chunk or many."""
    from claimflow.db.session import make_engine
    from tests.support.databases import migrated_sqlite

    outcome = {}
    for run, chunk in (("one", 1_000_000), ("many", 37)):
        engine = make_engine(migrated_sqlite(tmp_path / f"{run}.db"))
        seed_practice(engine, patients=80, claims=200, seed=11, as_of=AS_OF)
        settings = _settings(tmp_path / run, outbound_chunk_claims=chunk, max_claims_per_file=50)
        result = generate_batches(engine, settings, run_id="t", today=TODAY, now=NOW)
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(m.Claim.id, m.Claim.status)).all())
            held = set(conn.execute(select(m.ScrubResult.claim_id, m.ScrubResult.rule)).all())
        sent = {}
        for f in result.files:
            assert f.claims <= 50
            assert validate_x12(Path(f.path)).ok
            sent.update(_read_claims(Path(f.path)))
        outcome[run] = (result.claims_in, result.scrubbed_out, statuses, held, sent, result.total_charge)
        engine.dispose()
    assert outcome["one"] == outcome["many"]
    assert outcome["many"][0] > 37 * 2  # more claims than two chunks: the night really was chunked


def test_sharded_night_on_postgresql_sends_every_claim_once(tmp_path: Path) -> None:
    """``build_batch`` shards (claim id modulo N) running AT THE SAME TIME on PostgreSQL, as the DAG's mapped
    tasks do on CeleryExecutor workers, hold and send exactly the claims one pass does, each claim in one
    file only, with the same charges; every file is valid and has its own ISA13."""
    import concurrent.futures

    from claimflow.db.migrate import upgrade
    from claimflow.db.session import make_engine
    from tests.support.databases import create_pg_database, drop_pg_database, migrated_sqlite, require_pg

    require_pg()
    url = create_pg_database("cf_shards")
    try:
        upgrade(url)
        outcome = {}
        for run, make_url in (
            ("one", lambda: migrated_sqlite(tmp_path / "one.db")),
            ("sharded", lambda: url),
        ):
            engine = make_engine(make_url())
            seed_practice(engine, patients=80, claims=240, seed=11, as_of=AS_OF)
            settings = _settings(tmp_path / run, max_claims_per_file=40)
            if run == "one":
                results = [generate_batches(engine, settings, run_id="t", today=TODAY, now=NOW)]
            else:
                with concurrent.futures.ThreadPoolExecutor(3) as pool:
                    results = list(
                        pool.map(
                            lambda k, e=engine, s=settings: generate_batches(
                                e, s, run_id="t", today=TODAY, now=NOW, shard=(k, 3)
                            ),
                            range(3),
                        )
                    )
                assert all(r.claims_in > 0 for r in results)  # every shard really had claims
            with engine.connect() as conn:
                statuses = dict(conn.execute(select(m.Claim.id, m.Claim.status)).all())
                held = set(conn.execute(select(m.ScrubResult.claim_id, m.ScrubResult.rule)).all())
            sent: dict[str, tuple[Decimal, int]] = {}
            isa13 = []
            for f in (f for r in results for f in r.files):
                assert validate_x12(Path(f.path)).ok
                claims = _read_claims(Path(f.path))
                assert not set(claims) & set(sent), "a claim went out in two files"
                sent.update(claims)
                isa13.append(f.isa13)
            assert len(isa13) == len(set(isa13))
            outcome[run] = (
                sum(r.claims_in for r in results),
                sum(r.scrubbed_out for r in results),
                statuses,
                held,
                sent,
                sum((r.total_charge for r in results), Decimal("0.00")),
            )
            engine.dispose()
        assert outcome["one"] == outcome["sharded"]
    finally:
        drop_pg_database(url)
