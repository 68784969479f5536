"""Code descriptions for EOBs: CARC categories, claim status (CLP02), place of service, RARC/CARC text.

Licensing decides what ships here:

* **CARC** (claim adjustment reason codes) and **RARC** (remittance advice remark codes) texts are
  published by X12 under licence. claimflow ships only a curated map from the common CARCs to a plain
  *category* (``"contractual"``, ``"deductible"`` …) — our own words — and loads full descriptions from
  a CSV the customer supplies under their own licence: path in ``CLAIMFLOW_CARC_FILE`` /
  ``CLAIMFLOW_RARC_FILE`` or passed to :func:`load_descriptions`. The CSV has a header row with
  ``code`` and ``description`` columns (other columns are ignored).
* **Which RARCs exist** (and the claim status category/status codes of 277s) comes from pyx12's bundled
  ``codes.xml`` when pyx12 is installed; it lists codes without descriptions.
* **CLP02 claim status codes** and **CMS place-of-service codes** are short, public lists; their plain
  descriptions ship here.

Nothing here is imported on the parse path unless an EOB is built; the CSVs and codes.xml are read
lazily, once.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import xml.etree.ElementTree as ET
from enum import StrEnum
from functools import cache
from pathlib import Path

from edi.scrub.codes import POS_CODES


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group code."""

    CONTRACTUAL = "CO"  # contractual obligation: the provider writes it off
    OTHER = "OA"  # other adjustment
    PAYER_INITIATED = "PI"  # payer initiated reduction
    PATIENT = "PR"  # patient responsibility: bill the patient
    CORRECTION = "CR"  # correction and reversal (not in 5010, seen in old files)


class CarcCategory(StrEnum):
    CONTRACTUAL = "contractual"
    DEDUCTIBLE = "deductible"
    COINSURANCE = "coinsurance"
    COPAY = "copay"
    NON_COVERED = "non-covered"
    MISSING_INFORMATION = "missing information"
    TIMELY_FILING = "timely filing"
    DUPLICATE = "duplicate"
    COORDINATION_OF_BENEFITS = "coordination of benefits"
    AUTHORIZATION = "authorization"
    MEDICAL_NECESSITY = "medical necessity"
    BUNDLING = "bundling"
    OTHER = "other"


_C = CarcCategory
_CARC_GROUPS: dict[CarcCategory, str] = {
    _C.DEDUCTIBLE: "1 66 247",
    _C.COINSURANCE: "2 248",
    _C.COPAY: "3 241",
    _C.CONTRACTUAL: "24 45 90 104 118 131 132 139 144 147 161 222 232 245 253 256 260 271 274",
    _C.NON_COVERED: (
        "26 27 32 33 35 49 51 54 55 56 96 117 119 149 157 158 159 160 165 167 170 171 172 177 179 180 200 "
        "202 204 211 212 233 238 258 269 272 273 279 B1 B7"
    ),
    _C.MISSING_INFORMATION: (
        "4 5 6 7 8 9 10 11 12 16 31 107 110 111 112 125 129 140 145 146 148 163 164 175 176 181 182 183 184 "
        "185 189 199 206 207 208 226 227 228 239 240 250 251 252 261 267 268 B12 B15"
    ),
    _C.TIMELY_FILING: "29 B4",
    _C.DUPLICATE: "18 B13",
    _C.COORDINATION_OF_BENEFITS: "19 20 21 22 23 109 136 195 215 254 270 275 276 B9 B11",
    _C.AUTHORIZATION: "15 39 61 173 174 197 198 210 242 243 B23",
    _C.MEDICAL_NECESSITY: "40 50 57 58 150 151 152 153 154 186 216 249",
    _C.BUNDLING: "59 60 97 128 190 231 234 236 B10 B14",
    _C.OTHER: "13 94 95 100 101 102 108 114 115 121 122 130 133 134 135 137 138 142 143 155 166 169 187 "
    "192 193 194 201 203 205 209 213 219 223 224 225 229 235 237 244 246 262 263 264 265 266 277 B8 B16 "
    "B20 B22",
}
CARC_CATEGORIES: dict[str, CarcCategory] = {
    code: cat for cat, codes in _CARC_GROUPS.items() for code in codes.split()
}
"""Common CARCs → plain category (claimflow's own classification, not X12's text)."""


