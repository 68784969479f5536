"""Maximum sizes of the 835 (005010X221A1) elements the parser emits: what a record may carry.

Why: every value the 835 parser yields can end up in a database column (``claimflow/db/models.py``). A value
longer than its column, or an amount beyond ``NUMERIC(14,2)``, used to fail the load half-way with a
driver traceback (PostgreSQL) or an ``OverflowError`` (SQLite integer cents), and a third decimal was
rounded silently, differently per backend. The parser now refuses such a file up front with one
:class:`~edi.errors.X12ParseError` line (file, segment number, segment ID, element — never the value), so
the loader quarantines it like any malformed file.

Each string limit is named after the element (``CLP01_MAX``) and is the implementation guide's maximum
length (``AN 1/38``), or the storage column's length where that is shorter (said in the comment). The
parsers package never imports ``claimflow``; ``tests/unit/parsers/test_limits835.py`` compares these
constants with the model's column lengths so the two cannot drift apart.

Numbers: the X12 ``R`` type allows up to 18 digits and any number of decimals. Money (every amount the
guide calls a monetary amount: BPR02, CLP03-05, SVC02/03, CAS03/06/…, AMT02, PLB04/06/…, TS3/TS2, MIA,
MOA amounts) is stored as ``NUMERIC(14,2)``: at most 12 significant integer digits, and decimals past
the second must be zeros (``100.000`` is the exact value 100 and is accepted; ``100.005`` is refused
rather than rounded — rounding would change money). Quantities stored as ``NUMERIC(15,3)`` (CAS04, CAS07,
… adjustment quantities; SVC05 and SVC07 units; QTY02) follow the same rule with three decimals.
Other numeric elements that are not stored (CLP12 DRG weight, CLP13, MIA/MOA rates and counts, TS304)
keep the plain ``R`` check.

Sums the loader stores must fit as well: ``SVC02 − SVC03`` and the line's ΣCAS, ``CLP03 − CLP04`` and the
claim's ΣCAS (``balance_exceptions.expected/found``), ``ΣCLP04 − ΣPLB`` of a transaction set. The parser
refuses the file at the line's SVC, the claim's CLP or the SE when one of them is beyond ±999,999,999,999.99.
(Not covered: the per-group breakdown the loader adds up, e.g. ΣCO, which could only overflow with CAS
amounts of opposite signs near the limit in one claim; PostgreSQL then refuses the file as a whole.)
"""

from __future__ import annotations

# ---- money and quantities ----------------------------------------------------------------------------

MONEY_INTEGER_DIGITS = 12
"""Significant integer digits of a monetary amount: NUMERIC(14,2) → ±999,999,999,999.99."""
MONEY_DECIMALS = 2
"""Decimals of a monetary amount that may be non-zero."""
QUANTITY_INTEGER_DIGITS = 12
"""Significant integer digits of a stored quantity: NUMERIC(15,3) → ±999,999,999,999.999."""
QUANTITY_DECIMALS = 3
"""Decimals of a stored quantity that may be non-zero."""

# ---- 2100 claim payment: CLP → claim_payments -----------------------------------------------------------

CLP01_MAX = 38  # patient control number, AN 1/38 → claim_payments.patient_control_number
CLP02_MAX = 2  # claim status, ID 1/2 → claim_payments.status_code
CLP06_MAX = 2  # claim filing indicator, ID 1/2 → claim_payments.filing_indicator
CLP07_MAX = 50  # payer claim control number, AN 1/50 → claim_payments.payer_claim_number
CLP08_MAX = 2  # facility type code, AN 1/2 → claim_payments.facility_type
CLP09_MAX = 1  # claim frequency type code, ID 1/1 → claim_payments.frequency
CLP11_MAX = 4  # DRG code, AN 1/4

# ---- references, dates, amounts, quantities (claim and line) ------------------------------------------

REF01_MAX = 3  # reference identification qualifier, ID 2/3
REF02_MAX = 50  # AN 1/50 → claim_payments.original_reference_number (REF*F8),
#                 service_line_payments.line_control_number (REF*6R)
DTM01_MAX = 3  # date/time qualifier, ID 3/3
AMT01_MAX = 3  # amount qualifier, ID 1/3
QTY01_MAX = 2  # quantity qualifier, ID 2/2

# ---- CAS → adjustments --------------------------------------------------------------------------------

CAS01_MAX = 2  # claim adjustment group code, ID 1/2 → adjustments.group_code
CAS02_MAX = 5  # adjustment reason code (CAS02, 05, 08, 11, 14, 17), ID 1/5 → adjustments.reason_code

# ---- NM1 (claim parties) --------------------------------------------------------------------------------

NM101_MAX = 3  # entity identifier code, ID 2/3
NM102_MAX = 1  # entity type qualifier, ID 1/1
NM103_MAX = 60  # last or organization name, AN 1/60
NM104_MAX = 35  # first name, AN 1/35
NM105_MAX = 25  # middle name, AN 1/25
NM107_MAX = 10  # name suffix, AN 1/10
NM108_MAX = 2  # identification code qualifier, ID 1/2
NM109_MAX = 80  # identification code, AN 2/80

