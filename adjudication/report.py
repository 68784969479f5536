"""The nightly run report: one self-contained HTML page (inline CSS, no scripts, no external assets).

It shows what the reconciliation of ``run_date`` stored — counts and dollars, claims by status, KPIs
with their definitions, aging by payer and by bucket for patients, top denial reasons by CARC category,
unmatched payments and the balance exceptions — and nothing that identifies a patient: claims are named
by our claim numbers, patients only by their hashed ``patient_key``.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from claimflow.db import models as m

from ._sql import Sql
from .carc import category_sql, non_denial_codes_sql
from .posting import outcome_sql
from .reconcile import BUCKETS, data_quality_checks

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2630;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.muted{color:#57606a;font-size:.9rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:11rem}
.card .v{font-size:1.3rem;font-weight:600}.small{font-size:.8rem;color:#57606a;max-width:40rem}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"${Decimal(value):,.2f}"


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="muted">none</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_value(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    v = Decimal(value)
    if name == "days_in_ar":
        return f"{v:.1f} days"
    return f"{v * 100:.1f}%"


def render_run_report(engine: Engine, run_date: dt.date, path: Path | str) -> Path:
    """Write the HTML report of ``run_date``'s reconciliation to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        q = Sql(conn)
        d = {"d": run_date}
        run = conn.execute(select(m.ReconciliationRun.summary, m.ReconciliationRun.status)
                           .where(m.ReconciliationRun.run_date == run_date)).first()
        summary: dict[str, Any] = dict(run[0] or {}) if run else {}
        status = run[1] if run else "not run"
        kpis = q.run("SELECT name, value, numerator, denominator, definition FROM kpis WHERE run_date = :d "
                     "ORDER BY name", d).all()
        aging = q.run(
            """SELECT a."key", a.bucket, a.amount, a.claims, py.name FROM aging_buckets a
               LEFT JOIN payers py ON py.payer_id = a."key"
               WHERE a.run_date = :d AND a.dimension = 'payer'""", d).all()
        patient_aging = q.run(
            """SELECT bucket, SUM(amount), COUNT(DISTINCT "key"), SUM(claims) FROM aging_buckets
               WHERE run_date = :d AND dimension = 'patient' GROUP BY bucket""", d).all()
        denials = q.run(
            f"""SELECT {category_sql("a.reason_code")} AS cat, a.group_code, a.reason_code,
                       COUNT(DISTINCT cp.id), SUM(a.amount)
                FROM claim_payments cp
                JOIN adjustments a ON a.claim_payment_id = cp.id
                WHERE cp.posted_at IS NOT NULL AND cp.claim_id IS NOT NULL
                  AND {outcome_sql("cp")} = 'denied'
                  AND a.group_code <> 'PR' AND a.reason_code NOT IN {non_denial_codes_sql()}
                GROUP BY {category_sql("a.reason_code")}, a.group_code, a.reason_code""").all()
        exceptions = q.run(
            """SELECT level, kind, reference, expected, found, explained FROM balance_exceptions
               WHERE source = 'reconciliation' AND run_date = :d
               ORDER BY explained, level, kind, id LIMIT 200""", d).all()
        unmatched = q.run(
            """SELECT u.reason, COUNT(*), SUM(cp.paid), MIN(u.created_at) FROM unmatched_payments u
               JOIN claim_payments cp ON cp.id = u.claim_payment_id WHERE u.resolved = false
               GROUP BY u.reason ORDER BY COUNT(*) DESC""").all()
        # Inbound files received on the run date that stored nothing: repeats and refusals (one line each,
        # naming segments and earlier interchanges, never values).
        start = dt.datetime.combine(run_date, dt.time())
        not_stored = conn.execute(
            select(m.Interchange.id, m.Interchange.file_name, m.Interchange.status, m.Interchange.error)
            .where(m.Interchange.direction == "in", m.Interchange.status.in_(["duplicate", "quarantined"]),
                   m.Interchange.created_at >= start, m.Interchange.created_at < start + dt.timedelta(days=1))
            .order_by(m.Interchange.id).limit(200)).all()

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>claimflow run report {run_date.isoformat()}</title><style>{_CSS}</style></head><body>",
        f"<h1>claimflow nightly run — {run_date.isoformat()}</h1>",
        f"<p class='muted'>Reconciliation status: <b>{_e(status)}</b>. Generated "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. Patients appear only as hashed keys.</p>",
    ]
    unexplained = int(summary.get("balance_exceptions", 0) or 0)
    verdict = ("<span class='ok'>balanced</span>" if unexplained == 0
               else f"<span class='bad'>{unexplained} unexplained exception(s)</span>")
    cards = [
        ("Claims in A/R snapshot", summary.get("claims", 0), False),
        ("Total charges", summary.get("total_charge"), True),
        ("Payer paid", summary.get("total_paid"), True),
        ("Contractual", summary.get("contractual"), True),
        ("Patient responsibility", summary.get("patient_responsibility"), True),
        ("Patient payments", summary.get("patient_payments"), True),
        ("Insurance balance", summary.get("insurance_balance_total"), True),
        ("Patient balance", summary.get("patient_balance_total"), True),
        ("Refunds due", summary.get("refunds_due"), True),
        ("Unmatched payments", summary.get("unmatched_payments", 0), False),
    ]
    parts.append("<h2>Summary</h2><div class='grid'>")
    for label, value, is_money in cards:
        shown = _money(value) if is_money else _e(value)
        parts.append(f"<div class='card'><div class='muted'>{_e(label)}</div><div class='v'>{shown}</div></div>")
    parts.append(f"<div class='card'><div class='muted'>Balance proof</div><div class='v'>{verdict}</div></div>")
    parts.append("</div>")

    by_status = summary.get("claims_by_status", {}) or {}
    parts.append("<h2>Claims by status</h2>")
    parts.append(_table(["status", "claims"], [[k, v] for k, v in sorted(by_status.items())], {1}))

    parts.append("<h2>Key performance indicators</h2>")
    parts.append(_table(
        ["KPI", "value", "numerator", "denominator", "definition"],
        [[n, _kpi_value(n, v), "" if num is None else f"{Decimal(num):,.2f}",
          "" if den is None else f"{Decimal(den):,.2f}", dfn] for n, v, num, den, dfn in kpis],
        {1, 2, 3},
    ))

    parts.append("<h2>Insurance A/R aging by payer</h2>"
                 "<p class='small'>Age = run date − first date of service. Amounts are insurance balances.</p>")
    grid: dict[tuple[str, str], dict[str, tuple[Decimal, int]]] = {}
    for key, bucket, amount, claims, name in aging:
        grid.setdefault((key, name or ""), {})[bucket] = (q.money(amount), int(claims))
    rows = []
    totals = dict.fromkeys(BUCKETS, Decimal("0.00"))
    for (key, name), cells in sorted(grid.items()):
        row: list[Any] = [key, name]
        line_total = Decimal("0.00")
        for b in BUCKETS:
            amt = cells.get(b, (Decimal("0.00"), 0))[0]
            totals[b] += amt
            line_total += amt
            row.append(_money(amt))
        row.append(_money(line_total))
        rows.append(row)
    if rows:
        rows.append(["total", "", *(_money(totals[b]) for b in BUCKETS), _money(sum(totals.values()))])
    parts.append(_table(["payer", "name", *BUCKETS, "total"], rows, set(range(2, 3 + len(BUCKETS)))))

    parts.append("<h2>Patient A/R aging</h2>")
    pa = {b: (q.money(a), int(p or 0), int(c or 0)) for b, a, p, c in patient_aging}
    parts.append(_table(["bucket", "patient balance", "patients", "claims"],
                        [[b, _money(pa.get(b, (Decimal(0), 0, 0))[0]), pa.get(b, (0, 0, 0))[1],
                          pa.get(b, (0, 0, 0))[2]] for b in BUCKETS], {1, 2, 3}))

    parts.append("<h2>Top denial reasons by CARC category</h2>"
                 "<p class='small'>Denied claim payments (CLP02=4, or nothing paid with a denial CARC); "
                 "codes only (descriptions: X12 CARC list).</p>")
    cat_totals: dict[str, list[Any]] = {}
    for cat, _grp, _code, n, amount in denials:
        t = cat_totals.setdefault(cat, [0, Decimal("0.00")])
        t[0] += int(n)
        t[1] += q.money(amount)
    parts.append(_table(["category", "claim payments", "amount"],
                        [[c, n, _money(a)] for c, (n, a) in sorted(cat_totals.items(), key=lambda kv: -kv[1][0])],
                        {1, 2}))
    top = sorted(denials, key=lambda r: (-int(r[3]), r[2]))[:15]
    parts.append(_table(["CARC", "category", "claim payments", "amount"],
                        [[f"{g}-{c}", cat, n, _money(q.money(a))] for cat, g, c, n, a in top], {2, 3}))

    parts.append("<h2>Unmatched payments</h2>")
    parts.append(_table(["reason", "claim payments", "paid", "oldest"],
                        [[r, n, _money(q.money(a)), str(o)[:10]] for r, n, a, o in unmatched], {1, 2}))

    parts.append(f"<h2>Inbound files not stored: duplicates and quarantined ({len(not_stored)})</h2>")
    parts.append(_table(["interchange", "file", "status", "why"],
                        [[i, f, st, err] for i, f, st, err in not_stored], {0}))

    # Data quality: what data_quality_checks fails the nightly run for (counts and ids only).
    quality = data_quality_checks(engine, run_date)
    parts.append("<h2>Data quality</h2>")
    parts.append(f"<p class='{'bad' if quality else 'ok'}'>{len(quality)} problem(s)</p>")
    parts.append(_table(["problem"], [[problem] for problem in quality]))

    parts.append(f"<h2>Balance exceptions ({len(exceptions)} shown)</h2>")
    parts.append(_table(["level", "kind", "reference", "expected", "found", "explained"],
                        [[lv, k, ref, _money(q.money(e)), _money(q.money(f)), "yes" if x else "no"]
                         for lv, k, ref, e, f, x in exceptions], {3, 4}))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