def carc_category(reason: str) -> CarcCategory:
    """Category of a CARC (``"45"`` → contractual); codes not in the curated map are ``other``."""
    return CARC_CATEGORIES.get(reason, CarcCategory.OTHER)


CLAIM_STATUS: dict[str, str] = {
    "1": "Processed as primary",
    "2": "Processed as secondary",
    "3": "Processed as tertiary",
    "4": "Denied",
    "19": "Processed as primary, forwarded to additional payer(s)",
    "20": "Processed as secondary, forwarded to additional payer(s)",
    "21": "Processed as tertiary, forwarded to additional payer(s)",
    "22": "Reversal of previous payment",
    "23": "Not our claim, forwarded to additional payer(s)",
    "25": "Predetermination pricing only, no payment",
}
"""CLP02 claim status codes of 005010X221A1."""

PLACE_OF_SERVICE = POS_CODES  # one CMS list, kept with the scrub rules that check it
"""CMS place of service codes (public domain)."""


def claim_status_description(code: str) -> str | None:
    return CLAIM_STATUS.get(code)


def place_of_service_description(code: str) -> str | None:
    return PLACE_OF_SERVICE.get(code)


# ---- pyx12's code lists -----------------------------------------------------------------------------


def _pyx12_codes_xml() -> Path | None:
    spec = importlib.util.find_spec("pyx12")  # locating the package does not import it
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "map" / "codes.xml"
        if p.is_file():
            return p
    return None


@cache
def pyx12_code_list(codeset: str) -> frozenset[str]:
    """A code list from pyx12's ``codes.xml`` (``remark_code``, ``pos``, ``claim_status``,
    ``claim_status_cat`` …); empty when pyx12 is not installed."""
    path = _pyx12_codes_xml()
    if path is None:
        return frozenset()
    root = ET.parse(path).getroot()
    for cs in root.iter("codeset"):
        if cs.findtext("id") == codeset:
            return frozenset(c.text.strip() for c in cs.iter("code") if c.text)
    return frozenset()


def is_known_rarc(code: str) -> bool | None:
    """Whether pyx12's list has this RARC; None when the list is not available."""
    codes = pyx12_code_list("remark_code")
    return (code in codes) if codes else None


# ---- customer-supplied descriptions -----------------------------------------------------------------


def load_descriptions(path: str | os.PathLike[str]) -> dict[str, str]:
    """``code,description`` CSV (header row required; UTF-8, BOM allowed) → dict."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = {(n or "").strip().lower(): n for n in reader.fieldnames or ()}
        code_col = fields.get("code")
        desc_col = fields.get("description")
        if code_col is None or desc_col is None:
            raise ValueError(f"{os.fspath(path)}: needs 'code' and 'description' columns")
        return {
            (row[code_col] or "").strip(): (row[desc_col] or "").strip()
            for row in reader
            if (row.get(code_col) or "").strip()
        }


@cache
def _from_env(var: str) -> dict[str, str]:
    path = os.environ.get(var)
    if not path:
        return {}
    return load_descriptions(path)


def carc_description(code: str, descriptions: dict[str, str] | None = None) -> str | None:
    """Full CARC text from ``descriptions`` or the CSV at ``CLAIMFLOW_CARC_FILE``; None without a licence file."""
    table = descriptions if descriptions is not None else _from_env("CLAIMFLOW_CARC_FILE")
    return table.get(code)


def rarc_description(code: str, descriptions: dict[str, str] | None = None) -> str | None:
    """Full RARC text from ``descriptions`` or the CSV at ``CLAIMFLOW_RARC_FILE``."""
    table = descriptions if descriptions is not None else _from_env("CLAIMFLOW_RARC_FILE")
    return table.get(code)


def reset_caches() -> None:
    """Forget loaded CSVs and code lists (tests change the environment)."""
    _from_env.cache_clear()
    pyx12_code_list.cache_clear()
