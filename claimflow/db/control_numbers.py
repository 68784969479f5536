"""ISA13 / GS06 / ST02 control numbers kept in the database: unique, never reused, safe under concurrency.

Each allocation is its own short transaction that increments the counter with a single
``UPDATE … SET last_value = last_value + n … RETURNING last_value``: PostgreSQL's row lock and SQLite's
write lock serialize concurrent runs, and a number handed out is never handed out again even if the
batch that asked for it later fails (gaps are allowed by X12; reuse is not).
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from claimflow.db.models import ControlNumber
from edi.control_numbers import ControlKind

ISA13_MAX = 999_999_999


class DatabaseControlNumbers:
    """Implements ``edi.control_numbers.BlockControlNumberSource`` for one sender ID."""

    def __init__(self, engine: Engine, sender_id: str) -> None:
        self.engine = engine
        self.sender_id = sender_id

    def reserve(self, kind: ControlKind | str, n: int = 1) -> range:
        """Reserve ``n`` consecutive numbers of ``kind`` (interchange/group/transaction)."""
        kind = ControlKind(kind).value
        if n < 1:
            raise ValueError("reserve at least one control number")
        table = ControlNumber.__table__
        assert isinstance(table, Table)  # a declarative model's __table__ is typed as FromClause
        ins = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(
                ins(table)
                .values(sender_id=self.sender_id, kind=kind, last_value=0)
                .on_conflict_do_nothing(index_elements=["sender_id", "kind"])
            )
            last = conn.execute(
                update(table)
                .where(table.c.sender_id == self.sender_id, table.c.kind == kind)
                .values(last_value=table.c.last_value + n)
                .returning(table.c.last_value)
            ).scalar_one()
        if last > ISA13_MAX:
            raise OverflowError(f"{kind} control numbers for sender {self.sender_id} are exhausted")
        return range(int(last) - n + 1, int(last) + 1)

    def next_interchange(self) -> int:
        return self.reserve(ControlKind.INTERCHANGE)[0]

    def next_group(self) -> int:
        return self.reserve(ControlKind.GROUP)[0]

    def next_transaction(self) -> int:
        return self.reserve(ControlKind.TRANSACTION)[0]
