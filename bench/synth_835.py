"""Deterministic synthetic 835 (005010X221A1) generator for benchmarks.

``python -m bench.synth_835 N OUT [--per-st 2000] [--seed 835]`` writes one interchange with N claim
payments, split into transaction sets of ``--per-st`` claims (one payer each), every transaction balanced
(BPR02 = ΣCLP04 − ΣPLB), every claim balanced (CLP03 − CLP04 = Σ CAS) and every line balanced
(SVC02 − SVC03 = Σ line CAS). Same N and seed → byte-identical file. Names and IDs are synthetic.

The mix is what an office practice sees: 1–4 service lines per claim, contractual write-offs, deductible,
coinsurance, copay, some denials with remark codes, a few reversals (CLP02=22) and PLB adjustments.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

CENT = Decimal("0.01")
PROCS = ["99213", "99214", "99203", "36415", "80053", "85025", "93000", "71046", "97110", "90471"]
LAST = ["SMITH", "JONES", "GARCIA", "NGUYEN", "BROWN", "MILLER", "DAVIS", "LOPEZ", "WILSON", "MOORE"]
FIRST = ["ANA", "BOB", "CARL", "DINA", "EVE", "FRED", "GINA", "HAL", "IVY", "JON"]


def _m(d: Decimal) -> str:
    """X12 decimal: no trailing zeros beyond what is needed, like real payers send."""
    s = f"{d:.2f}"
    if s.endswith(".00"):
        return s[:-3]
    if s.endswith("0") and "." in s:
        return s[:-1]
    return s


def _claim(rng: random.Random, n: int, date: str) -> tuple[list[str], Decimal]:
    """One 2100 loop with its 2110 lines; returns the segments and CLP04."""
    lines = []
    n_lines = rng.choice((1, 1, 2, 2, 2, 3, 4))
    denied = rng.random() < 0.06
    claim_charge = claim_paid = claim_pr = Decimal(0)
    for i in range(n_lines):
        charge = Decimal(rng.randrange(2000, 45000)) / 100
        segs = [f"SVC*HC:{rng.choice(PROCS)}" + (":25" if rng.random() < 0.2 else "")]
        cas: list[str] = []
        if denied:
            paid = Decimal(0)
            cas.append(f"CAS*CO*{rng.choice((16, 50, 197, 29))}*{_m(charge)}")
            pr = Decimal(0)
        else:
            allowed = (charge * Decimal(rng.randrange(45, 90)) / 100).quantize(CENT)
            contractual = charge - allowed
            ded = Decimal(0)
            if rng.random() < 0.2:
                ded = min(allowed, Decimal(rng.randrange(0, 5000)) / 100)
            coins = ((allowed - ded) * Decimal("0.2")).quantize(CENT) if rng.random() < 0.5 else Decimal(0)
            copay = Decimal(rng.choice((0, 0, 10, 20, 25)))
            copay = min(copay, allowed - ded - coins)
            pr = ded + coins + copay
            paid = allowed - pr
            if contractual:
                cas.append(f"CAS*CO*45*{_m(contractual)}")
            pr_parts = [(code, amt) for code, amt in (("1", ded), ("2", coins), ("3", copay)) if amt]
            if pr_parts:
                cas.append("CAS*PR*" + "**".join(f"{c}*{_m(a)}" for c, a in pr_parts))
        segs[0] += f"*{_m(charge)}*{_m(paid)}**1"
        segs.append(f"DTM*472*{date}")
        segs.extend(cas)
        segs.append(f"REF*6R*{n}-{i + 1}")
        if not denied:
            segs.append(f"AMT*B6*{_m(paid + pr)}")
        else:
            segs.append("LQ*HE*N130")
        lines.extend(segs)
        claim_charge += charge
        claim_paid += paid
        claim_pr += pr
    status = "4" if denied else rng.choice(("1", "1", "1", "1", "2"))
    pcn = f"PCN{n:09d}"
    head = [
        f"CLP*{pcn}*{status}*{_m(claim_charge)}*{_m(claim_paid)}*{_m(claim_pr)}*12*PAYER{n:011d}*11*1",
        f"NM1*QC*1*{rng.choice(LAST)}*{rng.choice(FIRST)}****MI*M{n:09d}",
        "NM1*82*1*WELBY*MARCUS****XX*1234567893",
    ]
    if denied:
        head.append("MOA***MA130")
    head.extend((f"DTM*050*{date}", f"DTM*232*{date}", f"DTM*233*{date}"))
    if claim_pr:
        head.append(f"AMT*AU*{_m(claim_charge - claim_pr)}")
    return head + lines, claim_paid


def segments(n_claims: int, *, per_st: int = 2000, seed: int = 835) -> Iterator[str]:
    """Yield the segments (without terminator) of one interchange."""
    rng = random.Random(seed)
    yield (
        "ISA*00*          *00*          *ZZ*PAYERSYNTH     *ZZ*CLAIMFLOW      *260115*1200*^*00501*"
        "000000835*0*P*:"
    )
    yield "GS*HP*PAYERSYNTH*CLAIMFLOW*20260115*1200*835*X*005010X221A1"
    n_st = 0
    claim_no = 0
    while claim_no < n_claims:
        n_st += 1
        count = min(per_st, n_claims - claim_no)
        body: list[str] = []
        total = Decimal(0)
        body.append("LX*1")
        for _ in range(count):
            claim_no += 1
            segs, paid = _claim(rng, claim_no, "20260102")
            body.extend(segs)
            total += paid
        plb = []
        if n_st % 3 == 0:
            wo = Decimal(rng.randrange(100, 5000)) / 100
            plb.append(f"PLB*1234567893*20261231*WO:OVP{n_st}*{_m(wo)}*L6:INT{n_st}*-1.25")
            total -= wo - Decimal("1.25")
        st = f"{n_st:04d}"
        head = [
            f"ST*835*{st}",
            f"BPR*I*{_m(total)}*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20260115",
            f"TRN*1*EFT{n_st:08d}*1512345678",
            "DTM*405*20260114",
            f"N1*PR*SYNTHETIC PAYER {n_st % 7}",
            "N3*100 MAIN ST",
            "N4*SPRINGFIELD*IL*62701",
            "REF*2U*99999",
            "PER*BL*EDI SUPPORT*TE*8005551212",
            "N1*PE*SYNTH CLINIC*XX*1234567893",
            "REF*TJ*123456789",
        ]
        all_segs = head + body + plb
        yield from all_segs
        yield f"SE*{len(all_segs) + 1}*{st}"
    yield f"GE*{n_st}*835"
    yield "IEA*1*000000835"


def write(path: Path, n_claims: int, *, per_st: int = 2000, seed: int = 835, newline: bool = False) -> int:
    """Write the file; return its size in bytes."""
    end = "~\n" if newline else "~"
    size = 0
    with open(path, "w", encoding="ascii", newline="") as f:
        buf: list[str] = []
        for seg in segments(n_claims, per_st=per_st, seed=seed):
            buf.append(seg)
            if len(buf) >= 10000:
                text = end.join(buf) + end
                f.write(text)
                size += len(text)
                buf = []
        if buf:
            text = end.join(buf) + end
            f.write(text)
            size += len(text)
    return size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claims", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-st", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=835)
    ap.add_argument("--newline", action="store_true", help="line feed after every terminator")
    a = ap.parse_args(argv)
    size = write(a.out, a.claims, per_st=a.per_st, seed=a.seed, newline=a.newline)
    print(f"{a.out}: {a.claims} claims, {size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
