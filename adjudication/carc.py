"""Claim Adjustment Reason Codes (CARC) grouped into categories, for denial classification and KPIs.

Only code values are listed (the X12 external code list's descriptions are maintained by X12; the
``eob`` package owns descriptions). The grouping is claimflow's: it follows the way revenue-cycle teams
work denials (front end: eligibility and authorization; middle: coding and missing information; back
end: medical necessity, non-covered, timely filing, duplicates).

Three categories are *not* denials: ``contractual`` (the payer's fee schedule: CO-45 …),
``patient_responsibility`` (deductible, coinsurance, copay …) and ``prior_payer`` (OA-23, the impact of
a prior payer's adjudication on a secondary claim). Every other category, including ``other`` for
codes not listed here, counts as a denial reason.
"""

from __future__ import annotations

NON_DENIAL = ("contractual", "patient_responsibility", "prior_payer")

CATEGORIES: dict[str, tuple[str, ...]] = {
    "contractual": ("45", "59", "94", "131", "237", "253", "42", "44", "104", "172", "P24"),
    "patient_responsibility": ("1", "2", "3", "66", "122", "142", "187", "241", "248"),
    "prior_payer": ("23",),
    "eligibility": ("24", "26", "27", "31", "32", "33", "34", "35", "109", "177", "200", "B7", "B9"),
    "coordination_of_benefits": ("22", "19", "20", "21"),
    "authorization": ("15", "38", "39", "62", "197", "198", "243", "288"),
    "medical_necessity": ("50", "55", "56", "57", "150", "151", "152", "153", "154", "167"),
    "non_covered": ("49", "96", "108", "119", "170", "171", "204", "A1"),
    "coding": (
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
        "13",
        "14",
        "40",
        "58",
        "146",
        "181",
        "182",
        "185",
        "189",
        "199",
        "B5",
    ),
    "bundling": ("97", "231", "234", "236", "B15"),
    "missing_information": ("16", "17", "125", "226", "227", "252", "251"),
    "duplicate": ("18",),
    "timely_filing": ("29",),
}

_BY_CODE: dict[str, str] = {code: cat for cat, codes in CATEGORIES.items() for code in codes}

#: Every category a denial can be classified under (``other`` catches unlisted codes).
DENIAL_CATEGORIES: tuple[str, ...] = (*(c for c in CATEGORIES if c not in NON_DENIAL), "other")


def category(reason_code: str) -> str:
    """The category of one CARC (``other`` when not listed)."""
    return _BY_CODE.get(reason_code.strip().upper(), "other")


def is_denial(reason_code: str) -> bool:
    return category(reason_code) not in NON_DENIAL


def category_sql(column: str) -> str:
    """A portable SQL ``CASE`` expression mapping ``column`` (a CARC) to its category."""
    parts = []
    for cat, codes in CATEGORIES.items():
        quoted = ", ".join(f"'{c}'" for c in codes)
        parts.append(f"WHEN {column} IN ({quoted}) THEN '{cat}'")
    return "CASE " + " ".join(parts) + " ELSE 'other' END"


def non_denial_codes_sql() -> str:
    """``('45', '59', …)``: every CARC that is not a denial reason (for ``NOT IN`` tests in SQL)."""
    codes = [c for cat in NON_DENIAL for c in CATEGORIES[cat]]
    return "(" + ", ".join(f"'{c}'" for c in codes) + ")"


#: Plain-language names of the categories, for people reading the report.
CATEGORY_LABELS: dict[str, str] = {
    "contractual": "Contractual adjustment (fee schedule)",
    "patient_responsibility": "Patient responsibility",
    "prior_payer": "Prior payer's adjudication",
    "eligibility": "Eligibility / coverage",
    "coordination_of_benefits": "Coordination of benefits",
    "authorization": "Authorization / referral missing",
    "medical_necessity": "Medical necessity",
    "non_covered": "Service not covered",
    "coding": "Coding (procedure, diagnosis, modifier)",
    "bundling": "Bundled / included in another service",
    "missing_information": "Missing or invalid information",
    "duplicate": "Duplicate claim or service",
    "timely_filing": "Timely filing limit passed",
    "other": "Other denial reasons",
}

#: THE definition of a denial, used by the run report, the denial KPIs (adjudication.reconcile) and the
#: analyst examples. :func:`denial_adjustment_sql` is its SQL; ``adjudication.denials`` applies it.
DENIAL_DEFINITION = (
    "A denial is a CAS adjustment - claim level or service-line level - whose group code is not PR and "
    "whose CARC category is not contractual, patient_responsibility or prior_payer (so CO-45 is never a "
    "denial), with a non-zero amount, on an 835 claim payment that is matched to our claim, posted, and "
    "not a reversal (CLP02 1/2/3/4/19/20/21). Its category is adjudication.carc.category(CARC)."
)


def denial_adjustment_sql(alias: str = "a") -> str:
    """SQL condition: the adjustment row ``alias`` is a denial (:data:`DENIAL_DEFINITION`; the claim
    payment conditions are applied by ``adjudication.denials``)."""
    return (
        f"({alias}.group_code <> 'PR' AND {alias}.amount <> 0 "
        f"AND {alias}.reason_code NOT IN {non_denial_codes_sql()})"
    )


def is_denial_adjustment(group_code: str, reason_code: str, amount: object) -> bool:
    """Python side of :func:`denial_adjustment_sql` (for pandas and tests)."""
    return group_code.strip().upper() != "PR" and is_denial(reason_code) and amount not in (0, None)
