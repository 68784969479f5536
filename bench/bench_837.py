"""837 build + serialize throughput: claims per second on one core, and peak memory.

    uv run python bench/bench_837.py                        # 100,000 professional claims, in memory
    uv run python bench/bench_837.py --type I               # institutional
    uv run python bench/bench_837.py --stream /dev/null     # write_interchange, one ST in memory at a time
    uv run python bench/bench_837.py --claims 20000 --validate   # also run pyx12 on the result (slow)

The claims are synthetic (deterministic for a seed) and shaped like an office practice's day: 1-4 lines,
modifiers on a third of the visits, one patient in five a dependant, one claim in eight secondary with
line adjudication, one in twenty a replacement; 25 billing providers, 8 payers. Generating them is not
timed; building, HL numbering, ST splitting, envelopes and joining the text are. Target: 50,000 claims/s.
Peak RSS (``resource.getrusage``) includes the claim objects themselves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edi import claim as ec
from edi.control_numbers import InMemoryControlNumbers
from edi.x837 import build_interchange, write_interchange
from tests.support.claims import make_npi

LAST = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
]
FIRST = [
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
    "THOMAS",
    "SARAH",
    "CHARLES",
    "KAREN",
]
STREETS = ["MAIN ST", "OAK AVE", "MAPLE DR", "CEDAR LN", "ELM ST", "PINE RD", "LAKE SHORE DR", "HILLTOP WAY"]
CITIES = [
    ("SPRINGFIELD", "IL", "62701"),
    ("PEORIA", "IL", "61602"),
    ("DECATUR", "IL", "62521"),
    ("CHAMPAIGN", "IL", "61820"),
    ("URBANA", "IL", "61801"),
    ("BLOOMINGTON", "IL", "61701"),
]
DX = ["E119", "I10", "E785", "J069", "M5450", "Z0000", "K219", "F419", "N390", "R0789", "E039", "J449"]
PROF = [
    ("99213", Decimal("125")),
    ("99214", Decimal("185")),
    ("99203", Decimal("160")),
    ("36415", Decimal("20.50")),
    ("80053", Decimal("48")),
    ("85025", Decimal("32")),
    ("93000", Decimal("65")),
    ("97110", Decimal("90")),
    ("90471", Decimal("25")),
    ("G0439", Decimal("210")),
]
INST = [
    ("0450", "99284", Decimal("1250")),
    ("0300", "85025", Decimal("80")),
    ("0320", "71046", Decimal("200")),
    ("0250", None, Decimal("45.25")),
    ("0636", "J1100", Decimal("30")),
    ("0730", "93000", Decimal("150")),
]
TAXONOMIES = ["207Q00000X", "207R00000X", "208D00000X", "207P00000X", "208000000X"]


def npi(base9: int) -> str:
    return make_npi(f"{base9:09d}")


def addr(rng: random.Random) -> ec.Address:
    city, st, z = rng.choice(CITIES)
    return ec.Address(f"{rng.randint(1, 9999)} {rng.choice(STREETS)}", city, st, z)


def make_claims(n: int, claim_type: ec.ClaimType, seed: int = 837) -> list[ec.Claim]:
    rng = random.Random(seed)
    payers = [
        ec.Payer(
            f"{60000 + i}",
            f"PAYER {i} HEALTH PLAN",
            rng.choice(list(ec.ClaimFilingIndicator)),
            addr(rng) if i % 2 else None,
        )
        for i in range(8)
    ]
    billing = [
        ec.Provider(
            npi(150000000 + i),
            f"CLINIC {i} MEDICAL GROUP",
            "2",
            taxonomy=rng.choice(TAXONOMIES),
            tax_id=f"{370000000 + i}",
            address=ec.Address(f"{100 + i} MAIN ST", "SPRINGFIELD", "IL", f"62701{i:04d}"),
        )
        for i in range(25)
    ]
    docs = [
        ec.Provider(
            npi(160000000 + i),
            rng.choice(LAST),
            "1",
            first_name=rng.choice(FIRST),
            taxonomy=rng.choice(TAXONOMIES),
        )
        for i in range(60)
    ]
    svc = dt.date(2024, 2, 1)
    out: list[ec.Claim] = []
    for k in range(n):
        sub_person = ec.Person(
            rng.choice(LAST),
            rng.choice(FIRST),
            dt.date(1950 + k % 50, 1 + k % 12, 1 + k % 28),
            "MF"[k % 2],
            addr(rng),
            middle_name="A" if k % 3 == 0 else None,
        )
        sub = ec.Subscriber(f"W{100000000 + k}", sub_person, group_number=f"GRP{k % 40:03d}")
        dependant = k % 5 == 4
        patient = (
            ec.Person(
                sub_person.last_name,
                rng.choice(FIRST),
                dt.date(2010 + k % 10, 1 + k % 12, 1 + k % 28),
                "FM"[k % 2],
                sub_person.address,
            )
            if dependant
            else None
        )
        dx = rng.sample(DX, rng.randint(1, 4))
        date = svc + dt.timedelta(days=k % 25)
        lines: list[ec.ServiceLine] = []
        if claim_type == ec.ClaimType.PROFESSIONAL:
            for i in range(rng.randint(1, 4)):
                code, charge = rng.choice(PROF)
                lines.append(
                    ec.ServiceLine(
                        i + 1,
                        charge,
                        Decimal(1),
                        date,
                        procedure_code=code,
                        modifiers=("25",) if i == 0 and k % 3 == 0 else (),
                        diagnosis_pointers=tuple(range(1, min(len(dx), 3) + 1)),
                        line_control_number=f"{k}-{i + 1}",
                    )
                )
        else:
            for i in range(rng.randint(1, 4)):
                rev, code, charge = rng.choice(INST)
                lines.append(
                    ec.ServiceLine(
                        i + 1,
                        charge,
                        Decimal(1 + i % 2),
                        date,
                        procedure_code=code,
                        revenue_code=rev,
                        line_control_number=f"{k}-{i + 1}",
                    )
                )
        total = sum((ln.charge for ln in lines), Decimal(0))
        c = ec.Claim(
            claim_id=k + 1,
            claim_type=claim_type,
            patient_control_number=f"C{k + 1:09d}A1",
            total_charge=total,
            billing_provider=billing[k % 25],
            payer=payers[k % 8],
            subscriber=sub,
            diagnoses=dx,
            lines=lines,
            patient=patient,
            relationship=ec.Relationship.CHILD if dependant else ec.Relationship.SELF,
            rendering_provider=docs[k % 60] if claim_type == ec.ClaimType.PROFESSIONAL else None,
            attending_provider=docs[k % 60] if claim_type == ec.ClaimType.INSTITUTIONAL else None,
            prior_authorization=f"AUTH{k}" if k % 7 == 0 else None,
        )
        if claim_type == ec.ClaimType.INSTITUTIONAL:
            c.bill_type, c.statement_from, c.statement_to = "131", date, date
            c.admission_type, c.admission_source, c.patient_status = "1", "7", "01"
        if k % 20 == 19:
            c.frequency = ec.ClaimFrequency.REPLACEMENT
            c.payer_claim_control_number = f"ICN{k:012d}"
            if c.bill_type:
                c.bill_type = "137"
        if k % 8 == 7:
            prim = payers[(k + 1) % 8]
            c.responsibility = ec.PayerResponsibility.SECONDARY
            for ln in lines:
                paid = (ln.charge * Decimal("0.6")).quantize(Decimal("0.01"))
                ln.other_payer = ec.OtherPayerLine(
                    paid, (("CO", "45", ln.charge - paid),), date + dt.timedelta(days=20)
                )
            c.other_coverages = [
                ec.OtherCoverage(
                    prim,
                    sub,
                    ec.PayerResponsibility.PRIMARY,
                    paid=sum((ln.other_payer.paid for ln in lines if ln.other_payer), Decimal(0)),
                    adjudication_date=date + dt.timedelta(days=20),
                )
            ]
        out.append(c)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--type", choices=["P", "I"], default="P")
    ap.add_argument("--per-st", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    ap.add_argument(
        "--stream", metavar="PATH", help="write_interchange to PATH instead of building in memory"
    )
    ap.add_argument("--validate", action="store_true", help="validate the result with pyx12 (slow)")
    args = ap.parse_args()

    ctype = ec.ClaimType.PROFESSIONAL if args.type == "P" else ec.ClaimType.INSTITUTIONAL
    t0 = time.perf_counter()
    claims = make_claims(args.claims, ctype)
    gen_s = time.perf_counter() - t0
    rss_claims = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parties = ec.InterchangeParties("ZZ", "CLAIMFLOW", "ZZ", "CLEARINGHOUSE")
    submitter = ec.Party("CLAIMFLOW BILLING", "CF0001", "EDI DESK", "5555550100")
    receiver = ec.Party("CLEARINGHOUSE INC", "CH0001")
    created = dt.datetime(2024, 3, 1, 9, 30)

    best = best_cpu = float("inf")
    size = 0
    text = ""
    for _ in range(args.repeat):
        gc.collect()
        control = InMemoryControlNumbers()
        t = time.perf_counter()
        c = time.process_time()
        if args.stream:
            with open(args.stream, "w", encoding="ascii", newline="") as fp:
                m = write_interchange(
                    fp, claims, parties, submitter, receiver, control, created, max_claims_per_st=args.per_st
                )
            size = Path(args.stream).stat().st_size if args.stream != "/dev/null" else 0
            n_st = len(m.transactions)
        else:
            built = build_interchange(
                claims, parties, submitter, receiver, control, created, max_claims_per_st=args.per_st
            )
            text = built.text
            size = len(text)
            n_st = len(built.transactions)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
        if not args.validate:
            text = ""
            built = None  # type: ignore[assignment]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kind = "837P" if ctype == ec.ClaimType.PROFESSIONAL else "837I"
    mode = f"stream -> {args.stream}" if args.stream else "in memory"
    print(f"{kind} {mode}: {args.claims:,} claims in {n_st} transaction sets, {size / 1e6:.1f} MB of X12")
    print(
        f"  build+serialize: {best:.3f} s wall = {args.claims / best:,.0f} claims/s; "
        f"{best_cpu:.3f} s CPU = {args.claims / best_cpu:,.0f} claims/s (single core, best of {args.repeat})"
    )
    print(
        f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time suffers on a busy machine)"
    )
    print(
        f"  peak RSS: {peak / 1024:.0f} MiB (after generating claims: {rss_claims / 1024:.0f} MiB; "
        f"generation took {gen_s:.1f} s, not timed)"
    )
    if args.validate and text:
        from edi.validate import format_report, validate_x12

        t = time.perf_counter()
        report = validate_x12(text.encode("ascii"))
        print(f"  pyx12: {'valid' if report.ok else 'INVALID'} in {time.perf_counter() - t:.1f} s")
        for line in format_report(report, "bench")[:20]:
            print("   ", line)
        return 0 if report.ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
