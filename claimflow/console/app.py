"""The RCM console: a small FastAPI app of server-rendered pages over claimflow's database.

Two ways to run it, one app (:func:`create_app`):

* inside Airflow's API server, as the plugin ``claimflow.console.plugin`` mounted at ``/claimflow``; the
  user is the one Airflow's auth manager authenticated (``GetUserDep``: the JWT cookie or bearer token);
  a request without one gets Airflow's 401/403;
* alone, ``claimflow console [--host] [--port] [--user]`` (uvicorn); the user is ``--user`` or the OS user.

The console's only writes are the work-item actions (assign, note, close), through
:mod:`adjudication.worklist`, which writes the work-item event and the audit row with
``actor = "console:<user>"``. Every POST carries a CSRF token (double submit: a random ``SameSite=Strict``
cookie and the same value in the form; compared in constant time). URLs carry ids only, never names; the
claim search is a POST so what is typed never lands in an access log.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from adjudication import worklist as wl
from adjudication.errors import AdjudicationError
from adjudication.timeline import ClaimNotFound, claim_story

from . import charts
from . import queries as qy

log = logging.getLogger("claimflow.console")

HERE = Path(__file__).resolve().parent
CSRF_COOKIE = "cf_console_csrf"
STATUSES = ("open", "in_progress", "closed", "all")
UserDep = Callable[..., str] | Callable[..., Awaitable[str]]


class CsrfError(Exception):
    """A POST without the matching CSRF token."""


def _money(v: Any) -> str:
    if v is None:
        return "—"
    return f"${Decimal(v):,.2f}"


def _pct(v: Any) -> str:
    if v is None:
        return "—"
    return f"{Decimal(v) * 100:.1f}%"


def _num(v: Any) -> str:
    return "—" if v is None else f"{Decimal(v):,.0f}"


def _label(v: Any) -> str:
    return str(v or "").replace("_", " ")


def _templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(HERE / "templates"))
    t.env.filters.update(money=_money, pct=_pct, label=_label)
    t.env.globals.update(queues=wl.QUEUES, statuses=STATUSES, error_text=error_text)
    return t


def create_app(
    engine: Engine | Callable[[], Engine] | None = None,
    *,
    user: UserDep | str | None = None,
    data_dir: Path | None = None,
) -> FastAPI:
    """The console. ``engine``: an engine or a function returning one (default: the settings' database).
    ``user``: a name (standalone) or a FastAPI dependency returning the signed-in user's name (Airflow)."""
    templates = _templates()

    def get_engine() -> Engine:
        if engine is None:
            from claimflow.db.session import get_engine as settings_engine

            return settings_engine()
        return engine if isinstance(engine, Engine) else engine()

    def get_data_dir() -> Path | None:
        if data_dir is not None:
            return data_dir
        from claimflow.settings import get_settings

        return get_settings().data_dir

    if user is None or isinstance(user, str):
        fixed = user or _os_user()

        def current_user() -> str:
            return fixed

        user_dep: UserDep = current_user
    else:
        user_dep = user

    app = FastAPI(title="claimflow RCM console", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def page(
        request: Request, name: str, ctx: dict[str, Any], who: str, status_code: int = 200
    ) -> HTMLResponse:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        base = request.scope.get("root_path", "").rstrip("/")
        response = templates.TemplateResponse(
            request, name, {"base": base, "user": who, "csrf": token, **ctx}, status_code=status_code
        )
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(
                CSRF_COOKIE,
                token,
                httponly=True,
                samesite="strict",
                path=base or "/",
                secure=request.url.scheme == "https",
            )
        return response

    def check_csrf(request: Request, token: str) -> None:
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if not cookie or not token or not hmac.compare_digest(cookie.encode(), token.encode()):
            raise CsrfError

    def back(request: Request, path: str) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "").rstrip("/") + path, status_code=303)

    @app.exception_handler(CsrfError)
    async def csrf_failed(request: Request, _exc: CsrfError) -> HTMLResponse:
        return page(
            request,
            "error.html",
            {
                "title": "Form expired",
                "message": "The form's security token did not match. Reload the page and try again.",
            },
            "",
            status_code=403,
        )

    @app.exception_handler(qy.ConsoleError)
    @app.exception_handler(ClaimNotFound)
    async def not_found(request: Request, exc: Exception) -> HTMLResponse:
        return page(request, "error.html", {"title": "Not found", "message": str(exc)}, "", status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (401, 403):  # Airflow's auth said no: no page, no data
            return Response(f"{exc.detail}", status_code=exc.status_code, media_type="text/plain")
        return page(
            request,
            "error.html",
            {"title": f"Error {exc.status_code}", "message": str(exc.detail)},
            "",
            status_code=exc.status_code,
        )

    # ---- pages --------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, who: str = Depends(user_dep)) -> HTMLResponse:
        eng = get_engine()
        run_date = qy.latest_run_date(eng)
        cash = qy.cash_by_day(eng)
        ag = qy.aging(eng, run_date)
        den = qy.denials(eng)
        trends = qy.kpi_trends(eng)
        ctx = {
            "title": "Dashboard",
            "nav": "dashboard",
            "run_date": run_date,
            "cash": cash,
            "aging": ag,
            "denials": den,
            "trends": trends,
            "cash_total": sum((c["amount"] for c in cash), Decimal("0.00")),
            "cash_chart": charts.bars(
                "chart-cash", "Cash posted by day", [(c["day"].isoformat()[5:], c["amount"]) for c in cash]
            ),
            "payer_chart": charts.stacked(
                "chart-aging-payer",
                "Insurance A/R aging by payer",
                [(r["payer"], [r["buckets"][b] for b in qy.BUCKETS]) for r in ag["payers"]],
                qy.BUCKETS,
            ),
            "patient_chart": charts.bars(
                "chart-aging-patient",
                "Patient A/R by aging bucket",
                [(r["bucket"], r["amount"]) for r in ag["patient"]],
            ),
            "denial_chart": charts.stacked(
                "chart-denials",
                "Denied dollars by reason and payer",
                [(f"{d['payer']} {d['code']}", [d["amount"]]) for d in den],
                ["denied"],
                suffix="",
            ),
            "trend_chart": charts.lines(
                "chart-kpis",
                "First-pass and clean-claim rates, last 30 days",
                {_label(n): [(p["day"].isoformat(), p["value"]) for p in s] for n, s in trends.items()},
            ),
            "rows": {
                "cash": [(c["day"], _money(c["amount"])) for c in cash],
                "trends": [
                    (
                        f"{p['day']} {_label(n)}",
                        _pct(p["value"]),
                        _num(p["numerator"]),
                        _num(p["denominator"]),
                    )
                    for n, s in trends.items()
                    for p in s
                ],
                "payers": [
                    (r["payer"], *(_money(r["buckets"][b]) for b in qy.BUCKETS), _money(r["total"]))
                    for r in ag["payers"]
                ],
                "patient": [
                    (f"{r['bucket']} days", _money(r["amount"]), r["patients"], r["claims"])
                    for r in ag["patient"]
                ],
                "denials": [
                    (
                        f"{d['payer']} {d['code']}",
                        d["description"],
                        _label(d["category"]),
                        d["claims"],
                        _money(d["amount"]),
                    )
                    for d in den
                ],
            },
        }
        return page(request, "dashboard.html", ctx, who)

    @app.get("/work", response_class=HTMLResponse)
    def work(
        request: Request, queue: str = "", status: str = "open", payer: str = "", who: str = Depends(user_dep)
    ) -> HTMLResponse:
        eng = get_engine()
        queue = queue if queue in wl.QUEUES else ""
        status = status if status in STATUSES else "open"
        items = qy.work_items(
            eng, queue=queue or None, status=None if status == "all" else status, payer=payer or None
        )
        ctx = {
            "title": "Work queues",
            "nav": "work",
            "items": items,
            "queue": queue,
            "status": status,
            "payer": payer,
            "payers": qy.payer_codes(eng),
            "total": sum((i["amount"] for i in items), Decimal("0.00")),
        }
        return page(request, "work.html", ctx, who)

    @app.get("/work/{item_id}", response_class=HTMLResponse)
    def work_item(request: Request, item_id: int, who: str = Depends(user_dep)) -> HTMLResponse:
        item = qy.work_item(get_engine(), item_id)
        return page(
            request,
            "work_item.html",
            {
                "title": f"Work item {item_id}",
                "nav": "work",
                "item": item,
                "error": request.query_params.get("error"),
            },
            who,
        )

    def act(request: Request, item_id: int, token: str, fn: Callable[[], None]) -> RedirectResponse:
        check_csrf(request, token)
        try:
            fn()
        except AdjudicationError as exc:
            log.info("console: work item %s action refused", item_id)
            return back(request, f"/work/{item_id}?error={_error_code(exc)}")
        return back(request, f"/work/{item_id}")

    @app.post("/work/{item_id}/assign")
    def assign(
        request: Request, item_id: int, to: str = Form(""), csrf: str = Form(""), who: str = Depends(user_dep)
    ) -> RedirectResponse:
        return act(request, item_id, csrf, lambda: wl.assign(get_engine(), item_id, to, actor=_actor(who)))

    @app.post("/work/{item_id}/note")
    def note(
        request: Request,
        item_id: int,
        text: str = Form(""),
        csrf: str = Form(""),
        who: str = Depends(user_dep),
    ) -> RedirectResponse:
        return act(
            request, item_id, csrf, lambda: wl.add_note(get_engine(), item_id, text, actor=_actor(who))
        )

    @app.post("/work/{item_id}/close")
    def close(
        request: Request,
        item_id: int,
        why: str = Form(""),
        csrf: str = Form(""),
        who: str = Depends(user_dep),
    ) -> RedirectResponse:
        return act(
            request, item_id, csrf, lambda: wl.close_item(get_engine(), item_id, why, actor=_actor(who))
        )

    @app.get("/claims", response_class=HTMLResponse)
    def claims(request: Request, who: str = Depends(user_dep)) -> HTMLResponse:
        return page(
            request, "claims.html", {"title": "Claim search", "nav": "claims", "results": None, "q": ""}, who
        )

    @app.post("/claims", response_model=None)
    def claims_search(
        request: Request, q: str = Form(""), csrf: str = Form(""), who: str = Depends(user_dep)
    ) -> Response:
        check_csrf(request, csrf)
        results = qy.find_claims(get_engine(), q)
        if len(results) == 1:
            return back(request, f"/claims/{results[0]['id']}")
        return page(
            request,
            "claims.html",
            {"title": "Claim search", "nav": "claims", "results": results, "q": q},
            who,
        )

    @app.get("/claims/{claim_id}", response_class=HTMLResponse)
    def claim(request: Request, claim_id: int, who: str = Depends(user_dep)) -> HTMLResponse:
        eng = get_engine()
        story = claim_story(eng, qy.claim_number(eng, claim_id))
        return page(
            request,
            "claim.html",
            {
                "title": f"Claim {story.claim['claim_number']}",
                "nav": "claims",
                "claim": story.claim,
                "events": story.events,
            },
            who,
        )

    @app.get("/files", response_class=HTMLResponse)
    def files(request: Request, direction: str = "", who: str = Depends(user_dep)) -> HTMLResponse:
        direction = direction if direction in ("in", "out") else ""
        rows = qy.interchanges(get_engine(), direction=direction or None)
        return page(
            request,
            "files.html",
            {"title": "Files", "nav": "files", "files": rows, "direction": direction},
            who,
        )

    @app.get("/files/{file_id}", response_class=HTMLResponse)
    def file(request: Request, file_id: int, start: int = 1, who: str = Depends(user_dep)) -> HTMLResponse:
        info = qy.interchange(get_engine(), file_id, data_dir=get_data_dir(), start=start)
        return page(request, "file.html", {"title": f"File {file_id}", "nav": "files", "f": info}, who)

    @app.get("/payers", response_class=HTMLResponse)
    def payers(request: Request, who: str = Depends(user_dep)) -> HTMLResponse:
        stats = qy.payer_stats(get_engine())
        chart = charts.bars(
            "chart-days-to-pay",
            "Average days to pay by payer",
            [(p["payer"], p["days_to_pay"]) for p in stats if p["days_to_pay"] is not None],
            money=False,
        )
        return page(
            request, "payers.html", {"title": "Payers", "nav": "payers", "payers": stats, "chart": chart}, who
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _actor(user: str) -> str:
    return f"console:{user}"[:120]


_ERRORS = {
    "closed": "This work item is closed.",
    "name": "Assigning needs a name.",
    "text": "A note needs text.",
    "why": "Closing needs a reason.",
    "other": "That action was refused.",
}


def _error_code(exc: Exception) -> str:
    """A short code for the redirect's query string (the message itself stays server-side)."""
    msg = str(exc)
    if "closed" in msg:
        return "closed"
    if "name" in msg:
        return "name"
    if "note" in msg:
        return "text"
    if "reason" in msg:
        return "why"
    return "other"


def error_text(code: str | None) -> str | None:
    return None if not code else _ERRORS.get(code, _ERRORS["other"])


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database in some containers
        return "unknown"
