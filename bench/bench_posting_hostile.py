"""Posting what a hostile partner sends, on PostgreSQL: one CLP loop repeated N times in one file, and N
CLP loops with unknown CLP01 that all carry one claim's CLP07 (payer claim number).

Before claimflow held repeats and gated fallback matches, the first posted N times and the second
stacked N payments on one claim. This bench times ``post_remittances`` on both cases and checks the
result: one payment per claim, the rest held in ``unmatched_payments``. Scratch database as in
``bench_posting.py`` (admin URL from ``CLAIMFLOW_BENCH_PG_URL``, else ``CLAIMFLOW_TEST_PG_URL``, else
postgres@127.0.0.1), dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adjudication.posting import post_remittances
from bench.bench_posting import ADMIN
from claimflow.db.migrate import upgrade
from claimflow.db.session import make_engine
from claimflow.sandbox.seed import seed_practice

AS_OF = dt.date(2026, 11, 25)


def _stage(engine: object, n: int) -> tuple[int, int]:
    """Two seeded claims submitted; one 835 with the repeated CLP and the N stray CLP07 loops."""
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            text(
                """INSERT INTO interchanges (direction, sha256, bytes, file_name, status, isa13, transaction_type, created_at)
               VALUES ('out', md5(random()::text) || md5(random()::text), 1, 'h.837', 'uploaded', '000000001',
                       '837P', now())"""
            )
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM claims ORDER BY id LIMIT 2"))]
        conn.execute(
            text(
                """INSERT INTO submissions (claim_id, attempt, patient_control_number, interchange_id, gs06, st02,
                                        frequency, status, created_at)
               SELECT c.id, 1, c.claim_number || 'A1', (SELECT max(id) FROM interchanges), '1', '0001', '1',
                      'accepted', now() FROM claims c WHERE c.id IN (:a, :b)"""
            ),
            {"a": ids[0], "b": ids[1]},
        )
        conn.execute(
            text("UPDATE claims SET status = 'accepted', payer_claim_number = 'ICN-HOSTILE' WHERE id = :b"),
            {"b": ids[1]},
        )
        conn.execute(
            text(
                """INSERT INTO interchanges (direction, sha256, bytes, file_name, status, transaction_type, created_at)
               VALUES ('in', md5(random()::text) || md5(random()::text), 1, 'h.835', 'loaded', '835', now())"""
            )
        )
        rid = conn.execute(
            text(
                """INSERT INTO remittances (interchange_id, st02, segment_no, handling_code, payment_amount, credit_debit,
                                        payment_method, payment_date, trace_number, payer_identifier, balanced)
               VALUES ((SELECT max(id) FROM interchanges), '0001', 3, 'I', 0, 'C', 'ACH', :d, 'TRN-HOSTILE',
                       'SBX01', true) RETURNING id"""
            ),
            {"d": AS_OF},
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO claim_payments (remittance_id, segment_no, patient_control_number, status_code, charge,
                                          paid, patient_responsibility, payer_claim_number, deductible, coinsurance,
                                          copay, contractual, other_adjustments)
               SELECT :r, g * 10, CASE WHEN g <= :n THEN c1.claim_number || 'A1' ELSE 'ZZUNKNOWN' || g END, '1',
                      100.00, 70.00, 0, CASE WHEN g <= :n THEN 'ICN-R' ELSE 'ICN-HOSTILE' END, 0, 0, 0, 30.00, 0
               FROM generate_series(1, 2 * :n) g, claims c1 WHERE c1.id = :a"""
            ),
            {"r": rid, "n": n, "a": ids[0]},
        )
        conn.execute(
            text(
                """INSERT INTO adjustments (claim_payment_id, segment_no, position, group_code, reason_code, amount)
               SELECT id, segment_no, 1, 'CO', '45', 30.00 FROM claim_payments WHERE remittance_id = :r"""
            ),
            {"r": rid},
        )
    return ids[0], ids[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="repeats of one CLP, and stray CLP07 loops (each)")
    args = ap.parse_args(argv)
    name = f"cf_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        seed_practice(engine, patients=10, claims=10, seed=7, as_of=AS_OF, replace=True)
        repeated, target = _stage(engine, args.n)
        t0 = time.perf_counter()
        result = post_remittances(engine, actor="bench", as_of=AS_OF)
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = post_remittances(engine, actor="bench", as_of=AS_OF)
        took_again = time.perf_counter() - t0
        with engine.connect() as conn:
            paid = dict(
                conn.execute(
                    text(
                        "SELECT claim_id, COUNT(*) FROM claim_payments WHERE posted_at IS NOT NULL GROUP BY claim_id"
                    )
                ).all()
            )
        print(f"hostile posting, PostgreSQL: {args.n:,} repeats of one CLP + {args.n:,} stray CLP07 loops")
        print(
            f"  post_remittances {took:8.2f} s; posted {result['claim_payments_posted']}, "
            f"duplicates held {result['duplicates_held']:,}, fallback held {result['fallback_held']}, "
            f"unmatched new {result['unmatched_new']:,}"
        )
        print(
            f"  post_remittances again {took_again:8.2f} s; posted {again['claim_payments_posted']}, "
            f"fallback held {again['fallback_held']}, unmatched open {again['unmatched_open']:,}"
        )
        print(
            f"  payments posted on the repeated claim: {paid.get(repeated, 0)}, on the CLP07 claim: "
            f"{paid.get(target, 0)}"
        )
        engine.dispose()
        ok = paid.get(repeated) == 1 and paid.get(target) == 1 and again["claim_payments_posted"] == 0
        return 0 if ok else 1
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
