"""Patient statements: branding, rendering (HTML for phones and print, PDF for the mail) and the run.

:func:`run_statements` asks ``adjudication.statements`` which patients get a statement tonight (it also
records them), then writes, into ``out`` (a 0700 folder; files 0600):

* ``<statement_id>.pdf`` and ``<statement_id>.html`` per statement (files are named by the statement id
  only — never a name or account number);
* ``statements.csv``: ``statement_id, patient_key, amount_due, due_date, cycle, stage`` (no PHI:
  ``patient_key`` is the analysts' pseudonym);
* ``collections.csv`` when accounts went past the last dunning stage: the hand-off file for the
  collection agency (it names the account number, which the agency needs; it is PHI and stays 0600).

Branding comes from ``statement.toml`` (see the sample next to this module) and service descriptions from
a practice-supplied CSV ``code,description`` (the shipped sample's descriptions are made up: no licensed
CPT text is shipped). PDFs use fpdf2's core fonts (pure Python, no system libraries), QR codes segno.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import logging
import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adjudication.statements import (
    COLLECTIONS,
    DunningConfig,
    StatementData,
    hand_off_collections,
    plan_statement_run,
)
from claimflow.db.at_rest import ensure_private_dir

log = logging.getLogger("claimflow.statements")

HERE = Path(__file__).resolve().parent
SAMPLE_CONFIG = HERE / "statement.toml"
SAMPLE_CODES = HERE / "code_descriptions.csv"
MANIFEST_COLUMNS = ("statement_id", "patient_key", "amount_due", "due_date", "cycle", "stage")
STAGE_TITLES = {
    "first_statement": "Statement",
    "reminder": "Reminder",
    "final_notice": "Final notice",
    "pre_collection": "Pre-collection notice",
    "payment_plan": "Payment plan statement",
}


class StatementConfigError(ValueError):
    """statement.toml or the code description file cannot be used (names the file and key, never values)."""


@dataclass
class Brand:
    name: str = "Your medical practice"
    address: list[str] = field(default_factory=list)
    phone: str = ""
    hours: str = ""
    logo: Path | None = None
    remit_name: str = ""
    remit_address: list[str] = field(default_factory=list)
    primary: str = "#1f4e79"
    accent: str = "#e8f0f8"
    text: str = "#222222"
    pay_url: str = ""
    pay_phone: str = ""
    accepts: str = ""
    messages: dict[str, str] = field(default_factory=dict)

    def link(self, statement_id: str) -> str:
        return self.pay_url.replace("{statement_id}", statement_id)


def load_config(path: Path | None = None) -> tuple[Brand, DunningConfig]:
    path = Path(path) if path else SAMPLE_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StatementConfigError(f"{path.name}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StatementConfigError(f"{path.name}: not valid TOML ({exc})") from None
    pr, rt, co = raw.get("practice", {}), raw.get("remit_to", {}), raw.get("colours", {})
    pay, dun = raw.get("payment", {}), raw.get("dunning", {})
    logo = None
    if pr.get("logo"):
        logo = Path(pr["logo"]) if Path(pr["logo"]).is_absolute() else path.parent / pr["logo"]
    brand = Brand(
        name=pr.get("name", Brand.name),
        address=list(pr.get("address", [])),
        phone=pr.get("phone", ""),
        hours=pr.get("hours", ""),
        logo=logo,
        remit_name=rt.get("name", pr.get("name", "")),
        remit_address=list(rt.get("address", pr.get("address", []))),
        primary=co.get("primary", "#1f4e79"),
        accent=co.get("accent", "#e8f0f8"),
        text=co.get("text", "#222222"),
        pay_url=pay.get("url", ""),
        pay_phone=pay.get("phone", ""),
        accepts=pay.get("accepts", ""),
        messages=dict(raw.get("messages", {})),
    )
    try:
        stages = tuple(dun.get("stages", DunningConfig.stages))
        cfg = DunningConfig(
            stages=stages,
            cycle_days=int(dun.get("cycle_days", 30)),
            due_days=int(dun.get("due_days", 21)),
            min_statement=Decimal(str(dun.get("min_statement", "5.00"))),
            small_balance=Decimal(str(dun.get("small_balance", "5.00"))),
            grace_days=int(dun.get("grace_days", 10)),
        )
    except (ValueError, ArithmeticError):
        raise StatementConfigError(f"{path.name}: [dunning] has a value that is not a number") from None
    if not stages or cfg.cycle_days < 1:
        raise StatementConfigError(f"{path.name}: [dunning] needs at least one stage and cycle_days >= 1")
    for colour in (brand.primary, brand.accent, brand.text):
        _rgb(colour, path.name)
    return brand, cfg


def load_descriptions(path: Path | None = None) -> dict[str, str]:
    path = Path(path) if path else SAMPLE_CODES
    try:
        lines = [
            ln
            for ln in path.read_text(encoding="utf-8-sig").splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
    except OSError as exc:
        raise StatementConfigError(f"{path.name}: cannot read ({exc.strerror})") from None
    return {
        r["code"].strip(): r["description"].strip()
        for r in csv.DictReader(lines)
        if r.get("code") and r.get("description")
    }


def _rgb(colour: str, where: str = "statement.toml") -> tuple[int, int, int]:
    c = colour.lstrip("#")
    if len(c) != 6:
        raise StatementConfigError(f"{where}: colours must be #rrggbb")
    try:
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    except ValueError:
        raise StatementConfigError(f"{where}: colours must be #rrggbb") from None


def service_text(codes: list[str], descriptions: dict[str, str]) -> str:
    if not codes:
        return "Hospital services"
    return "; ".join(descriptions.get(c, f"Medical service {c}") for c in codes)


def money(v: Decimal) -> str:
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def _message(brand: Brand, s: StatementData) -> str:
    return brand.messages.get(s.stage, "")


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------


def render_html(s: StatementData, brand: Brand, descriptions: dict[str, str]) -> str:
    import segno

    e = html.escape
    link = brand.link(s.statement_id)
    qr = (
        segno.make(link or s.statement_id, error="m").svg_inline(scale=3, title="Payment link")
        if link
        else ""
    )
    rows = []
    for v in s.visits:
        reasons = "".join(f"<li>{e(r[0].upper() + r[1:])}</li>" for r in v.reasons)
        rows.append(f"""<tr><td data-l="Date">{v.service_date:%m/%d/%Y}</td>
