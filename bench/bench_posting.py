"""Posting + nightly reconciliation on PostgreSQL at practice scale (default 100,000 claims).

    uv run python bench/bench_posting.py [--claims 100000] [--patients 20000] [--keep]

1. creates a scratch database (admin URL from ``CLAIMFLOW_BENCH_PG_URL``, else ``CLAIMFLOW_TEST_PG_URL``,
   else the local trust-auth server) and migrates it with Alembic;
2. seeds the synthetic practice with ``claimflow.sandbox.seed`` (not timed as part of the nightly cycle);
3. synthesizes what the clearinghouse would have sent, with set-based SQL straight into the stored
   response tables: one submission per claim, 835 remittances (≤ 2,000 claims per ST, one payer each)
   with CO-45 / PR-3 / CO-50 denials at line level, unanswered claims, payer-truncated CLP01s,
   payments for claims that are not ours, reversal + correction pairs in a later remittance, PLB WO
   recoupments and L6 interest — balanced at every level;
4. times ``post_remittances``, a patient payment CSV import, ``reconcile``, the data-quality checks and
   the HTML report, then the idempotent re-runs, and prints one line per stage.

The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adjudication.patient_payments import import_payments_csv
from adjudication.posting import post_remittances
from adjudication.reconcile import data_quality_checks, reconcile
from adjudication.report import render_run_report
from claimflow.db.migrate import upgrade
from claimflow.db.session import make_engine
from claimflow.sandbox.seed import seed_practice

ADMIN = os.environ.get("CLAIMFLOW_BENCH_PG_URL") or os.environ.get(
    "CLAIMFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AS_OF = dt.date(2026, 11, 25)
PAY1 = AS_OF - dt.timedelta(days=10)
PAY2 = AS_OF - dt.timedelta(days=3)
OFFSET_REV = 10_000_000
OFFSET_COR = 20_000_000


def _timed(label: str, fn: Callable[[], Any], times: dict[str, float]) -> Any:
    t0 = time.perf_counter()
    result = fn()
    times[label] = time.perf_counter() - t0
    print(f"  {label:<44} {times[label]:8.2f} s", flush=True)
    return result


def synthesize(engine: Engine) -> dict[str, int]:
    """Submissions and stored 835 rows for every seeded claim, set-based (PostgreSQL SQL)."""
    sql = [
        # One outbound interchange; every ready claim submitted once; most accepted by the 277CA.
        """INSERT INTO interchanges (direction, sha256, bytes, file_name, status, isa13, transaction_type, created_at)
           VALUES ('out', md5(random()::text) || md5(random()::text), 1, 'bench.837', 'uploaded', '000000001', '837P',
                   now())""",
        """INSERT INTO submissions (claim_id, attempt, patient_control_number, interchange_id, gs06, st02, frequency,
                                    status, created_at)
           SELECT c.id, 1, c.claim_number || 'A1', (SELECT max(id) FROM interchanges), '1',
                  lpad((c.id % 1000000)::text, 6, '0'), '1', 'accepted',
                  LEAST(c.service_date_from, DATE '2026-11-20') + time '21:00'
           FROM claims c WHERE c.status = 'ready'""",
        "UPDATE claims SET status = 'accepted', submitted_at = now() WHERE status = 'ready'",
        # The plan: what happens to each claim (by id modulo 100 — deterministic).
        """CREATE TEMP TABLE plan AS
           SELECT c.id AS claim_id, c.payer_id, c.claim_number || 'A1' AS pcn, c.id % 100 AS k,
                  (row_number() OVER (PARTITION BY c.payer_id ORDER BY c.id) - 1) / 2000 AS chunk
           FROM claims c JOIN submissions s ON s.claim_id = c.id
           WHERE c.id % 100 >= 5""",  # 0-4: no answer yet
        """CREATE TEMP TABLE lines AS
           SELECT sl.id AS line_id, sl.claim_id, sl.line_control_number AS lcn,
                  COALESCE(sl.procedure_code, sl.revenue_code) AS proc, sl.charge,
                  p.k, row_number() OVER (PARTITION BY sl.claim_id ORDER BY sl.line_number) AS n,
                  round(sl.charge * 0.72, 2) AS allowed
           FROM service_lines sl JOIN plan p ON p.claim_id = sl.claim_id""",
        """ALTER TABLE lines ADD COLUMN pr numeric(14,2), ADD COLUMN paid numeric(14,2)""",
        """UPDATE lines SET pr = CASE WHEN k BETWEEN 5 AND 10 THEN 0 WHEN n = 1 THEN LEAST(allowed, 15.00) ELSE 0 END,
                            allowed = CASE WHEN k BETWEEN 5 AND 10 THEN 0 ELSE allowed END""",
        "UPDATE lines SET paid = allowed - pr",
        # Remittances: first run per payer chunk; a second run for reversals/corrections and recoupments.
        """INSERT INTO interchanges (direction, sha256, bytes, file_name, status, transaction_type, created_at)
           SELECT 'in', md5(payer_id::text || '-' || chunk::text || '-' || r::text || random()::text), 1,
                  'bench-' || payer_id || '-' || chunk || '-' || r || '.835', 'loaded', '835', now()
           FROM (SELECT DISTINCT payer_id, chunk FROM plan) x CROSS JOIN (VALUES (1), (2)) v(r)""",
        """CREATE TEMP TABLE rem AS
           SELECT i.id AS interchange_id, split_part(i.file_name, '-', 2)::int AS payer_id,
                  split_part(i.file_name, '-', 3)::int AS chunk,
                  split_part(split_part(i.file_name, '-', 4), '.', 1)::int AS r
           FROM interchanges i WHERE i.file_name LIKE 'bench-%'""",
        """INSERT INTO remittances (interchange_id, st02, segment_no, handling_code, payment_amount, credit_debit,
                                    payment_method, payment_date, trace_number, payer_identifier, production_date,
                                    balanced, payer_id)
           SELECT rem.interchange_id, '0001', 3, 'I', 0, 'C', 'ACH', CASE WHEN r = 1 THEN DATE '{pay1}' ELSE DATE '{pay2}' END,
                  'TRN' || rem.interchange_id, py.payer_id, CASE WHEN r = 1 THEN DATE '{pay1}' ELSE DATE '{pay2}' END,
                  true, rem.payer_id
           FROM rem JOIN payers py ON py.id = rem.payer_id""",
        """CREATE TEMP TABLE remid AS SELECT r.id AS remittance_id, rem.payer_id, rem.chunk, rem.r
           FROM remittances r JOIN rem ON rem.interchange_id = r.interchange_id""",
        # Originals (run 1). k 11: the payer truncates CLP01; k 12: a claim that is not ours.
        """INSERT INTO claim_payments (id, remittance_id, segment_no, patient_control_number, status_code, charge, paid,
                                      patient_responsibility, filing_indicator, payer_claim_number, deductible,
                                      coinsurance, copay, contractual, other_adjustments)
           SELECT p.claim_id, ri.remittance_id, p.claim_id * 10,
                  CASE WHEN p.k = 11 THEN left(p.pcn, length(p.pcn) - 2)
                       WHEN p.k = 12 THEN 'ZZ' || p.pcn ELSE p.pcn END,
                  CASE WHEN p.k BETWEEN 5 AND 10 THEN '4' ELSE '1' END,
                  SUM(l.charge), SUM(l.paid), SUM(l.pr), '12', 'ICN' || p.claim_id, 0, 0, SUM(l.pr),
                  SUM(l.charge - l.allowed), 0
           FROM plan p JOIN lines l ON l.claim_id = p.claim_id
           JOIN remid ri ON ri.payer_id = p.payer_id AND ri.chunk = p.chunk AND ri.r = 1
           GROUP BY p.claim_id, ri.remittance_id, p.k, p.pcn""",
        """INSERT INTO service_line_payments (id, claim_payment_id, segment_no, procedure_qualifier, procedure_code,
                                             charge, paid, units, line_control_number, service_date)
           SELECT l.line_id, l.claim_id, l.claim_id * 10 + l.n, 'HC', l.proc, l.charge, l.paid, 1, l.lcn, DATE '{pay1}'
           FROM lines l""",
        """INSERT INTO adjustments (claim_payment_id, service_line_payment_id, segment_no, position, group_code,
                                   reason_code, amount)
           SELECT l.claim_id, l.line_id, l.claim_id * 10 + l.n, 1, 'CO',
                  CASE WHEN l.k BETWEEN 5 AND 10 THEN '50' ELSE '45' END, l.charge - l.allowed
           FROM lines l WHERE l.charge <> l.allowed
           UNION ALL
           SELECT l.claim_id, l.line_id, l.claim_id * 10 + l.n, 2, 'PR', '3', l.pr FROM lines l WHERE l.pr <> 0""",
        # k 13-14: reversed and corrected (paid at 80%) in run 2.
        """INSERT INTO claim_payments (id, remittance_id, segment_no, patient_control_number, status_code, charge, paid,
                                      patient_responsibility, filing_indicator, payer_claim_number, deductible,
                                      coinsurance, copay, contractual, other_adjustments)
           SELECT cp.id + {rev}, ri.remittance_id, cp.segment_no, cp.patient_control_number, '22', -cp.charge,
                  -cp.paid, -cp.patient_responsibility, '12', cp.payer_claim_number, 0, 0, -cp.copay,
                  -cp.contractual, 0
           FROM claim_payments cp JOIN plan p ON p.claim_id = cp.id
           JOIN remid ri ON ri.payer_id = p.payer_id AND ri.chunk = p.chunk AND ri.r = 2
           WHERE p.k IN (13, 14)""",
        """INSERT INTO service_line_payments (id, claim_payment_id, segment_no, procedure_qualifier, procedure_code,
                                             charge, paid, units, line_control_number, service_date)
           SELECT s.id + {rev}, s.claim_payment_id + {rev}, s.segment_no, 'HC', s.procedure_code, -s.charge, -s.paid,
                  1, s.line_control_number, s.service_date
           FROM service_line_payments s JOIN plan p ON p.claim_id = s.claim_payment_id WHERE p.k IN (13, 14)""",
        """INSERT INTO adjustments (claim_payment_id, service_line_payment_id, segment_no, position, group_code,
                                   reason_code, amount)
           SELECT a.claim_payment_id + {rev}, a.service_line_payment_id + {rev}, a.segment_no, a.position,
                  a.group_code, a.reason_code, -a.amount
           FROM adjustments a JOIN plan p ON p.claim_id = a.claim_payment_id WHERE p.k IN (13, 14)""",
        """CREATE TEMP TABLE corr AS
           SELECT l.line_id, l.claim_id, l.n, l.charge, l.proc, l.lcn, l.pr,
                  round(l.charge * 0.80, 2) - l.pr AS paid, l.charge - round(l.charge * 0.80, 2) AS co
           FROM lines l WHERE l.k IN (13, 14)""",
        """INSERT INTO claim_payments (id, remittance_id, segment_no, patient_control_number, status_code, charge, paid,
                                      patient_responsibility, filing_indicator, payer_claim_number, deductible,
                                      coinsurance, copay, contractual, other_adjustments)
           SELECT p.claim_id + {cor}, ri.remittance_id, p.claim_id * 10 + 5, p.pcn, '1', SUM(c.charge), SUM(c.paid),
                  SUM(c.pr), '12', 'ICN' || p.claim_id || 'C', 0, 0, SUM(c.pr), SUM(c.co), 0
           FROM plan p JOIN corr c ON c.claim_id = p.claim_id
           JOIN remid ri ON ri.payer_id = p.payer_id AND ri.chunk = p.chunk AND ri.r = 2
           GROUP BY p.claim_id, ri.remittance_id, p.pcn""",
        """INSERT INTO service_line_payments (id, claim_payment_id, segment_no, procedure_qualifier, procedure_code,
                                             charge, paid, units, line_control_number, service_date)
           SELECT c.line_id + {cor}, c.claim_id + {cor}, c.claim_id * 10 + 5 + c.n, 'HC', c.proc, c.charge, c.paid, 1,
                  c.lcn, DATE '{pay1}' FROM corr c""",
        """INSERT INTO adjustments (claim_payment_id, service_line_payment_id, segment_no, position, group_code,
                                   reason_code, amount)
           SELECT c.claim_id + {cor}, c.line_id + {cor}, c.claim_id * 10 + 5 + c.n, 1, 'CO', '45', c.co
           FROM corr c WHERE c.co <> 0
           UNION ALL
           SELECT c.claim_id + {cor}, c.line_id + {cor}, c.claim_id * 10 + 5 + c.n, 2, 'PR', '3', c.pr
           FROM corr c WHERE c.pr <> 0""",
        # PLB in run 2: WO recoupment of 5.00 on k = 15 claims (by PCN), L6 interest on corrections.
        """INSERT INTO provider_adjustments (remittance_id, segment_no, position, provider_identifier,
                                            fiscal_period_date, reason_code, reference, amount)
           SELECT ri.remittance_id, 900000000 + p.claim_id, 1, '1234567893', DATE '2026-12-31',
                  CASE WHEN p.k = 15 THEN 'WO' ELSE 'L6' END, CASE WHEN p.k = 15 THEN p.pcn ELSE 'ICN' || p.claim_id || 'C' END,
                  CASE WHEN p.k = 15 THEN 5.00 ELSE -0.75 END
           FROM plan p JOIN remid ri ON ri.payer_id = p.payer_id AND ri.chunk = p.chunk AND ri.r = 2
           WHERE p.k IN (13, 15)""",
        # BPR02 = Σ CLP04 − Σ PLB (a forward balance keeps it from going negative).
        """INSERT INTO provider_adjustments (remittance_id, segment_no, position, provider_identifier,
                                            fiscal_period_date, reason_code, reference, amount)
           SELECT x.remittance_id, 999999999, 1, '1234567893', DATE '2026-12-31', 'FB', 'FWD' || x.remittance_id, x.total
           FROM (SELECT r.id AS remittance_id,
                        COALESCE((SELECT SUM(paid) FROM claim_payments WHERE remittance_id = r.id), 0)
                        - COALESCE((SELECT SUM(amount) FROM provider_adjustments WHERE remittance_id = r.id), 0) AS total
                 FROM remittances r) x WHERE x.total < 0""",
        """UPDATE remittances r SET payment_amount =
               COALESCE((SELECT SUM(paid) FROM claim_payments WHERE remittance_id = r.id), 0)
               - COALESCE((SELECT SUM(amount) FROM provider_adjustments WHERE remittance_id = r.id), 0)""",
        "SELECT setval(pg_get_serial_sequence('claim_payments', 'id'), (SELECT max(id) FROM claim_payments))",
        "SELECT setval(pg_get_serial_sequence('service_line_payments', 'id'), (SELECT max(id) FROM service_line_payments))",
        "ANALYZE",
    ]
    with engine.begin() as conn:
        for stmt in sql:
            if stmt == "ANALYZE":
                continue
            conn.execute(
                text(
                    stmt.format(pay1=PAY1.isoformat(), pay2=PAY2.isoformat(), rev=OFFSET_REV, cor=OFFSET_COR)
                )
            )
        counts = {
            name: int(conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one())
            for name in (
                "submissions",
                "remittances",
                "claim_payments",
                "service_line_payments",
                "adjustments",
                "provider_adjustments",
            )
        }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return counts


def _payments_csv(engine: Engine, path: Path, n: int) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT p.account_number, c.claim_number, LEAST(cp.patient_responsibility, 15.00)
               FROM claim_payments cp JOIN claims c ON c.id = cp.claim_id JOIN patients p ON p.id = c.patient_id
               WHERE cp.patient_responsibility > 0 AND cp.status_code = '1' ORDER BY cp.id LIMIT :n"""
            ),
            {"n": n},
        ).all()
    lines = ["external_id,account_number,claim_number,amount,received_on,method"]
    lines += [f"BENCH-{i},{a},{c},{amt:.2f},{AS_OF.isoformat()},card" for i, (a, c, amt) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--payments", type=int, default=5_000, help="patient payments in the CSV import")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args(argv)

    name = f"cf_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    times: dict[str, float] = {}
    try:
        print(
            f"claimflow posting/reconciliation bench: {args.claims:,} claims, {args.patients:,} patients, "
            f"PostgreSQL database {name}"
        )
        print("setup (not part of the nightly cycle):")
        _timed("migrate (alembic 0001 + 0002)", lambda: upgrade(url), times)
        engine = make_engine(url)
        _timed(
            "seed synthetic practice (claimflow.sandbox.seed)",
            lambda: seed_practice(
                engine, patients=args.patients, claims=args.claims, seed=7, as_of=AS_OF, replace=True
            ),
            times,
        )
        counts = _timed("synthesize submissions + 835 rows (SQL)", lambda: synthesize(engine), times)
        print("   ", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        csv = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-payments.csv"

        print("nightly cycle:")
        posted = _timed(
            "post_remittances", lambda: post_remittances(engine, actor="bench", as_of=AS_OF), times
        )
        print(
            f"    posted {posted['claim_payments_posted']:,} claim payments + {posted['reversals_posted']:,} "
            f"reversals, {posted['ledger_entries']:,} ledger rows, matched {posted['matched_by']}, "
            f"unmatched {posted['unmatched_new']:,}, PLB {posted['plb_posted']:,}"
        )
        _payments_csv(engine, csv, args.payments)
        imported = _timed(
            f"import {args.payments:,} patient payments (CSV)",
            lambda: import_payments_csv(engine, csv, actor="bench"),
            times,
        )
        print(f"    imported {imported['imported']:,} (${imported['amount']})")
        summary = _timed("reconcile", lambda: reconcile(engine, AS_OF, actor="bench"), times)
        problems = _timed("data_quality_checks", lambda: data_quality_checks(engine, AS_OF), times)
        report = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-report.html"
        _timed("render_run_report", lambda: render_run_report(engine, AS_OF, report), times)
        nightly = sum(times[k] for k in times if not k.startswith(("migrate", "seed", "synthesize")))
        print(f"  {'nightly cycle total':<44} {nightly:8.2f} s")
        print("idempotent re-runs:")
        again = _timed(
            "post_remittances again (nothing to post)",
            lambda: post_remittances(engine, actor="bench", as_of=AS_OF),
            times,
        )
        _timed("reconcile again (same snapshot)", lambda: reconcile(engine, AS_OF, actor="bench"), times)
        print(
            f"results: claims in A/R {summary['claims']:,}, charges ${summary['total_charge']}, "
            f"paid ${summary['total_paid']}, patient balance ${summary['patient_balance_total']}, "
            f"unexplained balance exceptions {summary['balance_exceptions']}, data-quality problems {len(problems)}, "
            f"second posting {again['claim_payments_posted']} claim payments"
        )
        engine.dispose()
        csv.unlink(missing_ok=True)
        return 0 if summary["balance_exceptions"] == 0 else 1
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
