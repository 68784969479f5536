"""The run report's morning view, on both backends: cards that add up, denials (claim and line level) that
agree with the KPIs, zero KPIs collapsed, accessible charts, cash with trace numbers, work items, changes
since last night, no PHI."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import Engine, select, text, update

from adjudication.carc import DENIAL_CATEGORIES, is_denial_adjustment
from adjudication.posting import post_remittances
from adjudication.reconcile import reconcile
from adjudication.report import render_run_report
from adjudication.worklist import build_worklist
from claimflow.db import models as m

from .builders import D, Line, Pay, Practice, standard_pay

RUN = dt.date(2026, 11, 25)
REPO = Path(__file__).resolve().parents[3]


class _Tables(HTMLParser):
    """Rows of every ``<table data-table=…>`` (cell text) and every ``data-card`` element's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cards: list[dict[str, str]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "data-table" in a:
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if "data-card" in a:
            self.cards.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Tables:
    p = _Tables()
    p.feed(page)
    return p


def _money(cell: str) -> Decimal:
    return Decimal(cell.replace("$", "").replace(",", "") or "0")


def _night(db: Engine, tmp_path: Path) -> tuple[Practice, str]:
    pr = Practice(db)
    pid = pr.patient("A0000001")
    paid = pr.claim(pid, [("99213", D("125.00"))], service_date=dt.date(2026, 7, 1))
    denied = pr.claim(pid, [("99214", D("185.00"))])
    partial = pr.claim(pid, [("99213", D("100.00")), ("93000", D("60.00"))])
    claim_level = pr.claim(pid, [("99215", D("250.00"))])
    pr.claim(pid, [("99212", D("80.00"))])  # no answer yet
    ok_line = standard_pay(partial).lines[0]
    pr.remittance(
        [
            standard_pay(paid),
            Pay(
                pcn=denied.pcn,
                status="4",
                lines=[
                    Line("99214", D("185.00"), D("0.00"), [("CO", "197", D("185.00"))], denied.lines[0][1])
                ],
            ),
            # paid claim with one line denied for medical necessity: a line-level denial
            Pay(
                pcn=partial.pcn,
                lines=[
                    ok_line,
                    Line("93000", D("60.00"), D("0.00"), [("CO", "50", D("60.00"))], partial.lines[1][1]),
                ],
            ),
            # claim-level CAS denial, also medical necessity
            Pay(
                pcn=claim_level.pcn,
                status="4",
                claim_adjustments=[("CO", "50", D("250.00"))],
                lines=[Line("99215", D("250.00"), D("0.00"), [], claim_level.lines[0][1])],
            ),
        ],
        trace_number="EFT0000123",
        payment_date=RUN,
    )
    post_remittances(db, actor="test", as_of=RUN)
    reconcile(db, RUN - dt.timedelta(days=1))
    reconcile(db, RUN)
    build_worklist(db, RUN)
    out = render_run_report(db, RUN, tmp_path / "run.html")
    return pr, out.read_text(encoding="utf-8")


def test_cards_add_up(engine: Engine, tmp_path: Path) -> None:
    _, page = _night(engine, tmp_path)
    cards = _parse(page).cards
    with engine.connect() as conn:
        charges = (
            conn.execute(select(m.ClaimBalance.charge).where(m.ClaimBalance.run_date == RUN)).scalars().all()
        )
    equations = re.findall(r"data-equation='(\w+)'", page)
    assert equations == ["insurance", "patient"]
    start = 0
    for _name in equations:
        # cards of one equation: from a sign-0 card to the next sign-0 card (its result)
        first = cards[start]
        assert first["data-sign"] == "0"
        end = next(i for i in range(start + 1, len(cards)) if cards[i]["data-sign"] == "0")
        total = Decimal(first["data-value"])
        for c in cards[start + 1 : end]:
            total += int(c["data-sign"]) * Decimal(c["data-value"])
        assert total == Decimal(cards[end]["data-value"]), (first["data-card"], total, cards[end])
        start = end + 1
    by_key = {c["data-card"]: Decimal(c["data-value"]) for c in cards}
    assert by_key["charge"] == sum(charges, D("0.00")) == D("800.00")
    assert by_key["contractual"] > 0 and by_key["insurance_balance"] > 0
    # the value shown is the value carried
    for c in cards:
        assert f"${Decimal(c['data-value']):,.2f}</div>" in page


