"""The few SQL fragments that differ between SQLite and PostgreSQL, and parameter/result conversion.

Posting and reconciliation are written as plain set-based SQL (``INSERT … SELECT``, ``UPDATE … FROM``)
that both backends run. Where they differ (dates, null-safe equality, JSON builders) this module hands
out the right fragment. Money crosses the boundary here too: SQLite stores integer cents, PostgreSQL
NUMERIC(14,2); SQL arithmetic on either is exact, and :meth:`Sql.money` turns a raw result into
``Decimal`` (never float). Code values (ledger accounts and entry types, claim and work-item statuses)
are never quoted into the SQL text: :func:`bind` names one as a bind parameter and :meth:`Sql.run`
supplies every code's value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, CursorResult, text

from claimflow.db.models import ClaimStatus, WorkItemResolution, WorkItemStatus
from claimflow.settings import get_settings

from .ledger import Account, EntryType

CENT = Decimal("0.01")

#: Code value → the prefix of its bind parameter. Account and entry type share values (``write_off``,
#: ``contractual``), so each enum gets its own prefix.
_CODE_PREFIX: dict[type, str] = {
    Account: "acct",
    EntryType: "etype",
    ClaimStatus: "claim",
    WorkItemStatus: "item",
    WorkItemResolution: "resolution",
}

Code = Account | EntryType | ClaimStatus | WorkItemStatus | WorkItemResolution


def bind(code: Code) -> str:
    """The bind parameter that stands for ``code`` in SQL text (``:acct_ar_payer``). Binding keeps values
    out of the statement text (one text per statement whatever the codes, nothing to escape), and a
    misspelt code fails in Python, not as a query that silently matches nothing."""
    return f":{_CODE_PREFIX[type(code)]}_{code.value}"


_CODES: tuple[Code, ...] = (*Account, *EntryType, *ClaimStatus, *WorkItemStatus, *WorkItemResolution)

#: Every code value as a bind parameter (``acct_ar_payer`` → ``"ar_payer"``); :meth:`Sql.run` supplies them
#: to every statement, so SQL text names a code by :func:`bind` instead of quoting its value into the text.
CODE_PARAMS: dict[str, str] = {bind(code)[1:]: code.value for code in _CODES}


def bind_in(codes: Iterable[Code]) -> str:
    """``(:claim_paid, :claim_denied)``: an SQL ``IN`` list of bound codes."""
    return "(" + ", ".join(bind(c) for c in codes) + ")"


class Sql:
    """A connection plus its dialect's fragments. Not thread-safe; one per transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.pg = conn.dialect.name == "postgresql"

    def for_batch(self) -> Sql:
        """Size this transaction for a night's set-based statements. PostgreSQL: ``work_mem`` =
        :attr:`Settings.pg_batch_work_mem` until the transaction ends (``set_config(…, true)`` is ``SET
        LOCAL``), so the hash joins, aggregates and sorts over a 1,000,000-claim night stay in memory
        instead of spilling at the server default; other connections keep the server's value.
        SQLite: nothing to size."""
        if self.pg:
            self.run(
                "SELECT set_config('work_mem', :work_mem, true)",
                {"work_mem": get_settings().pg_batch_work_mem},
            )
        return self

    # ---- fragments -----------------------------------------------------------------------------

    def date_of(self, expr: str) -> str:
        """The calendar date of a timestamp expression."""
        return f"date({expr})" if self.sqlite else f"CAST({expr} AS DATE)"

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from ``earlier`` to ``later`` (both date expressions or parameters)."""
        if self.sqlite:
            return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"

    def same(self, a: str, b: str) -> str:
        """Null-safe equality."""
        return f"({a} IS {b})" if self.sqlite else f"({a} IS NOT DISTINCT FROM {b})"

    def json_object(self, **fields: str) -> str:
        """A JSON object built in SQL from ``name=sql_expression`` pairs."""
        fn = "json_object" if self.sqlite else "json_build_object"
        args = ", ".join(f"'{k}', {v}" for k, v in fields.items())
        return f"{fn}({args})"

    @staticmethod
    def key(prefix: str, *exprs: str) -> str:
        """A txn_key expression: ``'prefix' || CAST(a AS TEXT) || ':' || …``."""
        parts = [f"'{prefix}'"]
        for i, e in enumerate(exprs):
            if i:
                parts.append("':'")
            parts.append(f"CAST({e} AS TEXT)")
        return " || ".join(parts)

    @classmethod
    def not_posted(cls, prefix: str, id_expr: str) -> str:
        """``NOT EXISTS`` a ledger transaction ``<prefix><id>``. The extra range predicate keeps the
        anti-join to that one family of keys (one index range scan of the unique (txn_key, account)
        index — keys sort bytewise: collation "C" on PostgreSQL, BINARY on SQLite) instead of the whole
        ledger, so the cost grows with the number of source rows, not with the ledger."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return (
            f"NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.txn_key >= '{prefix}' "
            f"AND e.txn_key < '{upper}' AND e.txn_key = {cls.key(prefix, id_expr)})"
        )

    # ---- values ----------------------------------------------------------------------------------

    def param(self, value: Any) -> Any:
        """A Python value as this backend's driver wants it bound in raw SQL."""
        if isinstance(value, float):
            raise TypeError("money and quantities are Decimal, never float")
        if self.sqlite:
            if isinstance(value, Decimal):
                return int((value.quantize(CENT) * 100).to_integral_value())
            if isinstance(value, dt.datetime):
                return value.strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(value, dt.date):
                return value.isoformat()
        return value

    def money(self, value: Any) -> Decimal:
        """A raw money result (SUM, column) as Decimal; NULL is 0.00."""
        if value is None:
            return Decimal("0.00")
        if self.sqlite:
            if isinstance(value, float):  # SUM over an empty set or mixed affinities
                value = round(value)
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)

    def date(self, value: Any) -> dt.date | None:
        if value is None or isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value)[:10])

    # ---- execution -----------------------------------------------------------------------------

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        bound: dict[str, Any] = {**CODE_PARAMS, **{k: self.param(v) for k, v in (params or {}).items()}}
        return self.conn.execute(text(sql), bound)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.run(sql, params).scalar()

    def temp_table(self, name: str, select_sql: str, params: Mapping[str, Any] | None = None) -> int:
        """(Re)create a temporary table from a SELECT; returns its row count. Dropped by :meth:`drop`."""
        self.drop(name)
        self.run(f"CREATE TEMPORARY TABLE {name} AS {select_sql}", params)
        if self.pg:
            self.run(f"ANALYZE {name}")
        return int(self.scalar(f"SELECT COUNT(*) FROM {name}") or 0)

    def analyze_if_stale(self, *tables: str, share: float = 0.1) -> None:
        """PostgreSQL: ANALYZE the tables whose committed changes since their last analyze exceed
        ``share`` of their rows (a bulk load autovacuum has not looked at yet). Plans made for an
        "empty" table are quadratic at 100,000 rows; re-analyzing a fresh table costs time for nothing."""
        if not self.pg:
            return
        rows = self.run(
            "SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = ANY(:t)",
            {"t": list(tables)},
        ).all()
        stats = {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}
        for table in tables:
            mods, live = stats.get(table, (1, 0))
            if mods > share * max(live, 1000):
                self.run(f"ANALYZE {table}")

    def drop(self, *names: str) -> None:
        for name in names:
            self.run(f"DROP TABLE IF EXISTS {name}")
