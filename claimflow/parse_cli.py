"""``claimflow parse FILE [--summary]``: read an inbound TA1/999/277CA/835 file and print JSON.

Without ``--summary``: one JSON object per line — per claim payment (835, as an EOB), per claim status
and per batch/provider status (277CA), per transaction set acknowledgment (999) or per TA1. With ``--summary``: exactly one JSON
object with counts and totals. Amounts are strings with two decimals; dates are ISO strings. Field
reference: ``docs/PARSE_OUTPUT.md``.

Exit status: 0 when the file was read (balanced or not), 2 when it is malformed, unsupported or cannot
be opened — with exactly one line on stderr (the :class:`~edi.errors.X12ParseError` line), never a
traceback. Patient names, member IDs and 999 bad-data copies are left out of the output (PHI).

This module is the fast path of the CLI: it imports only the standard library, ``edi``, ``parsers`` and
``eob`` — no SQLAlchemy, pandas, pydantic or Airflow — and works as ``python -m claimflow.parse_cli``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, TextIO

from edi.errors import X12ParseError

ZERO = Decimal(0)


def _money(d: Decimal) -> str:
    if d.as_tuple().exponent >= -2:  # type: ignore[operator]
        return f"{d:.2f}"
    return str(d)


def _json_default(o: object) -> object:
    if isinstance(o, Decimal):
        return _money(o)
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def _adj(a: Any) -> dict[str, Any]:
    q = a.quantity
    return {
        "group": a.group,
        "reason": a.reason,
        "amount": a.amount,
        "quantity": None if q is None else str(q),
    }


# ---- one object per record ----------------------------------------------------------------------------


def _eob_json(e: Any) -> dict[str, Any]:
    return {
        "type": "claim_payment",
        "file_sha256": e.file_sha256,
        "isa13": e.isa13,
        "gs06": e.gs06,
        "st02": e.st02,
        "segment_no": e.segment_no,
        "payer_name": e.payer_name,
        "payer_id": e.payer_id,
        "payee_id": e.payee_id,
        "trace_number": e.trace_number,
        "payment_method": e.payment_method,
        "handling_code": e.handling_code,
        "payment_date": e.payment_date,
        "patient_control_number": e.patient_control_number,
        "payer_claim_control_number": e.payer_claim_control_number,
        "original_reference_number": e.original_reference_number,
        "claim_status": e.claim_status,
        "reversal": e.reversal,
        "filing_indicator": e.filing_indicator,
        "statement_from": e.statement_from,
        "statement_to": e.statement_to,
        "charge": e.charge,
        "paid": e.paid,
        "patient_responsibility": e.patient_responsibility,
        "deductible": e.deductible,
        "coinsurance": e.coinsurance,
        "copay": e.copay,
        "other_patient_responsibility": e.other_patient_responsibility,
        "contractual": e.contractual,
        "other_adjustments": e.other_adjustments,
        "payer_initiated": e.payer_initiated,
        "corrections": e.corrections,
        "adjustments": [_adj(a) for a in e.adjustments],
        "carc_codes": list(e.carc_codes),
        "rarc_codes": list(e.rarc_codes),
        "lines": [
            {
                "segment_no": ln.segment_no,
                "control_number": ln.control_number,
                "procedure_qualifier": ln.procedure_qualifier,
                "procedure_code": ln.procedure_code,
                "modifiers": list(ln.modifiers),
                "revenue_code": ln.revenue_code,
                "service_date_from": ln.service_date_from,
                "service_date_to": ln.service_date_to,
                "units": None if ln.units is None else str(ln.units),
                "charge": ln.charge,
                "allowed": ln.allowed,
                "paid": ln.paid,
                "patient_responsibility": ln.patient_responsibility,
                "deductible": ln.deductible,
                "coinsurance": ln.coinsurance,
                "copay": ln.copay,
                "other_patient_responsibility": ln.other_patient_responsibility,
                "contractual": ln.contractual,
                "other_adjustments": ln.other_adjustments,
                "payer_initiated": ln.payer_initiated,
                "corrections": ln.corrections,
                "adjustments": [_adj(a) for a in ln.adjustments],
                "carc_codes": list(ln.carc_codes),
                "rarc_codes": list(ln.rarc_codes),
            }
            for ln in e.lines
        ],
    }


def _status(s: Any) -> dict[str, str]:
    return {"element": s.element, "category": s.category, "code": s.code, "entity": s.entity}


def _claim_status_json(c: Any) -> dict[str, Any]:
    return {
        "type": "claim_status",
        "file_sha256": c.file_sha256,
        "isa13": c.isa13,
        "gs06": c.gs06,
        "st02": c.st02,
        "segment_no": c.segment_no,
        "patient_control_number": c.patient_control_number,
        "payer_claim_control_number": c.payer_claim_control_number,
        "clearinghouse_trace": c.clearinghouse_trace,
        "batch_trace": c.batch_trace,
        "category": c.category,
        "status_code": c.status_code,
        "accepted": c.accepted,
        "status_date": c.status_date,
        "action_code": c.action_code,
        "charge": c.charge,
        "service_date_from": c.service_date_from,
        "service_date_to": c.service_date_to,
        "statuses": [_status(s) for s in c.statuses],
        "lines": [
            {
                "segment_no": ln.segment_no,
                "control_number": ln.control_number,
                "procedure_code": ln.procedure_code,
                "charge": ln.charge,
                "statuses": [_status(s) for s in ln.statuses],
                "accepted": ln.accepted,
            }
            for ln in c.lines
        ],
    }


def _qty(q: Decimal | None) -> str | None:
    return None if q is None else str(q)


def _level_status_json(lv: Any) -> dict[str, Any]:
    """A 2200B (batch) or 2200C (billing provider) status: what it covers and its verdict."""
    first = lv.statuses[0] if lv.statuses else None
    return {
        "type": "level_status",
        "file_sha256": lv.file_sha256,
        "isa13": lv.isa13,
        "gs06": lv.gs06,
        "st02": lv.st02,
        "segment_no": lv.segment_no,
        "level": lv.level,
        "loop": lv.loop,
        "trace_number": lv.trace_number,
        "batch_trace": lv.batch_trace,
        "provider_id_qualifier": lv.provider_id_qualifier,
        "provider_id": lv.provider_id,
        "category": first.category if first else "",
        "status_code": first.code if first else "",
        "accepted": lv.accepted,
        "action_code": lv.action_code,
        "status_date": lv.status_date,
        "accepted_quantity": _qty(lv.accepted_quantity),
        "rejected_quantity": _qty(lv.rejected_quantity),
        "accepted_amount": lv.accepted_amount,
        "rejected_amount": lv.rejected_amount,
        "statuses": [_status(s) for s in lv.statuses],
    }


def _set_ack_json(a: Any, group_status: str) -> dict[str, Any]:
    from parsers.x999_005010x231a1 import set_accepted

    return {
        "type": "transaction_set_ack",
        "file_sha256": a.file_sha256,
        "isa13": a.isa13,
        "gs06": a.gs06,
        "st02": a.st02,
        "segment_no": a.segment_no,
        "group_control_number": a.group_control_number,
        "set_id": a.set_id,
        "set_control_number": a.set_control_number,
        "implementation_reference": a.implementation_reference,
        "status": a.status,
        "accepted": set_accepted(a.status, group_status),
        "ik5_accepted": a.accepted,
        "group_status": group_status,
        "syntax_errors": list(a.syntax_errors),
        "errors": [
            {
                "segment_id": err.segment_id,
                "position": err.position,
                "loop_id": err.loop_id,
                "error_code": err.error_code,
                "patient_control_number": err.patient_control_number,
                "elements": [
                    {
                        "position": ee.position,
                        "component_position": ee.component_position,
                        "repetition_position": ee.repetition_position,
                        "data_element_reference": ee.data_element_reference,
                        "error_code": ee.error_code,
                    }
                    for ee in err.elements
                ],
            }
            for err in a.errors
        ],
    }


def _ta1_json(t: Any) -> dict[str, Any]:
    return {
        "type": "interchange_ack",
        "file_sha256": t.file_sha256,
        "isa13": t.isa13,
        "segment_no": t.segment_no,
        "control_number": t.control_number,
        "interchange_date": t.interchange_date,
        "interchange_time": t.interchange_time,
        "ack_code": t.ack_code,
        "note_code": t.note_code,
        "accepted": t.accepted,
    }


def _eligibility_json(e: Any) -> dict[str, Any]:
    """A 271 subscriber/dependent loop; the member's name and id are PHI and left out."""
    return {
        "type": "eligibility",
        "file_sha256": e.file_sha256,
        "isa13": e.isa13,
        "gs06": e.gs06,
        "st02": e.st02,
        "segment_no": e.segment_no,
        "level": e.level,
        "trace_number": e.trace_number,
        "payer_id": e.payer.id if e.payer else None,
        "provider_id": e.provider.id if e.provider else None,
        "active": e.active,
        "coverage_from": e.coverage_from,
        "coverage_to": e.coverage_to,
        "plan": e.plan,
        "deductible_remaining": e.deductible_remaining,
        "out_of_pocket_remaining": e.out_of_pocket_remaining,
        "copay": e.copay,
        "coinsurance": None if e.coinsurance is None else str(e.coinsurance),
        "benefits": [
            {
                "info": b.info,
                "coverage_level": b.coverage_level,
                "service_types": list(b.service_types),
                "insurance_type": b.insurance_type,
                "plan": b.plan,
                "time_period": b.time_period,
                "amount": b.amount,
                "percent": None if b.percent is None else str(b.percent),
                "in_network": b.in_network,
            }
            for b in e.benefits
        ],
        "rejections": [
            {"loop": a.loop, "valid_request": a.valid_request, "reason": a.reason, "follow_up": a.follow_up}
            for a in e.rejections
        ],
    }