def test_denials_claim_and_line_level_agree_with_the_kpis(engine: Engine, tmp_path: Path) -> None:
    _, page = _night(engine, tmp_path)
    table = _parse(page).tables["denials-by-category"]
    header, rows = table[0], {r[0]: r for r in table[1:]}
    col = {h: i for i, h in enumerate(header)}
    with engine.connect() as conn:
        kpi = dict(conn.execute(select(m.Kpi.name, m.Kpi.numerator).where(m.Kpi.run_date == RUN)).all())
        adj = conn.execute(
            select(
                m.Adjustment.group_code,
                m.Adjustment.reason_code,
                m.Adjustment.amount,
                m.Adjustment.service_line_payment_id,
            )
        ).all()
    for cat in DENIAL_CATEGORIES:
        shown = int(rows[cat][col["initial denials (KPI)"]]) if cat in rows else 0
        assert Decimal(shown) == Decimal(kpi[f"denial_rate_{cat}"]), cat
    # medical necessity: the claim-level CO-50 and the line denied on a paid claim (left out before)
    med = rows["medical_necessity"]
    assert med[col["claims"]] == "2"
    assert _money(med[col["claim level"]]) == D("250.00") and _money(med[col["line level"]]) == D("60.00")
    assert rows["authorization"][col["claims"]] == "1"
    assert "contractual" not in rows and "patient_responsibility" not in rows  # CO-45 and PR are no denials
    expected = sum((a for g, r, a, _ in adj if is_denial_adjustment(g, r, a)), D("0.00"))
    assert _money(rows["total"][col["denied"]]) == expected == D("495.00")
    assert "CO-50" in page and "Medical necessity" in page  # codes with words
    # the analyst view counts the same rows
    from claimflow.services.analyst import read_view

    den = read_view(engine, "denials")
    assert den.groupby("category").claim_id.nunique().to_dict() == {
        cat: int(r[col["claims"]]) for cat, r in rows.items() if cat != "total"
    }
    first = den[den.first_adjudication == 1]
    assert first.groupby("category").claim_id.nunique().to_dict() == {
        cat: int(r[col["initial denials (KPI)"]]) for cat, r in rows.items() if cat != "total"
    }
    assert set(den["level"]) == {"claim", "line"} and sum(den["amount"], D("0.00")) == D("495.00")


def test_zero_kpis_collapse_and_charts_are_accessible(engine: Engine, tmp_path: Path) -> None:
    _, page = _night(engine, tmp_path)
    tables = _parse(page).tables
    shown = [r[0] for r in tables["kpis"][1:]]
    hidden = [r[0] for r in tables["kpis-zero"][1:]]
    assert "denial_rate_medical_necessity" in shown and "denial_rate_timely_filing" in hidden
    assert all(r[1] not in ("0.0%", "n/a") for r in tables["kpis"][1:])
    details = page[page.index("<details>") : page.index("</details>")]
    assert "data-table='kpis-zero'" in details
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", page, re.S)
    assert len(svgs) >= 4
    for svg in svgs:
        assert "role='img'" in svg and "<title id=" in svg and "<desc id=" in svg
    assert not re.search(r"(src|href)=", page) and "<script" not in page


def test_morning_sections_and_no_phi(engine: Engine, tmp_path: Path) -> None:
    _, page = _night(engine, tmp_path)
    tables = _parse(page).tables
    cash = tables["cash"]
    assert any("EFT0000123" in row for row in cash[1:])
    assert _money(tables["cash-by-payer"][-1][2]) == sum((_money(r[5]) for r in cash[1:]), D("0.00"))
    work = {r[0]: r for r in tables["work-items"][1:]}
    assert "denials" in work and int(work["denials"][1]) >= 3
    changes = tables["changes"]
    assert changes[0][1] == (RUN - dt.timedelta(days=1)).isoformat()
    for phi in ("ZZTESTLAST", "ZZTESTFIRST", "ZZMEMBER", "ZZTEST ST", "1970-01-02", "A0000001"):
        assert phi not in page


def _migration_0009():  # type: ignore[no-untyped-def]
    path = REPO / "claimflow" / "migrations" / "versions" / "0009_analyst_data.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_migration_0009_backfills_remittance_payer(engine: Engine, tmp_path: Path) -> None:
    pr = Practice(engine)
    pid = pr.patient("A0000001")
    c = pr.claim(pid, [("99213", D("125.00"))])
    c2 = pr.claim(pid, [("99214", D("185.00"))])
    by_id = pr.remittance([standard_pay(c)], payer_identifier="SBX01")["remittance"]
    by_claim = pr.remittance([standard_pay(c2)], payer_identifier="1999999999")["remittance"]  # TRN03 only
    nothing = pr.remittance([], payer_identifier="1888888888")["remittance"]
    post_remittances(engine, actor="test", as_of=RUN)
    with engine.begin() as conn:
        conn.execute(update(m.Remittance).values(payer_id=None))
        _migration_0009().backfill_remittance_payers(conn)
        got = dict(conn.execute(select(m.Remittance.id, m.Remittance.payer_id)).all())
        assert got == {by_id: pr.payer, by_claim: pr.payer, nothing: None}
        view = "analyst.remittances" if engine.dialect.name == "postgresql" else "analyst_remittances"
        assert (
            conn.execute(text(f"SELECT payer_id FROM {view} WHERE id = :i"), {"i": by_id}).scalar()
            == pr.payer
        )


