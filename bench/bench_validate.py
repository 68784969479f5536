"""Fast validator vs pyx12: throughput on a synthetic 837P, and the parity comparison at scale.

    uv run python bench/bench_validate.py                          # 100,000 claims: fast; pyx12 on 10,000
    uv run python bench/bench_validate.py --pyx12-claims 100000    # pyx12 on the full file too (minutes)
    uv run python bench/bench_validate.py --mutations 3000         # also: 3,000 seeded mutations vs pyx12
    uv run python bench/bench_validate.py --invalid-files 0        # skip the invalid-file throughput

The claims come from bench_837.make_claims (deterministic), written with edi.x837.write_interchange to
bench/out/. Both engines are timed on one core from the bytes on disk to the report; MB/s is the figure
that compares across file sizes (pyx12's cost is linear in segments). The fast engine must prove the file
valid by itself (no pyx12 fallback) or the figure would be pyx12's.

Invalid files: ``--invalid-files`` seeded single mutations of the ``--pyx12-claims`` file (a deleted,
duplicated or swapped segment, a garbled element, ...), each validated end to end by
``validate_x12(engine="fast")`` (its report, or pyx12's when it defers) and by pyx12 (the first
``--invalid-pyx12`` of them: pyx12's cost does not depend on the errors). Both reports must agree on the
verdict and the error locations.
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
    ap.add_argument("--invalid-files", type=int, default=4, help="mutated (invalid) files timed")
    ap.add_argument("--invalid-pyx12", type=int, default=2, help="of which also timed with pyx12")
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
    bad = invalid_throughput(small, args) if args.invalid_files else True

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
            f"both invalid {tally.both_invalid} ({tally.invalid_reported_fast} reported by the fast engine, "
            f"{tally.invalid_deferred} deferred: {tally.defer_reasons}), fast deferred a pyx12-valid file "
            f"{tally.fast_rejected_valid}; WRONGLY VALID {len(tally.wrong_valid)} {tally.wrong_valid[:10]}, "
            f"WRONG VERDICT {len(tally.wrong_verdict)} {tally.wrong_verdict[:10]}, "
            f"LOCATIONS DIFFER {len(tally.location_mismatch)} {tally.location_mismatch[:10]}"
        )
        if tally.wrong_valid or tally.wrong_verdict or tally.location_mismatch:
            return 1
    return 0 if fast_ok and slow_ok and bad else 1


def invalid_throughput(path: Path, args: argparse.Namespace) -> bool:
    """Time both engines on mutated copies of ``path``; True when their reports agree."""
    from edi.fastvalidate.parity import error_keys, mutations
    from edi.validate import validate_x12

    files = []
    for label, data in mutations(path.read_bytes(), args.seed, args.invalid_files * 3):
        if len(files) == args.invalid_files:
            break
        if label.split("(")[1].startswith(("element", "delete", "duplicate", "add", "drop_tail")):
            files.append((label, data))
    fast_s = slow_s = 0.0
    fast_mb = slow_mb = 0.0
    reported = 0
    agree = True
    for i, (label, data) in enumerate(files):
        t = time.process_time()
        fast = validate_x12(data, engine="fast")
        fast_s += time.process_time() - t
        fast_mb += len(data) / 1e6
        reported += fast.engine == "fast"
        if i < args.invalid_pyx12:
            t = time.process_time()
            slow = validate_x12(data, engine="pyx12")
            slow_s += time.process_time() - t
            slow_mb += len(data) / 1e6
            same = fast.ok == slow.ok and error_keys(fast.errors) == error_keys(slow.errors)
            agree &= same
            print(
                f"  {label}: {len(slow.errors)} pyx12 errors, fast engine={fast.engine}, same report: {same}"
            )
    print(
        f"invalid: {len(files)} mutated files of {args.pyx12_claims:,} claims; fast {fast_mb:.1f} MB in "
        f"{fast_s:.2f} s CPU = {fast_mb / fast_s:.2f} MB/s ({reported} reported by the fast engine, "
        f"{len(files) - reported} deferred to pyx12)"
    )
    if slow_s:
        print(
            f"invalid: pyx12 {slow_mb:.1f} MB in {slow_s:.2f} s CPU = {slow_mb / slow_s:.2f} MB/s; "
            f"speed-up {(fast_mb / fast_s) / (slow_mb / slow_s):.1f}x"
        )
    return agree


if __name__ == "__main__":
    raise SystemExit(main())
