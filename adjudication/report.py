"""The nightly run report: one self-contained HTML page (inline CSS and SVG, no scripts, no external assets).

It is the morning view of the billing office, in the order people ask: did the books balance and what
changed since last night; what went out (by payer and file) and what came back; which claims were
rejected or held and why (in words); denials (claim and line level, counted by the one definition in
:data:`adjudication.carc.DENIAL_DEFINITION` - the same counts as the ``denial_rate_<category>`` KPIs);
cash by payer with its check/EFT trace numbers; open work items; then KPIs, aging, unmatched payments,
files not stored, data quality and the balance exceptions.

Charts are inline SVG drawn here (``role="img"`` with ``<title>``/``<desc>``), each beside the table of its
numbers. The summary cards are two equations whose terms add up on screen (``data-card``/``data-value``
attributes carry the exact amounts). Nothing identifies a patient: claims are named by our claim numbers,
patients only by their hashed ``patient_key``; work-item reasons are plain language without PHI.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from claimflow.db import models as m
from eob.codes import carc_description

from ._sql import Sql
from .carc import CATEGORY_LABELS, DENIAL_DEFINITION, category
from .denials import DenialCount, Denials, denials
from .patient_kpis import PatientCollections, patient_collections
from .reconcile import BUCKETS, WINDOW_DAYS, data_quality_checks

ZERO = Decimal("0.00")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2630;background:#fff;
max-width:84rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:1rem 0 .3rem}
.muted{color:#57606a;font-size:.9rem}table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;background:#f6f8fa}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.up{color:#9a6700}.down{color:#0969da}
.grid{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .8rem;min-width:9rem}
.card .v{font-size:1.2rem;font-weight:600;font-variant-numeric:tabular-nums}.card.res{background:#f6f8fa}
.op{font-size:1.4rem;color:#57606a;padding:0 .1rem}
.small{font-size:.8rem;color:#57606a;max-width:60rem}
.pair{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
svg text{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;font-size:12px;fill:#1d2630}
details{margin:.5rem 0}summary{cursor:pointer;color:#0969da}
"""

_PALETTE = ("#0969da", "#1a7f37", "#9a6700", "#bc4c00", "#cf222e", "#8250df", "#57606a")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"${Decimal(value):,.2f}"


def _signed_money(value: Decimal) -> str:
    return ("+" if value > 0 else "−" if value < 0 else "") + _money(abs(value))