<td data-l="Service">{e(service_text(v.procedure_codes, descriptions))}{f'<ul class="why">{reasons}</ul>' if reasons else ""}</td>
<td data-l="Charge" class="n">{money(v.charge)}</td><td data-l="Insurance paid" class="n">{money(v.insurance_paid)}</td>
<td data-l="Insurance adjusted" class="n">{money(v.insurance_adjusted)}</td><td data-l="You paid" class="n">{money(v.patient_paid)}</td>
<td data-l="You owe" class="n b">{money(v.patient_owes)}</td></tr>""")
    pays = "".join(f"<li>{d:%m/%d/%Y}: {money(a)}</li>" for d, a in s.prior_payments) or "<li>None yet</li>"
    aging = "".join(f"<td>{k} days<br><b>{money(a)}</b></td>" for k, a in s.aging.items())
    plan = ""
    if s.plan:
        plan = f"""<section class="box"><h2>Your payment plan</h2><p>{s.plan["installments"]} payments of
{money(s.plan["installment_amount"])} (total {money(s.plan["total"])}). Paid so far {money(s.plan["paid"])};
remaining {money(s.plan["remaining"])}. Next payment {money(s.plan["next_amount"])} due {s.plan["next_due"]:%m/%d/%Y}.</p></section>"""
    addr = "<br>".join(
        e(x)
        for x in [s.patient["name"], s.patient["line1"], s.patient["line2"], s.patient["city_state_zip"]]
        if x
    )
    remit = "<br>".join(e(x) for x in [brand.remit_name, *brand.remit_address])
    logo = ""
    if brand.logo and brand.logo.exists():
        import base64

        kind = "png" if brand.logo.suffix.lower() == ".png" else "jpeg"
        logo = f'<img class="logo" alt="" src="data:image/{kind};base64,{base64.b64encode(brand.logo.read_bytes()).decode()}">'
    title = STAGE_TITLES.get(s.stage, "Statement")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{e(title)} {e(s.statement_id)}</title>
<style>
:root {{ --p: {brand.primary}; --a: {brand.accent}; --t: {brand.text}; }}
body {{ font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--t); margin: 0; }}
main {{ max-width: 8.5in; margin: 0 auto; padding: 16px; }}
header {{ display: flex; justify-content: space-between; gap: 16px; flex-wrap: wrap; border-bottom: 3px solid var(--p); }}
h1 {{ color: var(--p); font-size: 1.4rem; margin: .2em 0; }} h2 {{ color: var(--p); font-size: 1.1rem; }}
.logo {{ max-height: 60px; }}
.due {{ background: var(--p); color: #fff; padding: 12px 16px; border-radius: 6px; min-width: 220px; }}
.due .amt {{ font-size: 2rem; font-weight: 700; }}
.addr {{ margin: 16px 0; }}
.msg {{ background: var(--a); padding: 10px 14px; border-left: 4px solid var(--p); }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ background: var(--a); text-align: left; }} th, td {{ padding: 6px; border-bottom: 1px solid #ccc; vertical-align: top; }}
.n {{ text-align: right; white-space: nowrap; }} .b {{ font-weight: 700; }}
ul.why {{ margin: 4px 0 0 0; padding-left: 18px; font-size: .9rem; color: #444; }}
.box {{ border: 1px solid #ccc; border-radius: 6px; padding: 8px 14px; margin: 12px 0; }}
.aging td {{ text-align: center; border: 1px solid #ccc; }}
.pay {{ display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }}
.pay a {{ display: inline-block; background: var(--p); color: #fff; padding: 12px 20px; border-radius: 6px; text-decoration: none; font-weight: 700; }}
.stub {{ border-top: 2px dashed #888; margin-top: 24px; padding-top: 12px; display: flex; justify-content: space-between; flex-wrap: wrap; gap: 12px; }}
@media (max-width: 640px) {{
  thead {{ display: none; }} table, tbody, tr, td {{ display: block; width: 100%; box-sizing: border-box; }}
  tr {{ border: 1px solid #ccc; border-radius: 6px; margin-bottom: 10px; }}
  td {{ border: 0; display: flex; justify-content: space-between; gap: 8px; text-align: right; }}
  td::before {{ content: attr(data-l); font-weight: 600; text-align: left; }}
  td[data-l="Service"] {{ display: block; text-align: left; }} td[data-l="Service"]::before {{ display: block; }}
  .stub {{ display: none; }}
}}
@media print {{ @page {{ size: letter; margin: .5in; }} .pay a {{ color: #fff; }} main {{ padding: 0; }} }}
</style></head><body><main>
<header><div>{logo}<h1>{e(brand.name)}</h1><div>{"<br>".join(e(x) for x in brand.address)}</div>
<div>{e(brand.phone)} {e(brand.hours)}</div></div>
<div class="due"><div>{e(title)}</div><div>Amount due</div><div class="amt">{money(s.amount_due)}</div>
<div>Due by {s.due_date:%m/%d/%Y}</div></div></header>
<div class="addr">{addr}</div>
<p>Statement {e(s.statement_id)} &middot; Date {s.run_date:%m/%d/%Y} &middot; Account {e(s.account_number)}</p>
{f'<p class="msg">{e(_message(brand, s))}</p>' if _message(brand, s) else ""}
<h2>Your visits</h2>
<table><thead><tr><th>Date</th><th>Service</th><th class="n">Charge</th><th class="n">Insurance paid</th>
<th class="n">Insurance adjusted</th><th class="n">You paid</th><th class="n">You owe</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{plan}
<section class="box"><h2>Payments we received</h2><ul>{pays}</ul></section>
<section><h2>How old your balance is</h2><table class="aging"><tr>{aging}</tr></table>
<p>Total balance {money(max(s.balance, Decimal("0")))}{" (you have a credit of " + money(-s.balance) + ")" if s.balance < 0 else ""}.</p></section>
<section class="box"><h2>How to pay</h2><div class="pay"><div>{qr}</div><div>
{f'<p><a href="{e(link)}">Pay online</a></p><p>{e(link)}</p>' if link else ""}
<p>By phone: {e(brand.pay_phone or brand.phone)}. We accept {e(brand.accepts)}.</p>
<p>By mail: send the stub below with your check to:<br>{remit}</p></div></div></section>
<div class="stub"><div><b>Please return this part with your payment</b><br>Statement {e(s.statement_id)}<br>
Account {e(s.account_number)}</div><div>Amount due <b>{money(s.amount_due)}</b><br>Due by {s.due_date:%m/%d/%Y}<br>
Amount enclosed $________</div><div>{remit}</div></div>
</main></body></html>
"""


