"""Appeal letters for medical-necessity and authorization denials (``claimflow claim appeal``).

:func:`write_appeal` finds the claim (our claim number, a CLM01 we sent or the payer's claim number), takes
the latest posted 835 answer for it, and refuses unless one of its denial adjustments
(:data:`adjudication.carc.DENIAL_DEFINITION`) is in the ``medical_necessity`` or ``authorization``
category. It then writes, into ``out`` (a 0700 folder; files 0600):

* ``appeal-<claim_number>-<n>.html``: a Jinja2 template (the sample ``templates/appeal.html.j2``, or the
  practice's own via ``--template`` / ``CLAIMFLOW_APPEAL_TEMPLATE``);
* ``appeal-<claim_number>-<n>.pdf``: the same data, letter size, fpdf2 core fonts. The argument paragraphs
  (``{% set medical_necessity_argument %}`` / ``{% set authorization_argument %}`` at the top of the
  template) and the signature block are taken from the template, so the practice edits them in one place.

It records an ``appeals`` row (the timeline's ``appealed`` event), a note on the claim's open ``denials``
work items and an audit row. The letter names the patient (it goes to the payer); the files are named by
our claim number only, and nothing returned by :func:`write_appeal` (printed by the CLI) carries PHI.
Practice branding (name, address, phone, colours) is the patient statements' ``statement.toml``.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from adjudication._sql import Sql
from adjudication.carc import CATEGORY_LABELS, category, is_denial_adjustment
from adjudication.denials import claim_payment_scope_sql
from adjudication.timeline import ClaimNotFound, find_claim
from claimflow.db.at_rest import ensure_private_dir
from claimflow.statements import Brand, StatementConfigError, _latin, _rgb, _write_private, load_config, money
from eob.codes import CLAIM_STATUS, carc_description, rarc_description

log = logging.getLogger("claimflow.followup.appeals")

HERE = Path(__file__).resolve().parent
SAMPLE_TEMPLATE = HERE / "templates" / "appeal.html.j2"
TEMPLATE_ENV = "CLAIMFLOW_APPEAL_TEMPLATE"
APPEALABLE: tuple[str, ...] = ("medical_necessity", "authorization")
_GROUPS = {
    "CO": "Contractual obligation",
    "PR": "Patient responsibility",
    "OA": "Other adjustment",
    "PI": "Payer initiated reduction",
    "CR": "Correction and reversal",
}

DEFAULT_ARGUMENTS = {
    "medical_necessity": "The services billed were medically necessary for this patient's condition, as the "
    "enclosed medical records document. We ask you to reconsider the claim and pay it.",
    "authorization": "The services were authorized, or authorization could not be obtained in advance; the "
    "enclosed records and authorization details support payment. We ask you to reconsider.",
}


class AppealError(Exception):
    """The claim cannot be appealed, or the template/config cannot be used (never names a value of PHI)."""


@dataclass
class Denial:
    group: str
    code: str
    amount: Decimal
    line: int | None
    category: str
    words: str


@dataclass
class AppealData:
    claim_id: int
    claim_number: str
    payer_claim_number: str | None
    patient_name: str
    patient_account: str
    payer_name: str
    payer_address: list[str]
    service_date_from: dt.date
    service_date_to: dt.date
    total_charge: Decimal
    prior_authorization: str | None
    diagnoses: list[str]
    lines: list[dict[str, Any]]
    claim_payment_id: int
    status_words: str
    paid: Decimal
    remittance_date: dt.date | None
    trace_number: str | None
    denials: list[Denial] = field(default_factory=list)
    remarks: list[dict[str, Any]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    letter_date: dt.date = field(default_factory=dt.date.today)

    @property
    def appealable(self) -> list[str]:
        return [c for c in APPEALABLE if c in self.categories]

    @property
    def denied_amount(self) -> Decimal:
        return sum((d.amount for d in self.denials if d.category in APPEALABLE), Decimal("0.00"))

    @property
    def enclosures(self) -> list[str]:
        out = ["Medical records for the dates of service (office notes, orders, results)"]
        if self.prior_authorization:
            out.append(f"Authorization number {self.prior_authorization}")
        elif "authorization" in self.categories:
            out.append("Authorization / referral documentation")
        out += [
            "The 835 remittance (EOB) page for this claim"
            + (f" (trace {self.trace_number})" if self.trace_number else ""),
            f"A copy of the original claim {self.claim_number}",
        ]
        return out


def _dx(code: str) -> str:
    code = code.strip().upper()
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def gather(engine: Engine, ref: str) -> AppealData:
    """Everything the letter says about the claim that answers to ``ref``."""
    with engine.connect() as conn:
        q = Sql(conn)
        try:
            cid = find_claim(q, ref)
        except ClaimNotFound as exc:
            raise AppealError(str(exc)) from None
        c = q.run(
            """SELECT c.claim_number, c.payer_claim_number, c.service_date_from, c.service_date_to,
                            c.total_charge, c.prior_authorization, pt.first_name, pt.last_name, pt.account_number,
                            py.name, py.address_line1, py.city, py.state, py.postal_code
                     FROM claims c JOIN patients pt ON pt.id = c.patient_id JOIN payers py ON py.id = c.payer_id
                     WHERE c.id = :id""",
            {"id": cid},
        ).one()
        dxs = [
            _dx(r[0])
            for r in q.run(
                "SELECT code FROM claim_diagnoses WHERE claim_id = :id ORDER BY sequence", {"id": cid}
            )
        ]
        lines = []
        for ln in q.run(
            """SELECT line_number, procedure_code, modifiers, revenue_code, charge, units, service_date,
                                  diagnosis_pointers FROM service_lines WHERE claim_id = :id ORDER BY line_number""",
            {"id": cid},
        ):
            pointers = [int(p) for p in str(ln[7] or "").split(",") if p.strip().isdigit()]
            lines.append(
                {
                    "line": ln[0],
                    "procedure": ln[1] or ln[3] or "",
                    "modifiers": (ln[2] or "").replace(":", " "),
                    "charge": q.money(ln[4]),
                    "units": str(ln[5]).rstrip("0").rstrip("."),
                    "service_date": q.date(ln[6]),
                    "diagnoses": " ".join(dxs[p - 1] for p in pointers if 0 < p <= len(dxs)),
                }
            )
        cp = q.run(
            f"""SELECT cp.id, cp.status_code, cp.paid, cp.payer_claim_number, r.payment_date,
                               r.production_date, r.trace_number
                        FROM claim_payments cp JOIN remittances r ON r.id = cp.remittance_id
                        WHERE cp.claim_id = :id AND {claim_payment_scope_sql("cp")}
                        ORDER BY cp.id DESC LIMIT 1""",
            {"id": cid},
        ).first()
        if cp is None:
            raise AppealError(f"claim {c[0]} has no posted 835 answer to appeal")
        adj = q.run(
            """SELECT a.group_code, a.reason_code, a.amount, sl.line_number FROM adjustments a
                       LEFT JOIN service_line_payments slp ON slp.id = a.service_line_payment_id
                       LEFT JOIN service_lines sl ON sl.id = slp.service_line_id
                       WHERE a.claim_payment_id = :cp ORDER BY a.segment_no, a.position""",
            {"cp": cp[0]},
        ).all()
        rarcs = q.run(
            """SELECT rc.code, sl.line_number FROM remark_codes rc
                         LEFT JOIN service_line_payments slp ON slp.id = rc.service_line_payment_id
                         LEFT JOIN service_lines sl ON sl.id = slp.service_line_id
                         WHERE rc.claim_payment_id = :cp ORDER BY rc.segment_no, rc.position""",
            {"cp": cp[0]},
        ).all()
    denials = []
    for g, code, amount, line in adj:
        amt = q.money(amount)
        if not is_denial_adjustment(g, code, amt):
            continue
        cat = category(code)
        words = carc_description(code) or CATEGORY_LABELS.get(cat, cat)
        denials.append(Denial(g, code, amt, line, cat, f"{_GROUPS.get(g, g)}: {words}"))
    cats = list(dict.fromkeys(d.category for d in denials))
    address = [
        x
        for x in (c[10], " ".join(p for p in (f"{c[11]}," if c[11] else "", c[12] or "", c[13] or "") if p))
        if x
    ]
    return AppealData(
        claim_id=cid,
        claim_number=c[0],
        payer_claim_number=cp[3] or c[1],
        patient_name=f"{c[6]} {c[7]}".strip(),
        patient_account=c[8],
        payer_name=c[9],
        payer_address=address,
        service_date_from=q.date(c[2]) or dt.date.min,
        service_date_to=q.date(c[3]) or dt.date.min,
        total_charge=q.money(c[4]),
        prior_authorization=c[5],
        diagnoses=dxs,
        lines=lines,
        claim_payment_id=cp[0],
        status_words=CLAIM_STATUS.get(cp[1], f"CLP02 {cp[1]}"),
        paid=q.money(cp[2]),
        remittance_date=q.date(cp[4]) or q.date(cp[5]),
        trace_number=cp[6],
        denials=denials,
        remarks=[
            {
                "code": r[0],
                "line": r[1],
                "words": rarc_description(r[0]) or "remark code (description needs the RARC file)",
            }
            for r in rarcs
        ],
        categories=cats,
    )


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------


def template_path(template: Path | str | None = None) -> Path:
    return Path(template or os.environ.get(TEMPLATE_ENV) or SAMPLE_TEMPLATE)


def _plain(markup: Any) -> str:
    text = re.sub(r"<br\s*/?>", "\n", str(markup))
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(" ".join(p.split()) for p in text.split("\n")).strip()


def render_html(data: AppealData, brand: Brand, template: Path) -> tuple[str, dict[str, str]]:
    """The letter as HTML, and the template's editable texts (argument paragraphs, signature) as plain text
    for the PDF."""
    import jinja2

    try:
        source = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise AppealError(f"{template.name}: cannot read the appeal template ({exc.strerror})") from None
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["money"] = money
    env.filters["date"] = lambda d: d.strftime("%B %-d, %Y") if d else ""
    try:
        module = env.from_string(source).make_module(
            {"a": data, "brand": brand, "labels": CATEGORY_LABELS, "default_arguments": DEFAULT_ARGUMENTS}
        )
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise AppealError(
            f"{template.name}: template error{f' at line {line}' if line else ''} ({type(exc).__name__})"
        ) from None
    texts = {}
    for cat in APPEALABLE:
        texts[cat] = _plain(getattr(module, f"{cat}_argument", DEFAULT_ARGUMENTS[cat]))
    texts["signature"] = _plain(getattr(module, "signature", f"Billing office\n{brand.name}"))
    return str(module), texts


def render_pdf(data: AppealData, brand: Brand, texts: dict[str, str]) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(orientation="P", unit="mm", format="letter")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_creator("claimflow")
    pdf.set_title(f"Appeal {data.claim_number}")
    primary, textc = _rgb(brand.primary), _rgb(brand.text)
    pdf.add_page()
    width = pdf.epw

    def para(
        t: str, size: float = 10, style: str = "", color: tuple[int, int, int] = textc, gap: float = 1.5
    ) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(width, size * 0.5, _latin(t), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    para(brand.name, 14, "B", primary, 0.5)
    para("\n".join([*brand.address, *([f"Phone {brand.phone}"] if brand.phone else [])]), 9, gap=5)
    para(data.letter_date.strftime("%B %-d, %Y"), gap=4)
    para("\n".join([data.payer_name, *data.payer_address, "Attn: Appeals / Reconsideration"]), gap=5)
    cats = " and ".join(CATEGORY_LABELS[c].lower() for c in data.appealable)
    para(f"RE: Request for reconsideration - {cats} denial", 11, "B", primary, 2)
    dos = data.service_date_from.isoformat() + (
        f" to {data.service_date_to.isoformat()}" if data.service_date_to != data.service_date_from else ""
    )
    facts = [
        ("Patient", data.patient_name),
        ("Patient account", data.patient_account),
        ("Our claim number", data.claim_number),
        ("Payer claim number (CLP07)", data.payer_claim_number or "-"),
        ("Dates of service", dos),
        ("Total charge", money(data.total_charge)),
        (
            "Remittance",
            f"{data.status_words}, paid {money(data.paid)}"
            + (f" on {data.remittance_date.isoformat()}" if data.remittance_date else ""),
        ),
    ]
    if data.prior_authorization:
        facts.append(("Authorization number", data.prior_authorization))
    pdf.set_font("Helvetica", "", 10)
    for k, v in facts:
        pdf.set_font("Helvetica", "B", 9.5)
        pdf.cell(55, 5, _latin(k))
        pdf.set_font("Helvetica", "", 9.5)
        pdf.cell(0, 5, _latin(v), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    para("Services billed", 11, "B", primary, 1)
    cols = [
        ("Line", 12),
        ("Date", 24),
        ("Procedure", 22),
        ("Modifiers", 22),
        ("Diagnoses", 52),
        ("Charge", 24),
    ]
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_fill_color(*_rgb(brand.accent))
    for name, w in cols:
        pdf.cell(w, 6, name, border="B", fill=True, align="R" if name == "Charge" else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for ln in data.lines:
        vals = [
            str(ln["line"]),
            ln["service_date"].isoformat() if ln["service_date"] else "",
            ln["procedure"],
            ln["modifiers"],
            ln["diagnoses"],
            money(ln["charge"]),
        ]
        for (name, w), v in zip(cols, vals, strict=True):
            pdf.cell(w, 5.5, _latin(v), align="R" if name == "Charge" else "L")
        pdf.ln()
    if data.diagnoses:
        pdf.ln(1)
        para("Diagnosis codes on the claim (ICD-10-CM): " + ", ".join(data.diagnoses), 9)
    pdf.ln(2)
    para("The denial", 11, "B", primary, 1)
    for d in data.denials:
        where = f"line {d.line}" if d.line else "claim level"
        para(f"- {d.group}-{d.code} ({where}, {money(d.amount)}): {d.words}", 9.5, gap=0.5)
    for r in data.remarks:
        where = f"line {r['line']}" if r["line"] else "claim level"
        para(f"- Remark {r['code']} ({where}): {r['words']}", 9.5, gap=0.5)
    pdf.ln(2)
    para("Why the claim should be paid", 11, "B", primary, 1)
    for cat in data.appealable:
        para(texts[cat], gap=2.5)
    para("Enclosed", 11, "B", primary, 1)
    for e in data.enclosures:
        para(f"[ ] {e}", 9.5, gap=0.5)
    pdf.ln(5)
    para("Sincerely,", gap=10)
    para(texts["signature"])
    return bytes(pdf.output())


# --------------------------------------------------------------------------------------------------
# the action
# --------------------------------------------------------------------------------------------------


def write_appeal(
    engine: Engine,
    ref: str,
    out: Path,
    *,
    template: Path | str | None = None,
    config: Path | None = None,
    actor: str = "claimflow:appeals",
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Write the appeal letter for the claim ``ref`` (see the module docstring). Returns (no PHI)
    ``{claim_id, claim, payer_claim_number, appeal, categories, reason_codes, amount, html, pdf,
    work_items_noted}``."""
    from adjudication.worklist import add_note
    from claimflow.db.audit import audit
    from claimflow.db.models import Appeal

    data = gather(engine, ref)
    if not data.appealable:
        has = ", ".join(data.categories) if data.categories else "none"
        raise AppealError(
            f"claim {data.claim_number} has no medical-necessity or authorization denial "
            f"(its denial categories: {has})"
        )
    if today is not None:
        data.letter_date = today
    try:
        brand, _ = load_config(config)
    except StatementConfigError as exc:
        raise AppealError(str(exc)) from None
    tpl = template_path(template)
    page, texts = render_html(data, brand, tpl)
    pdf = render_pdf(data, brand, texts)
    codes = [f"{d.group}-{d.code}" for d in data.denials if d.category in APPEALABLE]
    codes += [r["code"] for r in data.remarks]
    codes = list(dict.fromkeys(codes))
    out = ensure_private_dir(Path(out))
    with engine.begin() as conn:
        q = Sql(conn)
        n = (
            int(
                q.scalar(
                    "SELECT COALESCE(MAX(sequence), 0) FROM appeals WHERE claim_id = :id",
                    {"id": data.claim_id},
                )
                or 0
            )
            + 1
        )
        stem = f"appeal-{data.claim_number}-{n}"
        conn.execute(
            insert(Appeal).values(
                claim_id=data.claim_id,
                sequence=n,
                claim_payment_id=data.claim_payment_id,
                categories=",".join(data.appealable)[:100],
                reason_codes=",".join(codes)[:200],
                amount=data.denied_amount,
                file_name=f"{stem}.pdf",
                created_by=actor[:120],
            )
        )
        audit(
            conn,
            actor=actor,
            action="claim_appeal",
            object_type="claim",
            object_id=data.claim_id,
            detail={
                "appeal": n,
                "categories": data.appealable,
                "reason_codes": codes,
                "amount": data.denied_amount,
                "file": f"{stem}.pdf",
            },
        )
        items = [
            int(r[0])
            for r in q.run(
                """SELECT id FROM work_items WHERE claim_id = :id AND queue = 'denials'
                                             AND status <> 'closed' ORDER BY id""",
                {"id": data.claim_id},
            )
        ]
        _write_private(out / f"{stem}.html", page.encode("utf-8"))
        _write_private(out / f"{stem}.pdf", pdf)
    for item in items:
        add_note(engine, item, f"appeal {n} written ({', '.join(codes)}): {stem}.pdf", actor=actor)
    log.info("claim %s: appeal %d written (%s) to %s", data.claim_number, n, ",".join(data.appealable), stem)
    return {
        "claim_id": data.claim_id,
        "claim": data.claim_number,
        "payer_claim_number": data.payer_claim_number,
        "appeal": n,
        "categories": data.appealable,
        "reason_codes": codes,
        "amount": f"{data.denied_amount:.2f}",
        "html": str(out / f"{stem}.html"),
        "pdf": str(out / f"{stem}.pdf"),
        "work_items_noted": len(items),
    }