def _objects(kind: str, records: Iterable[Any]) -> Iterator[dict[str, Any]]:
    from parsers import records as r

    if kind == "835":
        from eob.records import build_eob

        remit = None
        for rec in records:
            t = type(rec)
            if t is r.ClaimPayment:
                yield _eob_json(build_eob(remit, rec))  # type: ignore[arg-type]
            elif t is r.Remittance:
                remit = rec
            elif t is r.InterchangeAck:
                yield _ta1_json(rec)
        return
    group: list[Any] = []  # a 999 group's set acks wait for its AK9, which decides with their IK5
    for rec in records:
        t = type(rec)
        if t is r.ClaimStatus:
            yield _claim_status_json(rec)
        elif t is r.LevelStatus:
            yield _level_status_json(rec)
        elif t is r.TransactionSetAck:
            group.append(rec)
        elif t is r.FunctionalGroupAck:
            for a in group:
                yield _set_ack_json(a, rec.status)
            group.clear()
        elif t is r.Eligibility:
            yield _eligibility_json(rec)
        elif t is r.InterchangeAck:
            yield _ta1_json(rec)


# ---- summaries ----------------------------------------------------------------------------------------


def _summary(kind: str, records: Iterable[Any]) -> dict[str, Any]:
    from parsers import records as r

    if kind == "835":
        from eob.balance import check_transaction

        n_tx = n_claims = n_lines = 0
        charge = paid = pr = plb = payment = ZERO
        balanced = True
        for rec in records:
            if type(rec) is r.RemittanceTotals:
                n_tx += 1
                n_claims += rec.claims
                n_lines += rec.service_lines
                charge += rec.total_charge
                paid += rec.total_paid
                pr += rec.total_patient_responsibility
                plb += rec.provider_adjustments
                payment += rec.payment_amount
                if rec.unbalanced_claims or rec.unbalanced_lines or check_transaction(rec):
                    balanced = False
        return {
            "transaction": "835",
            "transactions": n_tx,
            "claims": n_claims,
            "service_lines": n_lines,
            "total_charge": _money(charge),
            "total_paid": _money(paid),
            "total_patient_responsibility": _money(pr),
            "provider_adjustments": _money(plb),
            "payment_total": _money(payment),
            "balanced": balanced,
        }
    if kind == "277CA":
        claims = accepted = rejected = 0
        levels = {"batch": [0, 0], "provider": [0, 0]}  # [statuses, rejecting]
        for rec in records:
            t = type(rec)
            if t is r.ClaimStatus:
                claims += 1
                if rec.accepted is True:
                    accepted += 1
                elif rec.accepted is False:
                    rejected += 1
            elif t is r.LevelStatus:
                counts = levels[rec.level]
                counts[0] += 1
                counts[1] += rec.accepted is False
        return {
            "transaction": "277",
            "claims": claims,
            "accepted": accepted,
            "rejected": rejected,
            "batches": levels["batch"][0],
            "rejected_batches": levels["batch"][1],
            "providers": levels["provider"][0],
            "rejected_providers": levels["provider"][1],
        }
    if kind == "277":  # 005010X212 claim status response
        claims = 0
        categories: dict[str, int] = {}
        for rec in records:
            if type(rec) is r.ClaimStatus:
                claims += 1
                categories[rec.category] = categories.get(rec.category, 0) + 1
        return {"transaction": "277", "claims": claims, "categories": dict(sorted(categories.items()))}
    if kind == "271":
        subscribers = active = inactive = errors = 0
        for rec in records:
            if type(rec) is r.Eligibility:
                subscribers += rec.level in ("subscriber", "dependent")
                active += rec.active is True
                inactive += rec.active is False
                errors += bool(rec.rejections)
        return {
            "transaction": "271",
            "subscribers": subscribers,
            "active": active,
            "inactive": inactive,
            "errors": errors,
        }
    if kind == "999":
        from parsers.x999_005010x231a1 import REJECTED_GROUP_CODES

        acc = rej = groups = rejected_groups = 0
        listed_acc = listed_rej = 0  # the current group's AK2 loops, by their IK5
        for rec in records:
            t = type(rec)
            if t is r.TransactionSetAck:
                if rec.accepted:
                    listed_acc += 1
                else:
                    listed_rej += 1
            elif t is r.FunctionalGroupAck:
                groups += 1
                group_rejects = rec.status in REJECTED_GROUP_CODES
                rejected_groups += group_rejects
                # sets the 999 does not list one by one (AK2 is situational): AK903 received, AK904 accepted
                unlisted = max((rec.sets_received or 0) - rec.set_acks, 0)
                if rec.sets_accepted is not None:
                    unlisted_acc = min(max(rec.sets_accepted - listed_acc, 0), unlisted)
                else:
                    unlisted_acc = unlisted if rec.accepted and not rec.set_acks else 0
                if group_rejects:  # the AK9 rejects the group: none of its sets is accepted
                    rej += listed_acc + listed_rej + unlisted
                else:
                    acc += listed_acc + unlisted_acc
                    rej += listed_rej + unlisted - unlisted_acc
                listed_acc = listed_rej = 0
        return {
            "transaction": "999",
            "accepted_sets": acc,
            "rejected_sets": rej,
            "groups": groups,
            "rejected_groups": rejected_groups,
        }
    n = accepted = rejected = 0
    for rec in records:
        if type(rec) is r.InterchangeAck:
            n += 1
            if rec.accepted:
                accepted += 1
            else:
                rejected += 1
    return {"transaction": "TA1", "interchanges": n, "accepted": accepted, "rejected": rejected}