# --------------------------------------------------------------------------------------------------
# PDF (letter, #10 double-window envelope)
# --------------------------------------------------------------------------------------------------


def _latin(text: str) -> str:
    repl = {
        "\u2014": "-",
        "\u2013": "-",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00b7": "-",
    }
    return "".join(repl.get(ch, ch) for ch in text).encode("latin-1", "replace").decode("latin-1")


def render_pdf(s: StatementData, brand: Brand, descriptions: dict[str, str]) -> bytes:
    import segno
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="letter")
    pdf.set_auto_page_break(auto=False)
    pdf.set_creator("claimflow")
    pdf.set_title(f"Statement {s.statement_id}")
    primary, accent, textc = _rgb(brand.primary), _rgb(brand.accent), _rgb(brand.text)
    stub_top = 206.0  # tear-off line: the stub is the bottom ~3 inches
    link = brand.link(s.statement_id)

    def txt(
        x: float,
        y: float,
        t: str,
        size: float = 9,
        style: str = "",
        color: tuple[int, int, int] = textc,
        w: float = 0,
        align: str = "L",
    ) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*color)
        pdf.set_xy(x, y)
        pdf.cell(w, size * 0.45, _latin(t), align=align)

    def page_header() -> None:
        x = 15.0
        if brand.logo and brand.logo.exists():
            pdf.image(str(brand.logo), x=15, y=10, h=14)
            x = 15 + 30
        txt(x, 11, brand.name, 13, "B", primary)
        for i, line in enumerate([*brand.address, f"{brand.phone}  {brand.hours}".strip()]):
            txt(x, 17 + i * 4, line, 8.5)
        if pdf.page > 1:
            txt(140, 11, f"Statement {s.statement_id}, page {pdf.page}", 8.5)

    pdf.add_page()
    page_header()
    # amount-due box (right)
    pdf.set_fill_color(*primary)
    pdf.rect(140, 10, 61, 30, style="F")
    white = (255, 255, 255)
    txt(143, 12, STAGE_TITLES.get(s.stage, "Statement"), 10, "B", white)
    txt(143, 18, "Amount due", 9, "", white)
    txt(143, 23, money(s.amount_due), 18, "B", white)
    txt(143, 33, f"Due by {s.due_date:%m/%d/%Y}", 9, "", white)
    txt(140, 43, f"Statement {s.statement_id}", 8)
    txt(140, 47, f"Date {s.run_date:%m/%d/%Y}   Account {s.account_number}", 8)
    # window-envelope address block: #10 window 7/8" from the left, 2" from the top
    for i, line in enumerate(
        [
            x
            for x in (s.patient["name"], s.patient["line1"], s.patient["line2"], s.patient["city_state_zip"])
            if x
        ]
    ):
        txt(22.2, 51 + i * 4.6, line.upper(), 10)
    y = 78.0
    msg = _message(brand, s)
    if msg:
        pdf.set_fill_color(*accent)
        pdf.set_xy(15, y)
        pdf.set_font("Helvetica", "", 9)
        pdf.set_text_color(*textc)
        pdf.multi_cell(186, 4.5, _latin(msg), fill=True)
        y = pdf.get_y() + 3
    # visits table
    cols = [
        ("Date", 18),
        ("Service", 66),
        ("Charge", 20),
        ("Ins. paid", 20),
        ("Ins. adjusted", 22),
        ("You paid", 19),
        ("You owe", 21),
    ]

    def table_head(yy: float) -> float:
        pdf.set_fill_color(*accent)
        pdf.rect(15, yy, 186, 6, style="F")
        x = 15.0
        for name, w in cols:
            txt(x + 1, yy + 1.2, name, 8, "B", textc, w - 2, "L" if name in ("Date", "Service") else "R")
            x += w
        return yy + 7

    y = table_head(y)
    limit = stub_top - (49 if s.plan else 42)  # the plan line sits above the summary
    for v in s.visits:
        reasons = [r[0].upper() + r[1:] for r in v.reasons]
        need = 5 + 3.8 * len(reasons)
        if y + need > limit:  # continue on a new page; the stub stays on page 1's bottom
            txt(15, y + 1, "Continued on the next page.", 8, "I")
            limit = 265
            pdf.add_page()
            page_header()
            y = table_head(32)
        x = 15.0
        vals = [
            f"{v.service_date:%m/%d/%Y}",
            service_text(v.procedure_codes, descriptions),
            money(v.charge),
            money(v.insurance_paid),
            money(v.insurance_adjusted),
            money(v.patient_paid),
            money(v.patient_owes),
        ]
        for (name, w), val in zip(cols, vals, strict=True):
            if name == "Service":
                pdf.set_font("Helvetica", "", 8)
                if pdf.get_string_width(_latin(val)) > w - 2:
                    while pdf.get_string_width(_latin(val) + "...") > w - 2 and len(val) > 4:
                        val = val[:-1]
                    val = val.rstrip(" ;") + "..."
            txt(
                x + 1,
                y,
                val,
                8,
                "B" if name == "You owe" else "",
                textc,
                w - 2,
                "L" if name in ("Date", "Service") else "R",
            )
            x += w
        y += 4.5
        for r in reasons:
            txt(35, y, "- " + r, 7.5, "I", (70, 70, 70))
            y += 3.8
        pdf.set_draw_color(200, 200, 200)
        pdf.line(15, y, 201, y)
        y += 1.5
    last_page = pdf.page
    pdf.page = 1  # the summary, how to pay and the stub sit on page 1, above the tear-off line
    y = stub_top - 40
    if s.plan:
        txt(
            15,
            y - 6,
            _latin(
                f"Payment plan: {s.plan['installments']} payments of {money(s.plan['installment_amount'])}; "
                f"paid {money(s.plan['paid'])}, remaining {money(s.plan['remaining'])}; next "
                f"{money(s.plan['next_amount'])} due {s.plan['next_due']:%m/%d/%Y}."
            ),
            8,
            "B",
            primary,
        )
    txt(15, y, "Payments we received", 9, "B", primary)
    pays = [f"{d:%m/%d/%Y}  {money(a)}" for d, a in s.prior_payments] or ["None yet"]
    for i, p in enumerate(pays[:5]):
        txt(15, y + 5 + i * 3.8, p, 8)
    txt(62, y, "Balance by age (days)", 9, "B", primary)
    for i, (k, a) in enumerate(s.aging.items()):
        txt(62 + i * 17, y + 5, k, 7.5, "", textc, 16, "R")
        txt(62 + i * 17, y + 9, money(a), 7.5, "B", textc, 16, "R")
    txt(62, y + 15, f"Total balance {money(max(s.balance, Decimal('0')))}", 8)
    txt(135, y, "How to pay", 9, "B", primary)
    if link:
        buf = io.BytesIO()
        segno.make(link, error="m").save(buf, kind="png", scale=4, border=1)
        buf.seek(0)
        pdf.image(buf, x=135, y=y + 4, w=24, h=24)
        pdf.set_font("Helvetica", "", 7)
        pdf.set_xy(161, y + 4)
        pdf.multi_cell(
            40,
            3.3,
            _latin(
                f"Scan or visit:\n{link}\nPhone: {brand.pay_phone or brand.phone}\n"
                f"Mail: the stub below with your check."
            ),
        )
    # tear-off stub
    pdf.set_draw_color(120, 120, 120)
    pdf.set_dash_pattern(dash=2, gap=1.5)
    pdf.line(8, stub_top, 208, stub_top)
    pdf.set_dash_pattern()
    txt(15, stub_top + 2, "Please detach and return this part with your payment.", 7.5, "I")
    txt(15, stub_top + 9, brand.name, 10, "B", primary)
    txt(15, stub_top + 15, f"Statement {s.statement_id}", 9)
    txt(15, stub_top + 20, f"Account {s.account_number}", 9)
    pdf.set_draw_color(*primary)
    pdf.rect(120, stub_top + 8, 81, 22)
    txt(123, stub_top + 10, "Amount due", 9)
    txt(165, stub_top + 10, money(s.amount_due), 11, "B", textc, 33, "R")
    txt(123, stub_top + 16, "Due by", 9)
    txt(165, stub_top + 16, f"{s.due_date:%m/%d/%Y}", 9, "", textc, 33, "R")
    txt(123, stub_top + 23, "Amount enclosed  $ ____________", 9)
    # remit-to address placed for the return envelope's window (lower left)
    for i, line in enumerate([brand.remit_name, *brand.remit_address]):
        txt(22.2, stub_top + 38 + i * 4.6, line.upper(), 10)
    pdf.page = last_page
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def run_statements(
    engine: Engine,
    *,
    run_date: dt.date,
    out: Path,
    config: Path | None = None,
    codes: Path | None = None,
    actor: str = "claimflow:statements",
) -> dict[str, Any]:
    """Record and render tonight's statements (see the module docstring). Returns
    ``{"run_date", "statements", "amount_due", "collections", "collections_work_items", "on_plan", "disputed",
    "written_off", "out"}`` (money as strings)."""
    from claimflow.services.analyst import patient_key, refresh_patient_keys

    brand, dunning = load_config(config)
    descriptions = load_descriptions(codes)
    out = ensure_private_dir(Path(out))
    plan = plan_statement_run(engine, run_date, dunning, actor=actor)
    with engine.begin() as conn:
        refresh_patient_keys(conn)
        from sqlalchemy import select

        from claimflow.db import models as m

        ids = [s.patient_id for s in plan.statements + plan.collections]
        keys = dict(
            conn.execute(
                select(m.PatientKey.patient_id, m.PatientKey.patient_key).where(
                    m.PatientKey.patient_id.in_(ids or [-1])
                )
            )
            .tuples()
            .all()
        )
    manifest = io.StringIO()
    w = csv.writer(manifest, lineterminator="\n")
    w.writerow(MANIFEST_COLUMNS)
    for s in plan.statements:
        _write_private(out / f"{s.statement_id}.pdf", render_pdf(s, brand, descriptions))
        _write_private(out / f"{s.statement_id}.html", render_html(s, brand, descriptions).encode("utf-8"))
        w.writerow(
            [
                s.statement_id,
                keys.get(s.patient_id) or patient_key(s.patient_id),
                f"{s.amount_due:.2f}",
                s.due_date.isoformat(),
                s.cycle,
                s.stage,
            ]
        )
    _write_private(out / "statements.csv", manifest.getvalue().encode("utf-8"))
    handed = 0
    if plan.collections:
        buf = io.StringIO()
        cw = csv.writer(buf, lineterminator="\n")
        cw.writerow(
            ["statement_id", "account_number", "balance", "oldest_service_date", "visits", "run_date"]
        )
        for s in plan.collections:
            owed = [v for v in s.visits if v.patient_owes > 0]
            cw.writerow(
                [
                    s.statement_id,
                    s.account_number,
                    f"{s.amount_due:.2f}",
                    owed[0].service_date.isoformat() if owed else "",
                    len(owed),
                    run_date.isoformat(),
                ]
            )
        _write_private(out / "collections.csv", buf.getvalue().encode("utf-8"))
        handed = hand_off_collections(engine, plan.collections, actor=actor)
    total = sum((s.amount_due for s in plan.statements), Decimal("0.00"))
    log.info(
        "statements %s: %d sent, %d to collections", run_date, len(plan.statements), len(plan.collections)
    )
    return {
        "run_date": run_date.isoformat(),
        "statements": len(plan.statements),
        "amount_due": f"{total:.2f}",
        "collections": len([s for s in plan.collections if s.stage == COLLECTIONS]),
        "collections_work_items": handed,
        "on_plan": plan.skipped_plan,
        "disputed": plan.skipped_dispute,
        "written_off": plan.written_off,
        "out": str(out),
    }