def test_loader_fills_remittance_payer_id(engine: Engine, tmp_path: Path) -> None:
    from claimflow.services.inbound import load_interchange, receive_file
    from claimflow.settings import Settings

    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    fixtures = REPO / "fixtures" / "835"
    with engine.begin() as conn:
        acme = int(
            conn.execute(
                m.Payer.__table__.insert().values(
                    payer_id="ACME01",
                    name="ACME HEALTH PLAN",
                    payer_type="commercial",
                    filing_indicator="CI",
                    partner="sandbox",
                )
            ).inserted_primary_key[0]
        )
    for name in ("payment_contractual_deductible_coinsurance.835", "several_payers.835"):
        ic, _ = receive_file(engine, fixtures / name, partner="sandbox", settings=settings)
        assert load_interchange(engine, ic, actor="test", settings=settings).status == "loaded"
    with engine.connect() as conn:
        rows = conn.execute(select(m.Remittance.payer_identifier, m.Remittance.payer_id)).all()
    assert (("ACME01", acme) in rows) and all(
        pid == (acme if ident == "ACME01" else None) for ident, pid in rows
    )
    assert any(pid is None for _, pid in rows)  # a payer we do not know stays NULL


def test_new_analyst_views(engine: Engine, tmp_path: Path) -> None:
    import uuid

    from claimflow.services import analyst

    pr, _ = _night(engine, tmp_path)
    with engine.begin() as conn:
        claim2 = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == "C00000002")).scalar_one()
        claim5 = conn.execute(select(m.Claim.id).where(m.Claim.claim_number == "C00000005")).scalar_one()
        conn.execute(
            m.ScrubResult.__table__.insert().values(
                claim_id=claim5, rule="units_positive", reason="ZZSECRET value quoted"
            )
        )
        ic = int(
            conn.execute(
                m.Interchange.__table__.insert().values(
                    direction="in",
                    sha256=uuid.uuid4().hex,
                    bytes=1,
                    file_name="in.999",
                    status="loaded",
                    transaction_type="999",
                )
            ).inserted_primary_key[0]
        )
        ack = int(
            conn.execute(
                m.Acknowledgment.__table__.insert().values(
                    interchange_id=ic,
                    kind="999_set",
                    segment_no=4,
                    acked_gs06="1",
                    acked_st02="0005",
                    code="R",
                    accepted=False,
                    note_code="5",
                    error_count=1,
                    matched_interchange_id=pr.outbound,
                )
            ).inserted_primary_key[0]
        )
        conn.execute(
            m.AcknowledgmentError.__table__.insert().values(
                acknowledgment_id=ack,
                level="IK4",
                segment_id="NM1",
                element_position="9",
                error_code="7",
                bad_value="ZZBADVALUE",
            )
        )
        conn.execute(
            m.ClaimStatusRecord.__table__.insert().values(
                interchange_id=ic,
                st02="0001",
                segment_no=9,
                level="claim",
                category="A7",
                status_code="21",
                entity_code="IL",
                accepted=False,
                claim_id=claim2,
                status_date=RUN,
            )
        )
    scrub = analyst.read_view(engine, "scrub_reasons")
    assert list(scrub["rule"]) == ["units_positive"] and "reason" not in scrub.columns
    rej = analyst.read_view(engine, "rejection_reasons").sort_values("source")
    assert [
        tuple(r) for r in rej[["source", "claim_number", "code", "reason_code"]].itertuples(index=False)
    ] == [("277CA", "C00000002", "A7", "21"), ("999", "C00000005", "R", "5")]
    assert rej[rej.source == "999"].iloc[0]["segment_id"] == "NM1"
    days = analyst.read_view(engine, "days_to_pay").set_index("claim_number")
    # C00000001: submitted the day after 2026-07-01, paid (BPR16) on RUN; denied claims are not "paid"
    assert int(days.loc["C00000001", "days_to_pay"]) == (RUN - dt.date(2026, 7, 2)).days
    assert "C00000002" not in days.index and "C00000003" in days.index
    story = analyst.read_view(engine, "claim_timeline", "claim_number = :n", {"n": "C00000003"})
    assert {"created", "submitted", "paid"} <= set(story["kind"])
    paid = [a for k, a in zip(story["kind"], story["amount"], strict=True) if k == "paid"]
    with engine.connect() as conn:
        clp04 = (
            conn.execute(
                select(m.ClaimPayment.paid)
                .join(m.Claim, m.Claim.id == m.ClaimPayment.claim_id)
                .where(m.Claim.claim_number == "C00000003")
            )
            .scalars()
            .all()
        )
    assert paid == clp04 and all(isinstance(a, Decimal) for a in paid)
    with engine.connect() as conn:
        for name in ("scrub_reasons", "rejection_reasons", "days_to_pay", "claim_timeline"):
            rows = conn.execute(text(f"SELECT * FROM {analyst.view_name(engine.dialect.name, name)}")).all()
            dumped = repr(rows)
            for phi in ("ZZSECRET", "ZZBADVALUE", "ZZTESTLAST", "ZZMEMBER", "A0000001"):
                assert phi not in dumped, (name, phi)