# ---- entry point --------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"claimflow parse: {message}", file=sys.stderr)
        raise SystemExit(2)


def _args(argv: list[str]) -> argparse.Namespace:
    p = _Parser(
        prog="claimflow parse",
        description="Read an inbound TA1, 999, 277CA or 835 file and print JSON (docs/PARSE_OUTPUT.md).",
    )
    p.add_argument("file", help="the X12 file")
    p.add_argument("--summary", action="store_true", help="print one JSON object with counts and totals")
    p.add_argument("--sha256", help="the file's SHA-256 if already known (otherwise computed)")
    return p.parse_args(argv)


def run(path: str, *, summary: bool, out: TextIO, sha256: str | None = None) -> int:
    from parsers import parse_file
    from parsers.detect import HEAD_BYTES, classify

    name = os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    kind = classify(head, name=name).kind
    if summary and sha256 is None:
        sha256 = ""  # records do not leave the process: skip hashing the file
    if summary and kind == "835":
        from parsers.summary835 import totals

        # totals only (parsers.summary835): no other record is built; every check still runs, and a
        # malformed file fails with the record path's own error line
        records: Iterable[Any] = totals(path, name=name, file_sha256=sha256)
    else:
        records = parse_file(path, name=name, kind=kind, file_sha256=sha256)  # unsupported kinds raise here
    if summary:
        out.write(json.dumps(_summary(kind, records), separators=(",", ":")) + "\n")
        return 0
    dumps = json.JSONEncoder(default=_json_default, separators=(",", ":"), ensure_ascii=False).encode
    buf: list[str] = []
    for obj in _objects(kind, records):
        buf.append(dumps(obj))
        if len(buf) >= 512:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``claimflow parse FILE [--summary]``; returns the exit status."""
    args = _args(list(sys.argv[1:] if argv is None else argv))
    name = os.path.basename(args.file)
    try:
        return run(args.file, summary=args.summary, out=sys.stdout, sha256=args.sha256)
    except X12ParseError as exc:
        if exc.file is None:
            exc.with_file(name)
        print(exc.line(), file=sys.stderr)
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            with contextlib.suppress(OSError):
                sys.stdout.close()
            return 0
        print(f"{name}: cannot read: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback for bad input; CLAIMFLOW_DEBUG=1 shows it
        if os.environ.get("CLAIMFLOW_DEBUG"):
            raise
        print(
            f"{name}: internal error while parsing ({type(exc).__name__}); rerun with CLAIMFLOW_DEBUG=1",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
