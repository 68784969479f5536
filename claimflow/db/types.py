"""Column types. Money is exact on every backend.

PostgreSQL stores money as ``NUMERIC(14,2)``. SQLite has no exact decimal type (its NUMERIC affinity is
a double), so there money is stored as integer cents. Python code always sees ``Decimal`` with two places
either way, and sums done in SQL are exact on both (integer cents / numeric).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal or int, never float")
        d = Decimal(value).quantize(CENT)
        if dialect.name == "sqlite":
            return int(d * 100)
        return d

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):  # SUM over an empty/mixed set can come back as REAL
                value = round(value)
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)