def patient_night(
    engine: Engine,
    *,
    run_date: dt.date,
    out: Path,
    config: Path | None = None,
    codes: Path | None = None,
    actor: str = "claimflow:patient-night",
) -> dict[str, Any]:
    """The patient's side of one night (for the demo and a DAG task): refunds found, statements run.
    Returns ``{"statements_sent": n, "patient_payments_online": {"events", "posted", "amount"},
    "payment_plans": {"active", "delinquent", "completed"}, "patient_refunds": {"due", "issued", "amount_due"},
    "collections": n, "written_off": {...}, "amount_due": "…"}`` (money as strings, no PHI)."""
    from sqlalchemy import func, select

    from adjudication.statements import find_refunds
    from claimflow.db import models as m

    find_refunds(engine, run_date, actor=actor)
    run = run_statements(engine, run_date=run_date, out=out, config=config, codes=codes, actor=actor)
    with engine.connect() as conn:
        events = (
            conn.execute(
                select(m.PaymentEvent.outcome, func.count(), func.sum(m.PaymentEvent.amount_cents)).group_by(
                    m.PaymentEvent.outcome
                )
            )
            .tuples()
            .all()
        )
        plans = dict(
            conn.execute(select(m.PaymentPlan.status, func.count()).group_by(m.PaymentPlan.status))
            .tuples()
            .all()
        )
        refunds = dict(
            conn.execute(select(m.Refund.status, func.count()).group_by(m.Refund.status)).tuples().all()
        )
        refund_due = conn.execute(select(func.sum(m.Refund.amount)).where(m.Refund.status == "due")).scalar()
    posted_cents = sum(int(c or 0) for o, _, c in events if o == "posted")
    return {
        "statements_sent": run["statements"],
        "amount_due": run["amount_due"],
        "patient_payments_online": {
            "events": sum(int(n) for _, n, _ in events),
            "posted": sum(int(n) for o, n, _ in events if o == "posted"),
            "amount": f"{Decimal(posted_cents) / 100:.2f}",
        },
        "payment_plans": {k: int(plans.get(k, 0)) for k in ("active", "delinquent", "completed")},
        "patient_refunds": {
            "due": int(refunds.get("due", 0)),
            "issued": int(refunds.get("issued", 0)),
            "amount_due": f"{refund_due or Decimal('0.00'):.2f}",
        },
        "collections": run["collections"],
        "written_off": run["written_off"],
    }
