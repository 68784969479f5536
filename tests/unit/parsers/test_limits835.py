"""parsers.limits835 against the storage columns (claimflow/db/models.py): they cannot drift apart.

The parsers package never imports claimflow, so the 835 parser keeps its own copy of the limits; this
test is what keeps that copy honest. Every string column of the tables the 835 loader fills is either
mapped to the element limit that guards it or listed as not coming from the file.
"""

from __future__ import annotations

from sqlalchemy import Numeric, String

from claimflow.db import models as m
from claimflow.db.types import Money
from parsers import limits835 as L

TABLES_835 = (
    "remittances",
    "claim_payments",
    "service_line_payments",
    "adjustments",
    "remark_codes",
    "provider_adjustments",
)

# (table, column) → the largest string the parser can put there, from its limits
STORED: dict[tuple[str, str], int] = {
    ("remittances", "isa13"): L.ISA13_MAX,
    ("remittances", "gs06"): L.GS06_MAX,
    ("remittances", "st02"): L.ST02_MAX,
    ("remittances", "handling_code"): L.BPR01_MAX,
    ("remittances", "credit_debit"): L.BPR03_MAX,
    ("remittances", "payment_method"): L.BPR04_MAX,
    ("remittances", "trace_number"): L.TRN02_MAX,
    ("remittances", "payer_identifier"): max(L.N104_PAYER_MAX, L.TRN03_MAX),  # N104 or else TRN03
    ("remittances", "trace_payer"): max(L.N104_PAYER_MAX, L.TRN03_MAX),  # TRN03, else N104 (payment identity)
    ("remittances", "payer_name"): L.N102_MAX,
    ("remittances", "payee_identifier"): L.N104_MAX,
    ("claim_payments", "patient_control_number"): L.CLP01_MAX,
    ("claim_payments", "status_code"): L.CLP02_MAX,
    ("claim_payments", "filing_indicator"): L.CLP06_MAX,
    ("claim_payments", "payer_claim_number"): L.CLP07_MAX,
    ("claim_payments", "facility_type"): L.CLP08_MAX,
    ("claim_payments", "frequency"): L.CLP09_MAX,
    ("claim_payments", "original_reference_number"): L.REF02_MAX,  # REF*F8
    ("service_line_payments", "procedure_qualifier"): L.SVC01_1_MAX,
    ("service_line_payments", "procedure_code"): L.SVC01_2_MAX,
    ("service_line_payments", "modifiers"): 4 * L.SVC01_MODIFIER_MAX + 3,  # four joined with ':'
    ("service_line_payments", "revenue_code"): max(L.SVC04_MAX, L.REVENUE_CODE_MAX),
    ("service_line_payments", "original_procedure"): L.SVC06_2_MAX,
    ("service_line_payments", "line_control_number"): L.REF02_MAX,
    ("adjustments", "group_code"): L.CAS01_MAX,
    ("adjustments", "reason_code"): L.CAS02_MAX,
    ("remark_codes", "code"): max(L.LQ02_MAX, L.MOA03_MAX, L.MIA05_MAX),
    ("provider_adjustments", "provider_identifier"): L.PLB01_MAX,
    ("provider_adjustments", "reason_code"): L.PLB03_1_MAX,
    ("provider_adjustments", "reference"): L.PLB03_2_MAX,
}

# string columns that the loader fills with its own values, not with element values
NOT_FROM_THE_FILE = {
    ("claim_payments", "match_method"),
    ("remark_codes", "source"),
}

# columns whose length is the guide's own maximum (not a narrower storage choice): the limit must equal
# the column exactly, so a column widened or narrowed without the parser (or the reverse) fails here
EXACT = {k for k in STORED} - {
    ("remittances", "handling_code"),  # BPR01 is ID 1/1; the column allows 2
    ("remittances", "payer_identifier"),  # TRN03 is 10/10, N104 capped at the column
    ("remittances", "trace_payer"),  # the same
    ("service_line_payments", "original_procedure"),  # SVC06-2 AN 1/48 in a VARCHAR(60)
}


def _tables() -> dict[str, object]:
    return {t: m.Base.metadata.tables[t] for t in TABLES_835}


def test_every_stored_string_fits_its_column() -> None:
    tables = _tables()
    checked = 0
    for (table, column), limit in STORED.items():
        col = tables[table].c[column]  # type: ignore[attr-defined]
        assert isinstance(col.type, String), (table, column)
        assert limit <= col.type.length, (table, column, limit, col.type.length)
        if (table, column) in EXACT:
            assert limit == col.type.length, (table, column, limit, col.type.length)
        checked += 1
    assert checked == len(STORED)


def test_every_string_column_of_the_835_tables_is_guarded() -> None:
    for name, table in _tables().items():
        for col in table.c:  # type: ignore[attr-defined]
            if isinstance(col.type, String):
                key = (name, col.name)
                assert key in STORED or key in NOT_FROM_THE_FILE, (
                    f"{key}: add its limit to parsers/limits835.py"
                )


def test_money_and_quantity_sizes_match_the_numeric_columns() -> None:
    money = Money.impl
    assert isinstance(money, Numeric)
    assert (money.precision - money.scale, money.scale) == (L.MONEY_INTEGER_DIGITS, L.MONEY_DECIMALS)
    quantities = [
        m.Adjustment.__table__.c.quantity,
        m.ServiceLinePayment.__table__.c.units,
    ]
    for col in quantities:
        assert isinstance(col.type, Numeric) and not isinstance(col.type, Money)
        assert (col.type.precision - col.type.scale, col.type.scale) == (
            L.QUANTITY_INTEGER_DIGITS,
            L.QUANTITY_DECIMALS,
        ), col
    # every other numeric column of the 835 tables is money
    for name, table in _tables().items():
        for col in table.c:  # type: ignore[attr-defined]
            if isinstance(col.type, Numeric | Money) and col not in quantities:
                assert isinstance(col.type, Money), (name, col.name)
