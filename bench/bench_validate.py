"""Fast validator vs pyx12: throughput on a synthetic 837P, and the parity comparison at scale.

    uv run python bench/bench_validate.py                          # 100,000 claims: fast; pyx12 on 10,000
    uv run python bench/bench_validate.py --pyx12-claims 100000    # pyx12 on the full file too (minutes)
    uv run python bench/bench_validate.py --mutations 3000         # also: 3,000 seeded mutations vs pyx12

The claims come from bench_837.make_claims (deterministic), written with edi.x837.write_interchange to
bench/out/. Both engines are timed on one core from the bytes on disk to the report; MB/s is the figure
that compares across file sizes (pyx12's cost is linear in segments). The fast engine must prove the file
valid by itself (no pyx12 fallback) or the figure would be pyx12's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

OUT = Path(__file__).resolve().parent / "out"


def build_file(n: int) -> Path:
    from bench_837 import InMemoryControlNumbers, make_claims

    from edi.claim import ClaimType, InterchangeParties, Party
    from edi.x837 import write_interchange

    path = OUT / f"validate_{n}.837"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    claims = make_claims(n, ClaimType.PROFESSIONAL)
    parties = InterchangeParties("ZZ", "CLAIMFLOW", "ZZ", "CLEARINGHOUSE")
    submitter = Party("CLAIMFLOW BILLING", "CF0001", "EDI DESK", "5555550100")
    receiver = Party("CLEARINGHOUSE INC", "CH0001")
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="ascii", newline="") as fp:
        write_interchange(
            fp, claims, parties, submitter, receiver, InMemoryControlNumbers(), dt.datetime(2024, 3, 1, 9, 30)
        )
    tmp.replace(path)
    return path


def timed(engine: str, path: Path) -> tuple[float, bool, int]:
    from edi.fastvalidate import prove_valid
    from edi.validate import validate_x12

    t = time.process_time()
    if engine == "fast":
        outcome = prove_valid(path.read_bytes().decode("ascii"))
        ok, n_st = outcome.valid, outcome.transaction_sets
    else:
        report = validate_x12(path, engine="pyx12")
        ok, n_st = report.ok, report.transaction_sets
    return time.process_time() - t, ok, n_st


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--pyx12-claims", type=int, default=10_000)
    ap.add_argument("--mutations", type=int, default=0, help="seeded mutations compared with pyx12")
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()

    from edi.fastvalidate.compile import load_map

    t = time.process_time()
    load_map("x12.control.00501.xml")
    load_map("837.5010.X222.A1.xml")
    print(f"map load (pyx12 loader, once per process): {time.process_time() - t:.2f} s CPU")

    big = build_file(args.claims)
    size = big.stat().st_size
    fast_s, fast_ok, n_st = timed("fast", big)
    fast_mbs = size / 1e6 / fast_s
    print(
        f"fast  : {args.claims:,} claims, {n_st} ST, {size / 1e6:.1f} MB in {fast_s:.2f} s CPU = "
        f"{fast_mbs:.2f} MB/s, {args.claims / fast_s:,.0f} claims/s; proven valid: {fast_ok}"
    )
    small = big if args.pyx12_claims == args.claims else build_file(args.pyx12_claims)
    slow_s, slow_ok, _ = timed("pyx12", small)
    slow_mbs = small.stat().st_size / 1e6 / slow_s
    print(
        f"pyx12 : {args.pyx12_claims:,} claims, {small.stat().st_size / 1e6:.1f} MB in {slow_s:.2f} s CPU = "
        f"{slow_mbs:.2f} MB/s; valid: {slow_ok}"
    )
    print(f"speed-up: {fast_mbs / slow_mbs:.1f}x (MB/s over MB/s)")

    if args.mutations:
        from edi.fastvalidate.parity import ParityTally, compare, mutations

        tally = ParityTally()
        fixtures = Path(__file__).resolve().parent.parent / "fixtures"
        sources = sorted(fixtures.glob("837*/*.837")) + sorted(fixtures.glob("835/*.835"))
        sources = [p for p in sources if p.read_bytes().isascii() and p.read_bytes().startswith(b"ISA")]
        per = max(1, args.mutations // len(sources))
        t = time.perf_counter()
        for i, src in enumerate(sources):
            for label, data in mutations(src.read_bytes(), args.seed + i, per):
                compare(data, f"{src.name} {label}", tally)
        print(
            f"mutations: {tally.files} files in {time.perf_counter() - t:.0f} s; both valid {tally.both_valid}, "
            f"both invalid {tally.both_invalid}, fast deferred a pyx12-valid file {tally.fast_rejected_valid}, "
            f"WRONGLY VALID {len(tally.wrong_valid)} {tally.wrong_valid[:10]}"
        )
        if tally.wrong_valid:
            return 1
    return 0 if fast_ok and slow_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
