"""What the coverage check (claimflow.inquiries.eligibility_hold) adds to a claims_submission night.

    uv run python bench/bench_eligibility_hold.py                       # 100,000 claims on SQLite (temp file)
    uv run python bench/bench_eligibility_hold.py --url postgresql+psycopg://…/db   # an empty PostgreSQL db

Seeds a synthetic practice (not timed), gives every coverage a 271 answer (one in ten inactive, dates before
the claims), then times ``check_coverage`` over all ready claims the way ``scrub()`` calls it: the claim ids
are all it reads from the claim objects. Prints one JSON line: claims, findings, seconds, claims/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--url", default=None, help="an empty database (default: a temporary SQLite file)")
    args = ap.parse_args()

    from sqlalchemy import insert, select

    from claimflow.db import models as m
    from claimflow.db.migrate import upgrade
    from claimflow.db.session import make_engine
    from claimflow.inquiries.eligibility_hold import check_coverage
    from claimflow.sandbox.seed import seed_practice

    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    today = dt.date(2026, 11, 25)
    seed_practice(engine, patients=max(args.claims // 4, 10), claims=args.claims, seed=7, as_of=today)
    verified = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(9))
    with engine.begin() as conn:
        coverages = list(conn.execute(select(m.Coverage.id)).scalars())
        conn.execute(
            insert(m.CoverageEligibility),
            [
                {
                    "coverage_id": cid,
                    "status": "inactive" if cid % 10 == 1 else "active",
                    "coverage_from": dt.date(2025, 1, 1),
                    "coverage_to": dt.date(2025, 12, 31) if cid % 10 == 1 else None,
                    "verified_at": verified,
                    "verified_by": "bench",
                }
                for cid in coverages
            ],
        )
        ids = list(conn.execute(select(m.Claim.id).where(m.Claim.status == m.ClaimStatus.READY)).scalars())
    claims = [SimpleNamespace(claim_id=i) for i in ids]
    t0 = time.perf_counter()
    findings = check_coverage(engine, claims, today)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "backend": engine.dialect.name,
                "claims": len(claims),
                "findings": len(findings),
                "seconds": round(seconds, 3),
                "claims_per_second": round(len(claims) / seconds),
            }
        )
    )
    engine.dispose()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
