"""``claimflow seed``: write the synthetic practice (``claimflow.sandbox.synthetic``) into the database.

Seeding is refused on a database that already holds claims, unless ``replace=True`` (tests and the demo),
so that a typo never mixes a synthetic practice into real data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select

from claimflow.db import models as m
from claimflow.sandbox.synthetic import Practice, generate_practice


class SeedRefused(Exception):
    """The database already has claims."""


@dataclass(frozen=True)
class SeedSummary:
    payers: int
    providers: int
    patients: int
    coverages: int
    claims: int
    service_lines: int
    deliberately_flawed: int

    def as_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


_TABLES = [
    (m.Payer, "payers"),
    (m.Provider, "providers"),
    (m.Patient, "patients"),
    (m.Subscriber, "subscribers"),
    (m.Coverage, "coverages"),
    (m.Claim, "claims"),
    (m.ClaimDiagnosis, "claim_diagnoses"),
    (m.ServiceLine, "service_lines"),
    (m.ClaimOtherPayer, "claim_other_payers"),
]


def seed_practice(
    engine: Engine,
    *,
    patients: int,
    claims: int,
    seed: int,
    as_of: dt.date | None = None,
    replace: bool = False,
) -> SeedSummary:
    practice = generate_practice(patients, claims, seed, as_of or dt.date.today())
    with engine.begin() as conn:
        existing = conn.execute(select(func.count()).select_from(m.Claim)).scalar_one()
        if existing and not replace:
            raise SeedRefused(f"the database already holds {existing} claims; seed only an empty database")
        if replace:
            for model, _ in reversed(_TABLES):
                conn.execute(delete(model))
        for model, attr in _TABLES:
            rows = getattr(practice, attr)
            # Self-references (secondary -> primary claim) insert fine in id order within one statement
            # batch on both backends; claims are sorted by id.
            for start in range(0, len(rows), 5000):
                if rows[start : start + 5000]:
                    conn.execute(insert(model), rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn)
    return _summary(practice)


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids were inserted: move PostgreSQL sequences past them."""
    for model, _ in _TABLES:
        table = model.__table__
        assert isinstance(table, Table)  # a declarative model's __table__ is typed as FromClause
        if "id" in table.c and table.c.id.primary_key and len(table.primary_key.columns) == 1:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )


def _summary(p: Practice) -> SeedSummary:
    return SeedSummary(
        payers=len(p.payers),
        providers=len(p.providers),
        patients=len(p.patients),
        coverages=len(p.coverages),
        claims=len(p.claims),
        service_lines=len(p.service_lines),
        deliberately_flawed=len(p.flaws),
    )
