"""A deterministic synthetic practice: providers, payers, patients, subscribers, coverages and claims.

Nothing here is real PHI: names come from short fixed lists, member IDs and account numbers are made up,
NPIs are generated to pass the Luhn check with the 80840 prefix (and are not registered to anyone).
The same ``seed`` and ``as_of`` always give the same rows, so the 837 files generated from them are the
same too (apart from creation dates, times and control numbers).

A few percent of claims are deliberately flawed (``FLAWS``) so that the scrubber has work; the flaw
each one carries is recorded in ``Practice.flaws`` for tests.

Rows are plain dicts keyed by column name, ready for ``insert(table)`` executemany.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Row = dict[str, Any]

LAST_NAMES = [
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ", "MARTINEZ",
    "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON", "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN",
    "LEE", "PEREZ", "THOMPSON", "WHITE", "HARRIS", "SANCHEZ", "CLARK", "RAMIREZ", "LEWIS", "ROBINSON",
    "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "TORRES", "NGUYEN", "HILL", "FLORES",
]  # fmt: skip
FIRST_F = [
    "MARY",
    "PATRICIA",
    "JENNIFER",
    "LINDA",
    "ELIZABETH",
    "SUSAN",
    "JESSICA",
    "SARAH",
    "KAREN",
    "LISA",
    "NANCY",
    "BETTY",
    "MARGARET",
    "SANDRA",
    "ASHLEY",
    "EMILY",
    "DONNA",
    "MICHELLE",
    "CAROL",
    "AMANDA",
]
FIRST_M = [
    "JAMES",
    "ROBERT",
    "JOHN",
    "MICHAEL",
    "DAVID",
    "WILLIAM",
    "RICHARD",
    "JOSEPH",
    "THOMAS",
    "CHARLES",
    "CHRISTOPHER",
    "DANIEL",
    "MATTHEW",
    "ANTHONY",
    "MARK",
    "DONALD",
    "STEVEN",
    "PAUL",
    "ANDREW",
    "JOSHUA",
]
STREETS = [
    "MAIN ST",
    "OAK AVE",
    "PINE RD",
    "MAPLE DR",
    "CEDAR LN",
    "ELM ST",
    "LAKE VIEW DR",
    "HILL RD",
    "RIVER RD",
    "PARK AVE",
    "WASHINGTON ST",
    "SUNSET BLVD",
]
CITIES = [
    ("SPRINGFIELD", "IL", "62701"),
    ("MADISON", "WI", "53703"),
    ("COLUMBUS", "OH", "43215"),
    ("AUSTIN", "TX", "78701"),
    ("DENVER", "CO", "80202"),
    ("RALEIGH", "NC", "27601"),
    ("PORTLAND", "OR", "97201"),
    ("RICHMOND", "VA", "23219"),
]

# Billable ICD-10-CM codes (leaf codes, checked against simple_icd_10_cm in the tests).
DIAGNOSES = [
    "E119",
    "I10",
    "J069",
    "M5450",
    "Z0000",
    "R519",
    "K219",
    "F329",
    "N390",
    "J209",
    "E785",
    "Z23",
    "J45909",
    "G4733",
    "L03115",
    "M25561",
    "R1030",
    "H6690",
    "B349",
    "R051",
    "Z1231",
    "E1165",
    "I2510",
    "J0190",
    "K5900",
    "M7918",
    "N186",
    "E6601",
    "R42",
    "M1711",
]
NON_BILLABLE = ["E11", "M545", "R51", "J45"]  # categories / retired codes: a scrubbing flaw

# (code, modifiers, base charge) — CPT-format five-character tokens only; no descriptions (AMA-licensed).
# A professional claim carries at most one evaluation and management visit (new OR established patient,
# chosen by whether the practice has seen the patient before) plus ancillary services.
NEW_VISITS = [("99202", "110.00"), ("99203", "160.00"), ("99204", "245.00")]
ESTABLISHED_VISITS = [("99212", "80.00"), ("99213", "125.00"), ("99213", "125.00"), ("99214", "185.00")]
# Preventive medicine visits by age band (whole years on the date of service): new 9938x, established 9939x.
PREVENTIVE_BANDS = [
    (0, 0, "1"),
    (1, 4, "2"),
    (5, 11, "3"),
    (12, 17, "4"),
    (18, 39, "5"),
    (40, 64, "6"),
    (65, 200, "7"),
]
PREVENTIVE_FEES = {"8": "230.00", "9": "210.00"}
ANNUAL_WELLNESS = ("G0439", "175.00")  # Medicare only, at most once a year, for a patient seen before
ANCILLARY_SERVICES = [
    ("93000", (), "65.00"), ("36415", (), "18.00"), ("80053", (), "48.00"), ("85025", (), "32.00"),
    ("71046", (), "95.00"), ("97110", ("GP",), "70.00"), ("90686", (), "42.00"), ("J1100", (), "15.00"),
    ("20610", ("RT",), "140.00"), ("11102", (), "130.00"), ("81002", (), "12.00"), ("87880", ("QW",), "28.00"),
    ("96372", (), "35.00"), ("J3420", (), "22.00"), ("J1030", (), "38.00"),
]  # fmt: skip
MINOR_PROCEDURES = frozenset({"20610", "11102"})  # an E/M visit the same day carries modifier 25
MULTI_UNIT = frozenset({"97110", "96372", "J1100"})
# Synthetic NDC map for the drugs the practice administers (HCPCS J-code -> NDC 5-4-2 without hyphens, unit
# of the NDC quantity, NDC quantity per HCPCS unit). Labeler 99999 is not assigned to anyone: invented values.
NDC_BY_HCPCS: dict[str, tuple[str, str, Decimal]] = {
    "J1100": ("99999010104", "ML", Decimal("0.25")),  # 1 mg per unit from a 4 mg/mL vial
    "J3420": ("99999020101", "ML", Decimal("1")),  # up to 1,000 mcg per unit, 1,000 mcg/mL
    "J1030": ("99999030140", "ML", Decimal("1")),  # 40 mg per unit, 40 mg/mL
}
# (revenue code, procedure or None, base charge)
EMERGENCY_VISIT = ("0450", "99284", "850.00")
INSTITUTIONAL_OUTPATIENT = [
    ("0300", "80053", "110.00"), ("0320", "71046", "310.00"), ("0250", None, "45.00"),
    ("0636", "J1100", "60.00"), ("0730", "93005", "150.00"), ("0301", "85025", "70.00"),
    ("0351", "70450", "1250.00"),
]  # fmt: skip
# Room and board per day (revenue code, daily rate): every inpatient stay bills its days here.
ROOM_AND_BOARD = [("0120", "1800.00"), ("0120", "1800.00"), ("0120", "1800.00"), ("0110", "2100.00")]
INTENSIVE_CARE = ("0200", "4200.00")
INSTITUTIONAL_INPATIENT = [
    ("0250", None, "220.00"), ("0300", "80053", "110.00"), ("0360", None, "4200.00"), ("0710", None, "650.00"),
    ("0320", "71046", "310.00"), ("0636", "J1100", "60.00"),
]  # fmt: skip
# Patient's reason for visit (HI*APR) on emergency visits: symptoms, billable ICD-10-CM codes.
REASONS_FOR_VISIT = ["R1030", "R519", "R42", "R051", "R0789", "R109"]
PLACES_OF_SERVICE = ["11", "11", "11", "11", "22", "02", "21", "23", "81"]

PAYERS = [
    # payer_id, name, type, filing indicator
    ("SBX01", "ACME COMMERCIAL HEALTH", "commercial", "CI"),
    ("SBX02", "BLUE PEAK HEALTH PLAN", "commercial", "BL"),
    ("SBX03", "SANDBOX MEDICARE PART B", "medicare", "MB"),
    ("SBX04", "SANDBOX MEDICARE PART A", "medicare", "MA"),
    ("SBX05", "STATE MEDICAID SANDBOX", "medicaid", "MC"),
    ("SBX06", "PRAIRIE HMO", "commercial", "HM"),
]

FLAWS = [
    "invalid_npi",  # rendering provider NPI fails Luhn
    "non_billable_dx",
    "pointer_out_of_range",
    "charge_mismatch",
    "future_date",
    "missing_member_id",
    "bad_pos",
    "bad_modifier",
    "zero_units",
    "unsafe_text",
]


def luhn_npi(base9: str) -> str:
    """Return the 10-digit NPI for a 9-digit base: Luhn check digit over ``80840`` + base9."""
    digits = [int(c) for c in "80840" + base9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base9 + str((10 - total % 10) % 10)


@dataclass
class Practice:
    payers: list[Row] = field(default_factory=list)
    providers: list[Row] = field(default_factory=list)
    patients: list[Row] = field(default_factory=list)
    subscribers: list[Row] = field(default_factory=list)
    coverages: list[Row] = field(default_factory=list)
    claims: list[Row] = field(default_factory=list)
    claim_diagnoses: list[Row] = field(default_factory=list)
    service_lines: list[Row] = field(default_factory=list)
    claim_other_payers: list[Row] = field(default_factory=list)
    flaws: dict[int, str] = field(default_factory=dict)  # claim id -> flaw


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


class _Gen:
    def __init__(self, seed: int, as_of: dt.date) -> None:
        self.r = random.Random(seed)
        self.as_of = as_of
        self.p = Practice()
        self.claim_id = 0
        self.line_id = 0
        self.seen: dict[int, bool] = {}  # patient id -> the practice has seen the patient
        self.visit_days: set[tuple[int, dt.date]] = set()  # (patient id, day) with an E/M visit billed
        self.last_awv: dict[int, dt.date] = {}  # patient id -> last annual wellness visit

    def address(self) -> Row:
        city, state, zip5 = self.r.choice(CITIES)
        return {
            "address_line1": f"{self.r.randint(10, 9999)} {self.r.choice(STREETS)}",
            "city": city,
            "state": state,
            "postal_code": zip5 + f"{self.r.randint(1000, 9999)}",
        }

    def npi(self) -> str:
        return luhn_npi(f"1{self.r.randint(0, 99_999_999):08d}")

    def providers(self) -> None:
        p = self.p.providers
        orgs = [("SUNRISE FAMILY MEDICINE", "207Q00000X"), ("LAKESIDE ORTHOPEDIC GROUP", "207X00000X")]
        for name, tax in orgs:
            p.append(
                {
                    "entity_type": "2",
                    "role": "billing",
                    "last_name": name,
                    "first_name": None,
                    "taxonomy": tax,
                    "tax_id": f"{self.r.randint(10, 99)}{self.r.randint(1000000, 9999999)}",
                    "npi": self.npi(),
                    **self.address(),
                }
            )
        p.append(
            {
                "entity_type": "2",
                "role": "facility",
                "last_name": "RIVERBEND COMMUNITY HOSPITAL",
                "first_name": None,
                "taxonomy": "282N00000X",
                "tax_id": f"{self.r.randint(10, 99)}{self.r.randint(1000000, 9999999)}",
                "npi": self.npi(),
                **self.address(),
            }
        )
        for i in range(8):
            female = i % 2 == 0
            p.append(
                {
                    "entity_type": "1",
                    "role": "rendering",
                    "last_name": self.r.choice(LAST_NAMES),
                    "first_name": self.r.choice(FIRST_F if female else FIRST_M),
                    "taxonomy": self.r.choice(["207Q00000X", "208D00000X", "207R00000X", "363LF0000X"]),
                    "tax_id": None,
                    "npi": self.npi(),
                    "address_line1": None,
                    "city": None,
                    "state": None,
                    "postal_code": None,
                }
            )
        for _ in range(2):
            p.append(
                {
                    "entity_type": "1",
                    "role": "attending",
                    "last_name": self.r.choice(LAST_NAMES),
                    "first_name": self.r.choice(FIRST_M + FIRST_F),
                    "taxonomy": "207RH0003X",
                    "tax_id": None,
                    "npi": self.npi(),
                    "address_line1": None,
                    "city": None,
                    "state": None,
                    "postal_code": None,
                }
            )
        # One rendering provider whose NPI fails the Luhn check: claims using it must be scrubbed out.
        bad = luhn_npi("166666666")
        bad = bad[:-1] + str((int(bad[-1]) + 1) % 10)
        p.append(
            {
                "entity_type": "1",
                "role": "rendering",
                "last_name": "BADNPI",
                "first_name": "TEST",
                "taxonomy": "207Q00000X",
                "tax_id": None,
                "npi": bad,
                "address_line1": None,
                "city": None,
                "state": None,
                "postal_code": None,
            }
        )
        for i, row in enumerate(p, start=1):
            row["id"] = i

    def payers(self) -> None:
        for i, (pid, name, ptype, fi) in enumerate(PAYERS, start=1):
            self.p.payers.append(
                {
                    "id": i,
                    "payer_id": pid,
                    "name": name,
                    "payer_type": ptype,
                    "filing_indicator": fi,
                    "partner": "sandbox",
                    "address_line1": f"PO BOX {1000 + i * 17}",
                    "city": "CLAIMSVILLE",
                    "state": "TX",
                    "postal_code": "75001",
                }
            )

    def person(self, min_age: int, max_age: int) -> Row:
        gender = self.r.choice("MF")
        age_days = self.r.randint(min_age * 365, max_age * 365)
        return {
            "last_name": self.r.choice(LAST_NAMES),
            "first_name": self.r.choice(FIRST_F if gender == "F" else FIRST_M),
            "birth_date": self.as_of - dt.timedelta(days=age_days),
            "gender": gender,
            **self.address(),
        }

    def patients(self, n: int) -> None:
        pats, subs, covs = self.p.patients, self.p.subscribers, self.p.coverages
        for pid in range(1, n + 1):
            kind = self.r.random()
            if kind < 0.18:  # child on a parent's plan
                person = self.person(1, 17)
                rel = "19"
            elif kind < 0.26:  # spouse on the partner's plan
                person = self.person(25, 70)
                rel = "01"
            else:
                person = self.person(18, 90)
                rel = "18"
            pats.append(
                {
                    "id": pid,
                    "account_number": f"A{pid:07d}",
                    "middle_name": None,
                    "address_line2": None,
                    **person,
                }
            )
            if rel == "18":
                subscriber = {
                    **{
                        k: person[k]
                        for k in (
                            "last_name",
                            "first_name",
                            "birth_date",
                            "gender",
                            "address_line1",
                            "city",
                            "state",
                            "postal_code",
                        )
                    },
                    "patient_id": pid,
                }
            else:
                holder = self.person(25, 60) if rel == "01" else self.person(28, 55)
                holder["last_name"] = person["last_name"]
                subscriber = {**holder, "patient_id": None}
            subscriber["id"] = len(subs) + 1
            subs.append(subscriber)
            age = (self.as_of - person["birth_date"]).days // 365
            if age >= 65:
                primary = self.r.choice([3, 3, 4, 1])
            elif self.r.random() < 0.2:
                primary = 5
            else:
                primary = self.r.choice([1, 2, 6, 1])
            covs.append(self.coverage(pid, subscriber["id"], primary, rel, 1))
            if primary in (3, 4):  # a beneficiary has Part A and Part B: same MBI, one payer each
                covs.append({**covs[-1], "id": len(covs) + 1, "payer_id": 7 - primary})
            if self.r.random() < 0.2:
                secondary = self.r.choice([p for p in (1, 2, 5, 6) if p != primary])
                covs.append(self.coverage(pid, subscriber["id"], secondary, rel, 2))

    def coverage(self, patient_id: int, subscriber_id: int, payer: int, rel: str, priority: int) -> Row:
        prefix = {1: "ACM", 2: "BPK", 3: "", 4: "", 5: "MCD", 6: "PHM"}[payer]
        if payer in (3, 4):  # MBI-like shape: 11 characters
            member = f"{self.r.randint(1, 9)}EG{self.r.randint(0, 9)}TE{self.r.randint(0, 9)}MK{self.r.randint(10, 99)}"
        else:
            member = f"{prefix}{self.r.randint(10_000_000, 99_999_999)}"
        return {
            "id": len(self.p.coverages) + 1,
            "patient_id": patient_id,
            "subscriber_id": subscriber_id,
            "payer_id": payer,
            "member_id": member,
            "group_number": None if payer in (3, 4, 5) else f"GRP{self.r.randint(1000, 9999)}",
            "relationship_code": rel,
            "priority": priority,
            "effective_from": self.as_of - dt.timedelta(days=1000),
            "effective_to": None,
        }

    def established(self, patient_id: int) -> bool:
        """Has the practice seen the patient before? Decided once per patient (most were seen before the
        claims window); a new patient becomes established at the first visit."""
        seen = self.seen.get(patient_id)
        if seen is None:
            seen = self.seen[patient_id] = self.r.random() < 0.7
        return seen

    def professional_services(
        self, patient: Row, payer_id: int, day: dt.date
    ) -> list[tuple[str, tuple[str, ...], str]]:
        """One visit's services: at most one E/M visit a day per patient, coded by new/established status,
        age band and payer (annual wellness visits only for Medicare), plus ancillaries."""
        born = patient["birth_date"]
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        out: list[tuple[str, tuple[str, ...], str]] = []
        kind = self.r.random()
        visit: tuple[str, tuple[str, ...], str] | None = None
        if kind < 0.8 and (patient["id"], day) not in self.visit_days:
            self.visit_days.add((patient["id"], day))
            new = not self.established(patient["id"])
            self.seen[patient["id"]] = True
            if kind < 0.15:  # preventive
                last_awv = self.last_awv.get(patient["id"])
                if payer_id == 3:
                    if not new and (last_awv is None or (day - last_awv).days > 365):
                        visit = (ANNUAL_WELLNESS[0], (), ANNUAL_WELLNESS[1])
                        self.last_awv[patient["id"]] = day
                else:
                    digit = "8" if new else "9"
                    band = next(b for lo, hi, b in PREVENTIVE_BANDS if lo <= age <= hi)
                    visit = (f"993{digit}{band}", (), PREVENTIVE_FEES[digit])
            if visit is None:
                code, fee = self.r.choice(NEW_VISITS if new else ESTABLISHED_VISITS)
                visit = (code, (), fee)
        extras = [
            s
            for s in self.r.sample(ANCILLARY_SERVICES, self.r.randint(0 if visit else 1, 3))
            if s[0] != "90686" or age >= 3
        ]
        if not visit and not extras:
            extras = [ANCILLARY_SERVICES[1]]
        if any(code.startswith("J") for code, _, _ in extras) and not any(c == "96372" for c, _, _ in extras):
            extras.append(("96372", (), "35.00"))  # the injection that administered the drug
        if visit is not None:
            if visit[0][:4] in ("9920", "9921") and any(c in MINOR_PROCEDURES for c, _, _ in extras):
                visit = (visit[0], ("25",), visit[2])
            out.append(visit)
        return out + extras

    def drug(self, line: Row) -> None:
        """NDC, quantity and unit for a drug line (2410), from the practice's drug map."""
        ndc = NDC_BY_HCPCS.get(line["procedure_code"] or "")
        if ndc is not None:
            line.update(
                ndc=ndc[0], ndc_unit=ndc[1], ndc_quantity=(ndc[2] * line["units"]).quantize(Decimal("0.001"))
            )

    def claims(self, n: int) -> None:
        by_patient: dict[int, list[Row]] = {}
        for c in self.p.coverages:
            by_patient.setdefault(c["patient_id"], []).append(c)
        billing = [p for p in self.p.providers if p["role"] == "billing"]
        facility = next(p for p in self.p.providers if p["role"] == "facility")
        rendering = [p for p in self.p.providers if p["role"] == "rendering" and p["last_name"] != "BADNPI"]
        bad_npi = next(p for p in self.p.providers if p["last_name"] == "BADNPI")
        attending = [p for p in self.p.providers if p["role"] == "attending"]
        n_patients = len(self.p.patients)
        # Claims are created in date-of-service order, so "seen before" follows the calendar.
        offsets = sorted((self.r.randint(1, 150) for _ in range(n)), reverse=True)
        for offset in offsets:
            self.claim_id += 1
            cid = self.claim_id
            patient_id = self.r.randint(1, n_patients)
            institutional = self.r.random() < 0.2
            # Medicare: professional claims go to Part B (payer 3), institutional ones to Part A (payer 4).
            wrong_part = 3 if institutional else 4
            covs = sorted(
                (c for c in by_patient[patient_id] if c["payer_id"] != wrong_part),
                key=lambda c: c["priority"],
            )
            primary = covs[0]
            service_from = self.as_of - dt.timedelta(days=offset)
            flaw = FLAWS[self.r.randrange(len(FLAWS))] if self.r.random() < 0.04 else None
            n_dx = self.r.randint(1, 4)
            dx = self.r.sample(DIAGNOSES, n_dx)
            claim: Row = {
                "id": cid,
                "claim_number": f"C{cid:08d}",
                "status": "ready",
                "patient_id": patient_id,
                "coverage_id": primary["id"],
                "payer_id": primary["payer_id"],
                "responsibility": "P",
                "primary_claim_id": None,
                "frequency": "1",
                "original_payer_claim_number": None,
                "prior_authorization": f"PA{self.r.randint(100000, 999999)}"
                if self.r.random() < 0.05
                else None,
                "onset_date": None,
                "bill_type": None,
                "admission_date": None,
                "admission_hour": None,
                "admission_type": None,
                "admission_source": None,
                "patient_status": None,
                "admitting_diagnosis": None,
                "discharge_hour": None,
                "reason_for_visit": None,
                "attending_provider_id": None,
                "rendering_provider_id": None,
            }
            lines: list[Row] = []
            if institutional:
                inpatient = self.r.random() < 0.3
                claim.update(
                    claim_type="institutional",
                    billing_provider_id=facility["id"],
                    attending_provider_id=self.r.choice(attending)["id"],
                    place_of_service="21" if inpatient else "22",
                    bill_type="111" if inpatient else "131",
                )
                picks: list[tuple[str, str | None, str, str, Decimal]] = []  # rev, proc, basis, rate, units
                if inpatient:
                    stay = self.r.randint(1, 5)
                    service_from = min(service_from, self.as_of - dt.timedelta(days=stay + 1))
                    claim.update(
                        admission_date=service_from,
                        admission_hour=self.r.choice(["08", "1130", "1745"]),
                        admitting_diagnosis=dx[0],
                        admission_type=self.r.choice("123"),
                        admission_source=self.r.choice("17"),
                        patient_status="01",
                        discharge_hour=self.r.choice(["10", "1100", "1315", "1600"]),
                        service_date_to=service_from + dt.timedelta(days=stay),
                    )
                    # Room and board per day: the days of the stay (discharge day not counted), some in ICU.
                    rev, rate = self.r.choice(ROOM_AND_BOARD)
                    icu = 1 if stay > 1 and self.r.random() < 0.25 else 0
                    if icu:
                        picks.append((INTENSIVE_CARE[0], None, "DA", INTENSIVE_CARE[1], Decimal(icu)))
                    picks.append((rev, None, "DA", rate, Decimal(stay - icu)))
                    for rev, proc, base in self.r.sample(INSTITUTIONAL_INPATIENT, self.r.randint(1, 3)):
                        picks.append((rev, proc, "UN", base, Decimal(1)))
                else:
                    claim.update(patient_status="01", service_date_to=service_from, admission_source="1")
                    emergency = self.r.random() < 0.5
                    if emergency:  # unscheduled: priority of visit and the patient's reason for visit
                        claim.update(
                            admission_type=self.r.choice("1112"),
                            reason_for_visit=self.r.choice(REASONS_FOR_VISIT),
                        )
                        picks.append((*EMERGENCY_VISIT[:2], "UN", EMERGENCY_VISIT[2], Decimal(1)))
                    else:
                        claim.update(admission_type="3")  # elective: scheduled tests and imaging
                    for rev, proc, base in self.r.sample(
                        INSTITUTIONAL_OUTPATIENT, self.r.randint(0 if emergency else 1, 3)
                    ):
                        picks.append((rev, proc, "UN", base, Decimal(1)))
                for rev, proc, basis, base, units in picks:
                    charge = _money(Decimal(base) * units * Decimal(self.r.randint(90, 115)) / 100)
                    lines.append(
                        {
                            "revenue_code": rev,
                            "procedure_code": proc,
                            "modifiers": None,
                            "unit_basis": basis,
                            "units": units,
                            "charge": charge,
                            "diagnosis_pointers": "1",
                        }
                    )
            else:
                claim.update(
                    claim_type="professional",
                    billing_provider_id=self.r.choice(billing)["id"],
                    rendering_provider_id=self.r.choice(rendering)["id"],
                    place_of_service=self.r.choice(PLACES_OF_SERVICE),
                    service_date_to=service_from,
                )
                services = self.professional_services(
                    self.p.patients[patient_id - 1], primary["payer_id"], service_from
                )
                for code, mods, base in services:
                    units = Decimal(self.r.choice([1, 1, 1, 2])) if code in MULTI_UNIT else Decimal(1)
                    charge = _money(Decimal(base) * units)
                    pointers = ",".join(
                        str(i) for i in sorted(self.r.sample(range(1, n_dx + 1), self.r.randint(1, n_dx)))
                    )
                    lines.append(
                        {
                            "revenue_code": None,
                            "procedure_code": code,
                            "modifiers": ":".join(mods) or None,
                            "unit_basis": "UN",
                            "units": units,
                            "charge": charge,
                            "diagnosis_pointers": pointers,
                        }
                    )
            claim["service_date_from"] = service_from
            for i, line in enumerate(lines, start=1):
                self.line_id += 1
                line_id = self.line_id
                line.update(
                    id=line_id,
                    claim_id=cid,
                    line_number=i,
                    line_control_number=f"L{line_id:09d}",
                    service_date=service_from,
                    place_of_service=None,
                    ndc=None,
                    ndc_quantity=None,
                    ndc_unit=None,
                )
                self.drug(line)
            claim["total_charge"] = sum((ln["charge"] for ln in lines), Decimal("0.00"))
            if flaw:
                self.apply_flaw(flaw, claim, lines, dx, bad_npi)
                self.p.flaws[cid] = flaw
            self.p.claims.append(claim)
            self.p.service_lines.extend(lines)
            self.p.claim_diagnoses.extend(
                {"claim_id": cid, "sequence": i, "code": code} for i, code in enumerate(dx, start=1)
            )
            # A secondary claim now and then: the primary already paid (on paper, before claimflow).
            if flaw is None and len(covs) > 1 and self.r.random() < 0.25 and not institutional:
                self.secondary(claim, lines, dx, covs[1], primary)

    def secondary(
        self, primary_claim: Row, lines: list[Row], dx: list[str], cov: Row, primary_cov: Row
    ) -> None:
        # Bill the secondary payer for the same services, with the primary's adjudication in loop 2320.
        primary_claim["status"] = "closed"  # paid before claimflow; only the secondary is billed
        self.claim_id += 1
        cid = self.claim_id
        total = primary_claim["total_charge"]
        paid = _money(total * Decimal("0.62"))
        contractual = _money(total * Decimal("0.18"))
        pr = total - paid - contractual
        claim = {
            **primary_claim,
            "id": cid,
            "claim_number": f"S{primary_claim['id']:08d}",
            "status": "ready",
            "coverage_id": cov["id"],
            "payer_id": cov["payer_id"],
            "responsibility": "S",
            "primary_claim_id": primary_claim["id"],
        }
        self.p.claims.append(claim)
        for ln in lines:
            self.line_id += 1
            self.p.service_lines.append(
                {
                    **ln,
                    "id": self.line_id,
                    "claim_id": cid,
                    "line_control_number": f"S{ln['line_control_number'][1:]}",
                }
            )
        self.p.claim_diagnoses.extend(
            {"claim_id": cid, "sequence": i, "code": code} for i, code in enumerate(dx, start=1)
        )
        self.p.claim_other_payers.append(
            {
                "claim_id": cid,
                "coverage_id": primary_cov["id"],
                "responsibility": "P",
                "paid": paid,
                "adjudication_date": primary_claim["service_date_from"] + dt.timedelta(days=14),
                "adjustments": [["CO", "45", str(contractual)], ["PR", "2", str(pr)]],
            }
        )

    def apply_flaw(self, flaw: str, claim: Row, lines: list[Row], dx: list[str], bad_npi: Row) -> None:
        institutional = claim["claim_type"] == "institutional"
        if institutional and flaw == "bad_pos":  # 837I has no place of service: break the bill type
            claim["bill_type"] = "1X1"
            return
        if institutional and flaw == "pointer_out_of_range":  # nor diagnosis pointers: break a revenue code
            lines[0]["revenue_code"] = "45"
            return
        if flaw == "invalid_npi":
            if claim["claim_type"] == "professional":
                claim["rendering_provider_id"] = bad_npi["id"]
            else:
                claim["attending_provider_id"] = bad_npi["id"]
        elif flaw == "non_billable_dx":
            dx[0] = self.r.choice(NON_BILLABLE)
        elif flaw == "pointer_out_of_range":
            lines[0]["diagnosis_pointers"] = str(len(dx) + 1)
        elif flaw == "charge_mismatch":
            lines[0]["charge"] = lines[0]["charge"] + Decimal("10.00")  # total no longer adds up
        elif flaw == "future_date":
            future = self.as_of + dt.timedelta(days=self.r.randint(3, 30))
            claim["service_date_from"] = claim["service_date_to"] = future
            for ln in lines:
                ln["service_date"] = future
        elif flaw == "missing_member_id":
            claim["flaw_missing_member_id"] = True  # applied to the coverage copy in _finish
        elif flaw == "bad_pos":
            claim["place_of_service"] = "00"
        elif flaw == "bad_modifier":
            lines[0]["modifiers"] = "2@"
        elif flaw == "zero_units":
            lines[0]["units"] = Decimal(0)
        elif flaw == "unsafe_text":
            claim["prior_authorization"] = "PA*12~3"

    def finish(self) -> None:
        # A missing member ID lives on the coverage: give such claims their own broken coverage row.
        for claim in self.p.claims:
            if claim.pop("flaw_missing_member_id", False):
                src = next(c for c in self.p.coverages if c["id"] == claim["coverage_id"])
                broken = {**src, "id": len(self.p.coverages) + 1, "member_id": "", "priority": 9}
                self.p.coverages.append(broken)
                claim["coverage_id"] = broken["id"]
        self.p.claims.sort(key=lambda c: c["id"])


def generate_practice(patients: int, claims: int, seed: int, as_of: dt.date) -> Practice:
    """Build the whole synthetic practice in memory. ~5,000 claims take well under a second."""
    if patients < 1 or claims < 0:
        raise ValueError("need at least one patient and a non-negative number of claims")
    g = _Gen(seed, as_of)
    g.payers()
    g.providers()
    g.patients(patients)
    g.claims(claims)
    g.finish()
    return g.p
