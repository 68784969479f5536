"""parsers.limits_ack against the database model: a value the TA1/999/277CA parsers let through always fits
its column (the parsers package never imports claimflow, so this test is what keeps them in step)."""

from __future__ import annotations

import pytest

from claimflow.db import models
from parsers import limits_ack as lim


def column_length(dotted: str) -> int:
    table, column = dotted.split(".")
    col = models.Base.metadata.tables[table].c[column]
    length = getattr(col.type, "length", None)
    assert isinstance(length, int), f"{dotted} is not a bounded string column"
    return length


@pytest.mark.parametrize(("element", "limit_and_column"), sorted(lim.STORED_STRING_LIMITS.items()))
def test_every_stored_element_fits_its_column(element: str, limit_and_column: tuple[int, str]) -> None:
    limit, column = limit_and_column
    assert limit <= column_length(column), f"{element}: limit {limit} > {column}"


def test_limits_are_the_columns_where_the_guide_allows_more() -> None:
    # where the column is shorter than the guide's maximum, the limit is exactly the column
    assert column_length("claim_statuses.category") == lim.STC01_1_MAX
    assert column_length("claim_statuses.status_code") == lim.STC01_2_MAX
    assert column_length("claim_statuses.patient_control_number") == lim.PCN_MAX
    assert column_length("claim_statuses.payer_claim_number") == lim.REF_1K_MAX
    assert column_length("acknowledgment_errors.loop_id") == lim.IK303_MAX
    assert lim.ISA13_MAX == column_length("interchanges.isa13") == column_length("remittances.isa13")
    assert column_length("remittances.gs06") == lim.GS06_MAX
    assert lim.ST02_MAX == column_length("claim_statuses.st02") == column_length("remittances.st02")
    assert column_length("acknowledgment_errors.element_position") == lim.ELEMENT_POSITION_MAX
    # the longest element position the 999 parser lets through ("99:99") fits
    assert len("9" * lim.IK401_DIGITS + ":" + "9" * lim.IK401_DIGITS) <= lim.ELEMENT_POSITION_MAX


def test_integer_and_money_bounds_match_the_model() -> None:
    from sqlalchemy import Integer, Numeric

    seg_pos = models.Base.metadata.tables["acknowledgment_errors"].c["segment_position"].type
    assert isinstance(seg_pos, Integer) and lim.INTEGER_MAX == 2**31 - 1
    amount = models.Base.metadata.tables["claim_statuses"].c["amount"].type
    impl = getattr(amount, "impl", amount)  # claimflow.db.types.Money: NUMERIC(14,2) (cents on SQLite)
    assert isinstance(impl, Numeric) and impl.precision is not None
    assert impl.precision - (impl.scale or 0) == lim.MONEY_INTEGER_DIGITS
    assert impl.scale == lim.MONEY_DECIMALS