# ---- 2110 service payment: SVC → service_line_payments --------------------------------------------------

SVC01_1_MAX = 2  # product/service ID qualifier, ID 2/2 → service_line_payments.procedure_qualifier
SVC01_2_MAX = 48  # procedure code, AN 1/48 → service_line_payments.procedure_code
SVC01_MODIFIER_MAX = 2  # procedure modifiers SVC01-3..6, AN 2/2 → service_line_payments.modifiers
#                         (four joined with ':' = 11 characters)
SVC01_7_MAX = 80  # description, AN 1/80
SVC04_MAX = 4  # NUBC revenue code (AN 1/48 in the dictionary; the guide's value is a 4-digit NUBC
#                code) → service_line_payments.revenue_code VARCHAR(4)
REVENUE_CODE_MAX = 4  # SVC01-2 when SVC01-1 is NU (a revenue code): stored in the same revenue_code column
SVC06_2_MAX = 48  # original procedure code, AN 1/48 → service_line_payments.original_procedure
LQ01_MAX = 3  # code list qualifier, ID 1/3
LQ02_MAX = 30  # remark code (RARC), AN 1/30 → remark_codes.code

# ---- MIA / MOA remark codes → remark_codes ---------------------------------------------------------------

MOA03_MAX = 30  # MOA03-07 claim payment remark codes, AN 1/30 → remark_codes.code
MIA05_MAX = 30  # MIA05, MIA20-23 claim payment remark codes, AN 1/30 → remark_codes.code

# ---- PER (payer and claim contacts) ---------------------------------------------------------------------

PER01_MAX = 2  # contact function code, ID 2/2
PER02_MAX = 60  # name, AN 1/60
PER03_MAX = 2  # communication number qualifier (PER03, 05, 07), ID 2/2
PER04_MAX = 256  # communication number (PER04, 06, 08), AN 1/256

# ---- header: BPR, TRN, CUR, REF, N1, N3, N4, RDM → remittances ------------------------------------------

ISA13_MAX = 9  # interchange control number, N0 9/9 → remittances.isa13
GS06_MAX = 9  # group control number, N0 1/9 → remittances.gs06
ST02_MAX = 9  # transaction set control number, AN 4/9 → remittances.st02
BPR01_MAX = 1  # transaction handling code, ID 1/1 → remittances.handling_code (VARCHAR(2))
BPR03_MAX = 1  # credit/debit flag, ID 1/1 → remittances.credit_debit
BPR04_MAX = 3  # payment method code, ID 3/3 → remittances.payment_method
BPR05_MAX = 10  # payment format code, ID 1/10
BPR06_MAX = 2  # DFI ID number qualifier (BPR06, BPR12), ID 2/2
BPR07_MAX = 12  # DFI identification number (BPR07, BPR13), AN 3/12
BPR08_MAX = 3  # account number qualifier (BPR08, BPR14), ID 1/3
BPR09_MAX = 35  # account number (BPR09, BPR15), AN 1/35
BPR10_MAX = 10  # originating company identifier, AN 10/10
BPR11_MAX = 9  # originating company supplemental code, AN 9/9
TRN01_MAX = 2  # trace type code, ID 1/2
TRN02_MAX = 50  # check or EFT trace number, AN 1/50 → remittances.trace_number
TRN03_MAX = 10  # payer identifier (1 + EIN), AN 10/10 → remittances.payer_identifier
TRN04_MAX = 50  # originating company supplemental code, AN 1/50
CUR02_MAX = 3  # currency code, ID 3/3
N101_MAX = 3  # entity identifier code, ID 2/3
N102_MAX = 60  # payer / payee name, AN 1/60 → remittances.payer_name
N103_MAX = 2  # identification code qualifier, ID 1/2
N104_MAX = 80  # payee identification code, AN 2/80 → remittances.payee_identifier
N104_PAYER_MAX = 50  # 1000A payer identification code (AN 2/80): remittances.payer_identifier is VARCHAR(50)
N301_MAX = 55  # address lines (N301, N302), AN 1/55
N401_MAX = 30  # city, AN 2/30
N402_MAX = 2  # state or province code, ID 2/2
N403_MAX = 15  # postal code, ID 3/15
N404_MAX = 3  # country code, ID 2/3
RDM01_MAX = 2  # report transmission code, ID 1/2
RDM02_MAX = 60  # name, AN 1/60
RDM03_MAX = 256  # communication number, AN 1/256

# ---- LX, TS3, PLB → provider_adjustments ------------------------------------------------------------------

LX01_MAX = 6  # assigned number, N0 1/6
TS301_MAX = 50  # provider identifier, AN 1/50
TS302_MAX = 2  # facility type code, AN 1/2
PLB01_MAX = 50  # provider identifier, AN 1/50 → provider_adjustments.provider_identifier
PLB03_1_MAX = 2  # adjustment reason code (PLB03-1, 05-1, …), ID 2/2 → provider_adjustments.reason_code
PLB03_2_MAX = 50  # reference identification (PLB03-2, …), AN 1/50 → provider_adjustments.reference