def _table(
    headers: list[str],
    rows: list[list[Any]],
    numeric: set[int] | None = None,
    *,
    name: str | None = None,
    total: bool = False,
) -> str:
    """A table; ``name`` becomes ``data-table`` (tests and scrapers find it); ``total``: last row is a total."""
    numeric = numeric or set()
    head = "".join(f"<th scope='col'>{_e(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cls = " class='total'" if total and i == len(rows) - 1 else ""
        cells = "".join(
            f'<td class="n">{_e(c)}</td>' if j in numeric else f"<td>{_e(c)}</td>" for j, c in enumerate(r)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    if not rows:
        body = [f'<tr><td colspan="{len(headers)}" class="muted">none</td></tr>']
    attr = f" data-table='{_e(name)}'" if name else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kpi_value(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    v = Decimal(value)
    if name == "days_in_ar":
        return f"{v:.1f} days"
    return f"{v * 100:.1f}%"


# --------------------------------------------------------------------------------------------------
# charts: inline SVG, server-side, accessible
# --------------------------------------------------------------------------------------------------

_chart_ids = {"n": 0}


def bar_chart(
    title: str, desc: str, items: list[tuple[str, Decimal]], *, money: bool = True, width: int = 400
) -> str:
    """A horizontal bar chart as inline SVG (``role="img"``, ``<title>``/``<desc>``; the numbers are also
    in the table the caller puts beside it). Negative values draw as empty bars with their value."""
    _chart_ids["n"] += 1
    cid = f"chart{_chart_ids['n']}"
    label_w, value_w, bar_h, gap = 150, 100, 18, 6
    plot_w = width - label_w - value_w
    height = max(1, len(items)) * (bar_h + gap) + 10
    top = max((v for _, v in items if v > 0), default=Decimal(0))
    out = [
        f"<svg role='img' aria-labelledby='{cid}t {cid}d' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' data-chart='{_e(title)}'>",
        f"<title id='{cid}t'>{_e(title)}</title><desc id='{cid}d'>{_e(desc)}</desc>",
    ]
    if not items:
        out.append("<text x='0' y='14'>nothing to chart</text>")
    for i, (label, value) in enumerate(items):
        y = 5 + i * (bar_h + gap)
        w = int((value / top * plot_w).to_integral_value()) if top and value > 0 else 0
        shown = _money(value) if money else f"{value:,}"
        short = label if len(label) <= 26 else label[:25] + "…"
        out.append(
            f"<text x='{label_w - 6}' y='{y + 13}' text-anchor='end'>{_e(short)}</text>"
            f"<rect x='{label_w}' y='{y}' width='{max(w, 1)}' height='{bar_h}' "
            f"fill='{_PALETTE[i % len(_PALETTE)]}'></rect>"
            f"<text x='{label_w + w + 4}' y='{y + 13}'>{_e(shown)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def stacked_chart(
    title: str, desc: str, rows: list[tuple[str, list[Decimal]]], series: tuple[str, ...], width: int = 560
) -> str:
    """Horizontal stacked bars (one per row, one segment per series) with a legend; positive parts only."""
    _chart_ids["n"] += 1
    cid = f"chart{_chart_ids['n']}"
    label_w, bar_h, gap = 150, 18, 6
    plot_w = width - label_w - 10
    height = len(rows) * (bar_h + gap) + 34
    top = max((sum((v for v in vals if v > 0), Decimal(0)) for _, vals in rows), default=Decimal(0))
    out = [
        f"<svg role='img' aria-labelledby='{cid}t {cid}d' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' data-chart='{_e(title)}'>",
        f"<title id='{cid}t'>{_e(title)}</title><desc id='{cid}d'>{_e(desc)}</desc>",
    ]
    for i, (label, vals) in enumerate(rows):
        y = 5 + i * (bar_h + gap)
        out.append(f"<text x='{label_w - 6}' y='{y + 13}' text-anchor='end'>{_e(label)}</text>")
        x = label_w
        for j, v in enumerate(vals):
            if v <= 0 or not top:
                continue
            w = int((v / top * plot_w).to_integral_value())
            out.append(
                f"<rect x='{x}' y='{y}' width='{w}' height='{bar_h}' fill='{_PALETTE[j % len(_PALETTE)]}'>"
                f"<title>{_e(label)} {_e(series[j])}: {_e(_money(v))}</title></rect>"
            )
            x += w
    y = 5 + len(rows) * (bar_h + gap) + 6
    x = label_w
    for j, name in enumerate(series):
        out.append(
            f"<rect x='{x}' y='{y}' width='12' height='12' fill='{_PALETTE[j % len(_PALETTE)]}'></rect>"
            f"<text x='{x + 16}' y='{y + 11}'>{_e(name)}</text>"
        )
        x += 30 + 8 * len(name)
    out.append("</svg>")
    return "".join(out)


def _pair(chart: str, table: str) -> str:
    return f"<div class='pair'><div>{chart}</div><div>{table}</div></div>"


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------


@dataclass
class Window:
    """What "since last night" means: the day after the previous reconciliation up to the run date
    (only the run date when there is no previous run, or it is more than a week old)."""

    start: dt.date
    end: dt.date
    previous: dt.date | None

    @property
    def start_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def label(self) -> str:
        if self.start == self.end:
            return self.end.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _window(q: Sql, run_date: dt.date) -> Window:
    prev = q.date(
        q.scalar(
            "SELECT MAX(run_date) FROM reconciliation_runs WHERE run_date < :d AND status = 'done'",
            {"d": run_date},
        )
    )
    start = run_date
    if prev is not None and (run_date - prev).days <= 7:
        start = prev + dt.timedelta(days=1)
    return Window(start, run_date, prev)


def _cards(q: Sql, run_date: dt.date) -> dict[str, Decimal]:
    """Sums of the run date's claim_balances: the terms of the two card equations."""
    r = q.run(
        """SELECT SUM(charge), SUM(payer_paid), SUM(contractual), SUM(other_adjustments),
                  SUM(patient_responsibility), SUM(provider_adjustments), SUM(insurance_write_off),
                  SUM(insurance_balance), SUM(patient_paid), SUM(patient_write_off), SUM(patient_balance)
           FROM claim_balances WHERE run_date = :d""",
        {"d": run_date},
    ).one()
    keys = (
        "charge",
        "payer_paid",
        "contractual",
        "other_adjustments",
        "patient_responsibility",
        "provider_adjustments",
        "insurance_write_off",
        "insurance_balance",
        "patient_paid",
        "patient_write_off",
        "patient_balance",
    )
    return {k: q.money(v) for k, v in zip(keys, r, strict=True)}


#: The equations the summary cards show (label, key, sign), each ending with its result.
INSURANCE_EQUATION = (
    ("Total charges", "charge", 0),
    ("Payer paid", "payer_paid", -1),
    ("Contractual", "contractual", -1),
    ("Other adjustments", "other_adjustments", -1),
    ("Patient responsibility", "patient_responsibility", -1),
    ("Insurance write-offs", "insurance_write_off", -1),
    ("Provider adjustments (PLB)", "provider_adjustments", 1),
    ("Insurance balance", "insurance_balance", 0),
)
PATIENT_EQUATION = (
    ("Patient responsibility", "patient_responsibility", 0),
    ("Patient payments applied", "patient_paid", -1),
    ("Patient write-offs", "patient_write_off", -1),
    ("Patient balance", "patient_balance", 0),
)


def _equation(eq: tuple[tuple[str, str, int], ...], values: dict[str, Decimal], name: str) -> str:
    parts = [f"<div class='grid' data-equation='{name}'>"]
    for i, (label, key, sign) in enumerate(eq):
        last = i == len(eq) - 1
        if last:
            parts.append("<span class='op' aria-hidden='true'>=</span>")
        elif sign:
            parts.append(
                f"<span class='op' aria-label='{'minus' if sign < 0 else 'plus'}'>"
                f"{'−' if sign < 0 else '+'}</span>"
            )
        v = values[key]
        parts.append(
            f"<div class='card{' res' if last else ''}' data-card='{key}' data-sign='{sign}' "
            f"data-value='{v:.2f}'><div class='muted'>{_e(label)}</div><div class='v'>{_money(v)}</div></div>"
        )
    parts.append("</div>")
    return "".join(parts)


_CHANGES = (
    ("Claims in A/R snapshot", "claims", False),
    ("Total charges", "total_charge", True),
    ("Payer paid", "total_paid", True),
    ("Insurance balance", "insurance_balance_total", True),
    ("Patient balance", "patient_balance_total", True),
    ("Total A/R", "ar_total", True),
    ("Unmatched payments", "unmatched_payments", False),
    ("Unexplained balance exceptions", "balance_exceptions", False),
)


def _changes(summary: dict[str, Any], before: dict[str, Any] | None, prev: dt.date | None) -> str:
    if not before or prev is None:
        return "<p class='muted'>No earlier reconciliation to compare with.</p>"
    rows: list[list[Any]] = []
    for label, key, is_money in _CHANGES:
        a, b = before.get(key), summary.get(key)
        if a is None or b is None:
            continue
        da, db = Decimal(str(a)), Decimal(str(b))
        delta = db - da
        rows.append(
            [
                label,
                _money(da) if is_money else int(da),
                _money(db) if is_money else int(db),
                _signed_money(delta) if is_money else f"{int(delta):+d}",
            ]
        )
    for name in (
        "denial_rate",
        "clean_claim_rate",
        "first_pass_acceptance_rate",
        "net_collection_rate",
        "days_in_ar",
    ):
        a, b = (before.get("kpis") or {}).get(name), (summary.get("kpis") or {}).get(name)
        if a is None or b is None:
            continue
        da, db = Decimal(str(a)), Decimal(str(b))
        if name == "days_in_ar":
            rows.append([name, f"{da:.1f}", f"{db:.1f}", f"{db - da:+.1f} days"])
        else:
            rows.append([name, f"{da * 100:.1f}%", f"{db * 100:.1f}%", f"{(db - da) * 100:+.1f} pts"])
    return f"<p class='muted'>Compared with the reconciliation of {prev.isoformat()}.</p>" + _table(
        ["", prev.isoformat(), "tonight", "change"], rows, {1, 2, 3}, name="changes"
    )


def _held_words(queue: str, reason: str, codes: str | None) -> str:
    """A scrub hold in words: the failed rules' fixed descriptions (edi.scrub; never the finding text,
    which may quote values). Other queues keep the work item's plain-language reason."""
    if queue != "scrub_holds" or not codes:
        return reason
    from edi.scrub.rules import RULES

    words = [RULES[c].description for c in (x.strip() for x in codes.split(",")) if c in RULES]
    return ("Check failed: " + " ".join(words)) if words else reason


def _carc_words(code: str) -> str:
    return carc_description(code) or CATEGORY_LABELS.get(category(code), "")


# --------------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------------


def render_run_report(engine: Engine, run_date: dt.date, path: Path | str) -> Path:
    """Write the HTML report of ``run_date``'s reconciliation to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _chart_ids["n"] = 0
    with engine.connect() as conn:
        q = Sql(conn).for_batch()
        if q.pg:
            # The night's files are counted by a window on interchanges.created_at: a table of a few hundred
            # rows a night that autovacuum may not have analyzed yet (seen at 1,000,000 claims: never
            # analyzed, estimated 1 file for 211, and two of the report's joins became 960,000 index probes).
            q.run("ANALYZE interchanges")
        d = {"d": run_date}
        run = conn.execute(
            select(m.ReconciliationRun.summary, m.ReconciliationRun.status).where(
                m.ReconciliationRun.run_date == run_date
            )
        ).first()
        summary: dict[str, Any] = dict(run[0] or {}) if run else {}
        status = run[1] if run else "not run"
        win = _window(q, run_date)
        before = None
        if win.previous is not None:
            before = conn.execute(
                select(m.ReconciliationRun.summary).where(m.ReconciliationRun.run_date == win.previous)
            ).scalar()
        w = {"s": win.start_ts, "e": win.end_ts}
        cards = _cards(q, run_date)
        kpis = q.run(
            "SELECT name, value, numerator, denominator, definition FROM kpis WHERE run_date = :d "
            "ORDER BY name",
            d,
        ).all()
        patients = patient_collections(q, run_date, window_days=WINDOW_DAYS)
        aging = q.run(
            """SELECT a."key", a.bucket, a.amount, a.claims, py.name FROM aging_buckets a
               LEFT JOIN payers py ON py.payer_id = a."key"
               WHERE a.run_date = :d AND a.dimension = 'payer'""",
            d,
        ).all()
        patient_aging = q.run(
            """SELECT bucket, SUM(amount), COUNT(DISTINCT "key"), SUM(claims) FROM aging_buckets
               WHERE run_date = :d AND dimension = 'patient' GROUP BY bucket""",
            d,
        ).all()
        # Denials: everything posted on or before the run date, and the KPI window's first adjudications.
        all_denials = denials(q, dt.date(1900, 1, 1), run_date)
        initial = denials(q, run_date - dt.timedelta(days=WINDOW_DAYS - 1), run_date, first_only=True)
        sent_files = q.run(
            """SELECT i.id, i.file_name, i.transaction_type, i.isa13, i.status, COUNT(s.id), SUM(c.total_charge)
               FROM interchanges i LEFT JOIN submissions s ON s.interchange_id = i.id
               LEFT JOIN claims c ON c.id = s.claim_id
               WHERE i.direction = 'out' AND i.created_at >= :s AND i.created_at < :e
               GROUP BY i.id, i.file_name, i.transaction_type, i.isa13, i.status ORDER BY i.id""",
            w,
        ).all()
        sent_payers = q.run(
            """SELECT py.payer_id, py.name, COUNT(DISTINCT s.claim_id), SUM(c.total_charge),
                      SUM(CASE WHEN s.frequency <> '1' OR s.attempt > 1 THEN 1 ELSE 0 END)
               FROM submissions s JOIN interchanges i ON i.id = s.interchange_id
               JOIN claims c ON c.id = s.claim_id JOIN payers py ON py.id = c.payer_id
               WHERE i.direction = 'out' AND i.created_at >= :s AND i.created_at < :e
               GROUP BY py.payer_id, py.name ORDER BY py.payer_id""",
            w,
        ).all()
        came_back = q.run(
            """SELECT COALESCE(transaction_type, '?'), status, COUNT(*) FROM interchanges
               WHERE direction = 'in' AND created_at >= :s AND created_at < :e
               GROUP BY COALESCE(transaction_type, '?'), status ORDER BY 1, 2""",
            w,
        ).all()
        acks = q.run(
            """SELECT 'TA1/999' AS src, SUM(CASE WHEN a.accepted THEN 1 ELSE 0 END),
                      SUM(CASE WHEN a.accepted THEN 0 ELSE 1 END)
               FROM acknowledgments a JOIN interchanges i ON i.id = a.interchange_id
               WHERE a.kind IN ('TA1', '999_set') AND i.created_at >= :s AND i.created_at < :e
               UNION ALL
               SELECT '277CA', SUM(CASE WHEN cs.accepted = true THEN 1 ELSE 0 END),
                      SUM(CASE WHEN cs.accepted = false THEN 1 ELSE 0 END)
               FROM claim_statuses cs JOIN interchanges i ON i.id = cs.interchange_id
               WHERE cs.level = 'claim' AND i.created_at >= :s AND i.created_at < :e""",
            w,
        ).all()
        cash = q.run(
            """SELECT r.id, COALESCE(py.payer_id, r.payer_identifier, '?'), COALESCE(py.name, r.payer_name, ''),
                      r.payment_method, r.trace_number, r.payment_date,
                      CASE WHEN r.credit_debit = 'D' THEN -r.payment_amount ELSE r.payment_amount END,
                      (SELECT COUNT(*) FROM claim_payments cp WHERE cp.remittance_id = r.id),
                      (SELECT COUNT(*) FROM claim_payments cp WHERE cp.remittance_id = r.id
                         AND cp.posted_at IS NOT NULL)
               FROM remittances r JOIN interchanges i ON i.id = r.interchange_id
               LEFT JOIN payers py ON py.id = r.payer_id
               WHERE (i.created_at >= :s AND i.created_at < :e)
                  OR COALESCE(r.payment_date, r.production_date) BETWEEN :sd AND :ed
               ORDER BY 2, r.id""",
            {**w, "sd": win.start, "ed": win.end},
        ).all()
        held = q.run(
            """SELECT w.queue, c.claim_number, py.payer_id, w.reason, w.reason_codes, w.amount, w.opened_on
               FROM work_items w JOIN claims c ON c.id = w.claim_id LEFT JOIN payers py ON py.id = w.payer_id
               WHERE w.status <> 'closed' AND w.queue IN ('rejections', 'scrub_holds')
               ORDER BY w.queue, w.priority, w.amount DESC, w.id LIMIT 100"""
        ).all()
        held_total = q.run(
            """SELECT queue, COUNT(*), SUM(amount) FROM work_items
               WHERE status <> 'closed' AND queue IN ('rejections', 'scrub_holds') GROUP BY queue"""
        ).all()
        work = q.run(
            """SELECT queue, COUNT(*), SUM(amount), SUM(CASE WHEN priority = 1 THEN 1 ELSE 0 END),
                      SUM(CASE WHEN opened_on >= :ws THEN 1 ELSE 0 END)
               FROM work_items WHERE status <> 'closed' GROUP BY queue ORDER BY queue""",
            {"ws": win.start},
        ).all()
        exceptions = q.run(
            """SELECT level, kind, reference, expected, found, explained FROM balance_exceptions
               WHERE source = 'reconciliation' AND run_date = :d
               ORDER BY explained, level, kind, id LIMIT 200""",
            d,
        ).all()
        unmatched = q.run(
            """SELECT u.reason, COUNT(*), SUM(cp.paid), MIN(u.created_at) FROM unmatched_payments u
               JOIN claim_payments cp ON cp.id = u.claim_payment_id WHERE u.resolved = false
               GROUP BY u.reason ORDER BY COUNT(*) DESC"""
        ).all()
        # Inbound files received on the run date that stored nothing: repeats and refusals (one line each,
        # naming segments and earlier interchanges, never values).
        start = dt.datetime.combine(run_date, dt.time())
        not_stored = conn.execute(
            select(m.Interchange.id, m.Interchange.file_name, m.Interchange.status, m.Interchange.error)
            .where(
                m.Interchange.direction == "in",
                m.Interchange.status.in_(
                    [m.InterchangeStatus.DUPLICATE.value, m.InterchangeStatus.QUARANTINED.value]
                ),
                m.Interchange.created_at >= start,
                m.Interchange.created_at < start + dt.timedelta(days=1),
            )
            .order_by(m.Interchange.id)
            .limit(200)
        ).all()

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>claimflow run report {run_date.isoformat()}</title><style>{_CSS}</style></head><body>",
        f"<h1>claimflow nightly run — {run_date.isoformat()}</h1>",
        f"<p class='muted'>Reconciliation status: <b>{_e(status)}</b>. Activity shown for {_e(win.label())}. "
        f"Generated {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. "
        "Patients appear only as hashed keys.</p>",
    ]
    unexplained = int(summary.get("balance_exceptions", 0) or 0)
    if summary.get("balance_proof") == "pending":
        verdict = (
            "<span class='bad'>not proven: the balance proof has not run since the reconciliation</span>"
        )
    elif unexplained == 0:
        verdict = "<span class='ok'>balanced</span>"
    else:
        verdict = f"<span class='bad'>{unexplained} unexplained exception(s)</span>"

    # ---- summary: two equations that add up, then the counts
    parts.append("<h2>Summary</h2>")
    parts.append("<h3>Insurance A/R</h3>" + _equation(INSURANCE_EQUATION, cards, "insurance"))
    parts.append("<h3>Patient A/R</h3>" + _equation(PATIENT_EQUATION, cards, "patient"))
    parts.append(
        "<p class='small'>Sums of the run date's claim balances (claims submitted on or before it). "
        "Provider adjustments (PLB) taken against a claim raise what the payer still owes.</p>"
    )
    parts.append("<div class='grid'>")
    for label, value, is_money in (
        ("Claims in A/R snapshot", summary.get("claims", 0), False),
        ("Total A/R", summary.get("ar_total"), True),
        ("Patient payments received", summary.get("patient_payments"), True),
        ("Unapplied patient credit", summary.get("unapplied_credit"), True),
        ("Refunds due", summary.get("refunds_due"), True),
        ("Unmatched payments", summary.get("unmatched_payments", 0), False),
    ):
        shown = _money(value) if is_money else _e(value)
        parts.append(
            f"<div class='card'><div class='muted'>{_e(label)}</div><div class='v'>{shown}</div></div>"
        )
    parts.append(
        f"<div class='card'><div class='muted'>Balance proof</div><div class='v'>{verdict}</div></div>"
    )
    parts.append("</div>")

    parts.append("<h2>Changes since last night</h2>")
    parts.append(_changes(summary, before, win.previous))

    # ---- what went out
    parts.append(f"<h2>What went out ({_e(win.label())})</h2>")
    payer_rows = [[p, n, c, int(r or 0), _money(q.money(a))] for p, n, c, a, r in sent_payers]
    chart = bar_chart(
        "Charges sent by payer",
        "Total charge of the claims sent to each payer in the period.",
        [(str(p), q.money(a)) for p, _n, _c, a, _r in sent_payers],
    )
    if payer_rows:
        payer_rows.append(
            [
                "total",
                "",
                sum(int(r[2]) for r in payer_rows),
                sum(int(r[3]) for r in payer_rows),
                _money(sum((q.money(a) for *_x, a, _r in sent_payers), ZERO)),
            ]
        )
    parts.append(
        _pair(
            chart,
            _table(
                ["payer", "name", "claims", "resent", "charges"],
                payer_rows,
                {2, 3, 4},
                name="sent-by-payer",
                total=bool(payer_rows),
            ),
        )
    )
    parts.append(
        _table(
            ["interchange", "file", "type", "ISA13", "status", "claims", "charges"],
            [[i, f, t, isa, st, n, _money(q.money(a))] for i, f, t, isa, st, n, a in sent_files],
            {0, 5, 6},
            name="sent-files",
        )
    )

    # ---- what came back
    parts.append(f"<h2>What came back ({_e(win.label())})</h2>")
    parts.append(
        _table(["file type", "status", "files"], [list(r) for r in came_back], {2}, name="came-back")
    )
    parts.append(
        _table(
            ["acknowledgment", "accepted", "rejected"],
            [[src, int(a or 0), int(r or 0)] for src, a, r in acks],
            {1, 2},
            name="acks",
        )
    )

    # ---- rejected and held
    totals = {qn: (int(n), q.money(a)) for qn, n, a in held_total}
    parts.append("<h2>Rejected and held claims</h2>")
    parts.append(
        "<p class='small'>Open work items of the rejections (TA1/999/277CA) and scrub_holds queues, "
        "reasons in words; amounts are the claims' charges. "
        + "; ".join(f"{qn}: {n} claim(s), {_money(a)}" for qn, (n, a) in sorted(totals.items()))
        + ".</p>"
    )
    parts.append(
        _table(
            ["queue", "claim", "payer", "why", "codes", "charge", "since"],
            [
                [qn, cn, p, _held_words(qn, reason, codes), codes, _money(q.money(a)), str(o)[:10]]
                for qn, cn, p, reason, codes, a, o in held
            ],
            {5, 6},
            name="held",
        )
    )

    # ---- denials
    parts.append(_denials_section(all_denials, initial))

    # ---- cash
    parts.append(f"<h2>Cash by payer ({_e(win.label())})</h2>")
    by_payer: dict[tuple[str, str], Decimal] = {}
    for _rid, code, name, _meth, _trace, _pd, amount, _n, _p in cash:
        pkey = (str(code), str(name))
        by_payer[pkey] = by_payer.get(pkey, ZERO) + q.money(amount)
    chart = bar_chart(
        "Cash by payer",
        "BPR02 of the 835 payments received or effective (BPR16) in the period, by payer.",
        [(c, a) for (c, _n), a in sorted(by_payer.items())],
    )
    payer_tab = [[c, n, _money(a)] for (c, n), a in sorted(by_payer.items())]
    if payer_tab:
        payer_tab.append(["total", "", _money(sum(by_payer.values(), ZERO))])
    parts.append(
        _pair(
            chart,
            _table(
                ["payer", "name", "paid (BPR02)"], payer_tab, {2}, name="cash-by-payer", total=bool(payer_tab)
            ),
        )
    )
    parts.append(
        _table(
            [
                "remittance",
                "payer",
                "method",
                "check / EFT trace (TRN02)",
                "payment date",
                "amount",
                "claims",
                "posted",
            ],
            [
                [rid, code, meth, trace, "" if pd_ is None else str(pd_)[:10], _money(q.money(a)), n, p]
                for rid, code, _name, meth, trace, pd_, a, n, p in cash
            ],
            {0, 5, 6, 7},
            name="cash",
        )
    )

    # ---- work items
    parts.append("<h2>Open work items</h2>")
    work_rows = [[qn, int(n), int(p1 or 0), int(new or 0), _money(q.money(a))] for qn, n, a, p1, new in work]
    chart = bar_chart(
        "Open work items by queue",
        "Dollars at stake in the open work items of each queue.",
        [(str(qn), q.money(a)) for qn, _n, a, _p, _w in work],
    )
    if work_rows:
        work_rows.append(
            [
                "total",
                sum(r[1] for r in work_rows),
                sum(r[2] for r in work_rows),
                sum(r[3] for r in work_rows),
                _money(sum((q.money(a) for _q, _n, a, _p, _w in work), ZERO)),
            ]
        )
    parts.append(
        _pair(
            chart,
            _table(
                ["queue", "open", "priority 1", "new in period", "dollars"],
                work_rows,
                {1, 2, 3, 4},
                name="work-items",
                total=bool(work_rows),
            ),
        )
    )

    # ---- KPIs: non-zero first, zero rows collapsed
    by_status = summary.get("claims_by_status", {}) or {}
    parts.append("<h2>Claims by status</h2>")
    parts.append(_table(["status", "claims"], [[k, v] for k, v in sorted(by_status.items())], {1}))

    parts.append("<h2>Key performance indicators</h2>")

    def kpi_row(n: str, v: Any, num: Any, den: Any, dfn: str) -> list[Any]:
        return [
            n,
            _kpi_value(n, v),
            "" if num is None else f"{Decimal(num):,.2f}",
            "" if den is None else f"{Decimal(den):,.2f}",
            dfn,
        ]

    shown_kpis = [r for r in kpis if r[1] is not None and Decimal(r[1]) != 0]
    zero_kpis = [r for r in kpis if r[1] is None or Decimal(r[1]) == 0]
    headers = ["KPI", "value", "numerator", "denominator", "definition"]
    parts.append(_table(headers, [kpi_row(*r) for r in shown_kpis], {1, 2, 3}, name="kpis"))
    if zero_kpis:
        parts.append(
            f"<details><summary>{len(zero_kpis)} KPI(s) at zero or not applicable: "
            f"{_e(', '.join(r[0] for r in zero_kpis))}</summary>"
            + _table(headers, [kpi_row(*r) for r in zero_kpis], {1, 2, 3}, name="kpis-zero")
            + "</details>"
        )

    parts.append(_patient_collections_section(patients))

    # ---- aging
    parts.append(
        "<h2>Insurance A/R aging by payer</h2>"
        "<p class='small'>Age = run date − first date of service. Amounts are insurance balances.</p>"
    )
    grid: dict[tuple[str, str], dict[str, tuple[Decimal, int]]] = {}
    for key, bucket, amount, claims, name in aging:
        grid.setdefault((key, name or ""), {})[bucket] = (q.money(amount), int(claims))
    rows = []
    stack: list[tuple[str, list[Decimal]]] = []
    totals_b = dict.fromkeys(BUCKETS, ZERO)
    for (key, name), cells in sorted(grid.items()):
        row: list[Any] = [key, name]
        line_total = ZERO
        vals = []
        for b in BUCKETS:
            amt = cells.get(b, (ZERO, 0))[0]
            totals_b[b] += amt
            line_total += amt
            vals.append(amt)
            row.append(_money(amt))
        row.append(_money(line_total))
        rows.append(row)
        stack.append((str(key), vals))
    if rows:
        rows.append(["total", "", *(_money(totals_b[b]) for b in BUCKETS), _money(sum(totals_b.values()))])
    parts.append(
        stacked_chart(
            "Insurance A/R by payer and age",
            "Insurance balance of each payer split into the aging buckets (days).",
            stack,
            BUCKETS,
        )
    )
    parts.append(
        _table(
            ["payer", "name", *BUCKETS, "total"],
            rows,
            set(range(2, 3 + len(BUCKETS))),
            name="aging",
            total=bool(rows),
        )
    )

    parts.append("<h2>Patient A/R aging</h2>")
    pa = {b: (q.money(a), int(p or 0), int(c or 0)) for b, a, p, c in patient_aging}
    parts.append(
        _table(
            ["bucket", "patient balance", "patients", "claims"],
            [
                [
                    b,
                    _money(pa.get(b, (ZERO, 0, 0))[0]),
                    pa.get(b, (ZERO, 0, 0))[1],
                    pa.get(b, (ZERO, 0, 0))[2],
                ]
                for b in BUCKETS
            ],
            {1, 2, 3},
        )
    )

    parts.append("<h2>Unmatched payments</h2>")
    parts.append(
        _table(
            ["reason", "claim payments", "paid", "oldest"],
            [[r, n, _money(q.money(a)), str(o)[:10]] for r, n, a, o in unmatched],
            {1, 2},
        )
    )

    parts.append(f"<h2>Inbound files not stored: duplicates and quarantined ({len(not_stored)})</h2>")
    parts.append(
        _table(
            ["interchange", "file", "status", "why"], [[i, f, st, err] for i, f, st, err in not_stored], {0}
        )
    )

    # Data quality: what data_quality_checks fails the nightly run for (counts and ids only).
    quality = data_quality_checks(engine, run_date)
    parts.append("<h2>Data quality</h2>")
    parts.append(f"<p class='{'bad' if quality else 'ok'}'>{len(quality)} problem(s)</p>")
    parts.append(_table(["problem"], [[problem] for problem in quality]))

    parts.append(f"<h2>Balance exceptions ({len(exceptions)} shown)</h2>")
    parts.append(
        _table(
            ["level", "kind", "reference", "expected", "found", "explained"],
            [
                [lv, k, ref, _money(q.money(e)), _money(q.money(f)), "yes" if x else "no"]
                for lv, k, ref, e, f, x in exceptions
            ],
            {3, 4},
        )
    )
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _denials_section(all_d: Denials, initial: Denials) -> str:
    cats = sorted(all_d.by_category.items(), key=lambda kv: (-kv[1].amount, kv[0]))
    out = [
        "<h2>Denials</h2>",
        f"<p class='small'>{_e(DENIAL_DEFINITION)} Counted over every posted claim payment; the last column "
        f"counts only each claim's first adjudication in the last {WINDOW_DAYS} days - the numerators of the "
        "denial_rate_&lt;category&gt; KPIs.</p>",
    ]
    rows: list[list[Any]] = []
    for cat, c in cats:
        rows.append(
            [
                cat,
                CATEGORY_LABELS.get(cat, ""),
                c.claims,
                c.claim_payments,
                _money(c.claim_level),
                _money(c.line_level),
                _money(c.amount),
                initial.by_category.get(cat, DenialCount()).claims,
            ]
        )
    if rows:
        rows.append(
            [
                "total",
                "",
                all_d.claims,
                "",
                _money(sum((c.claim_level for _, c in cats), ZERO)),
                _money(sum((c.line_level for _, c in cats), ZERO)),
                _money(sum((c.amount for _, c in cats), ZERO)),
                initial.claims,
            ]
        )
    chart = bar_chart(
        "Denied dollars by category",
        "Claim- and line-level denial adjustments by CARC category, in dollars.",
        [(cat, c.amount) for cat, c in cats],
    )
    out.append(
        _pair(
            chart,
            _table(
                [
                    "category",
                    "in words",
                    "claims",
                    "claim payments",
                    "claim level",
                    "line level",
                    "denied",
                    "initial denials (KPI)",
                ],
                rows,
                {2, 3, 4, 5, 6, 7},
                name="denials-by-category",
                total=bool(rows),
            ),
        )
    )
    top = sorted(all_d.by_code.items(), key=lambda kv: (-kv[1].amount, kv[0]))[:15]
    out.append("<h3>Top denial reasons</h3>")
    out.append(
        _table(
            ["CARC", "reason", "category", "claims", "claim level", "line level", "denied"],
            [
                [
                    f"{g}-{code}",
                    _carc_words(code),
                    category(code),
                    c.claims,
                    _money(c.claim_level),
                    _money(c.line_level),
                    _money(c.amount),
                ]
                for (g, code), c in top
            ],
            {3, 4, 5, 6},
            name="denials-by-code",
        )
    )
    return "".join(out)


def _patient_collections_section(pc: PatientCollections) -> str:
    """Patient collections (adjudication.patient_kpis): collection rate, dunning recovery by stage,
    payment plans and online payment events. Counts and amounts only."""
    rate = pc.collection_rate
    out = [
        "<h2>Patient collections</h2>",
        f"<p class='small'>Window {_e(pc.window)}. Patient collection rate "
        f"<b data-kpi='patient_collection_rate'>{'n/a' if rate is None else f'{rate * 100:.1f}%'}</b>: patient "
        f"cash {_money(pc.patient_cash)} (payments less refunds given back) ÷ patient responsibility assigned "
        f"{_money(pc.responsibility)}. Recovery at a stage: patient cash received on or after a statement and "
        "before the patient's next one, capped at its amount due, ÷ the amount due.</p>",
    ]
    rows: list[list[Any]] = [
        [
            s.stage,
            s.statements,
            _money(s.amount_due),
            s.paying,
            _money(s.recovered),
            "n/a" if s.rate is None else f"{s.rate * 100:.1f}%",
        ]
        for s in pc.stages
    ]
    out.append(
        _table(
            ["stage", "statements", "amount due", "followed by a payment", "recovered", "recovery"],
            rows,
            {1, 2, 3, 4, 5},
            name="patient-dunning",
        )
    )
    out.append(
        _table(
            ["plan status", "plans", "total"],
            [[st, n, _money(t)] for st, (n, t) in sorted(pc.plans.items())],
            {1, 2},
            name="payment-plans",
        )
    )
    out.append(
        _table(
            ["online payment events", "events", "amount"],
            [[o, n, _money(a)] for o, (n, a) in sorted(pc.events.items())],
            {1, 2},
            name="payment-events",
        )
    )
    return "".join(out)
