"""``claimflow parse FILE [--summary]``: read an inbound TA1/999/277CA/835 file and print JSON.

Without ``--summary``: one JSON object per line — per claim payment (835, as an EOB), per claim status
and per batch/provider status (277CA), per transaction set acknowledgment (999) or per TA1. With ``--summary``: exactly one JSON
object with counts and totals. Amounts are strings with two decimals; dates are ISO strings. Field
reference: ``docs/PARSE_OUTPUT.md``.

Exit status: 0 when the file was read (balanced or not), 2 when it is malformed, unsupported or cannot
be opened — with exactly one line on stderr (the :class:`~edi.errors.X12ParseError` line), never a
traceback. Patient names, member IDs and 999 bad-data copies are left out of the output (PHI).

This module is the fast path of the CLI: it imports only the standard library, ``edi``, ``parsers`` and
``eob`` — no SQLAlchemy, pandas, pydantic or Airflow — and works as ``python -m claimflow.cli.parse``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from operator import attrgetter
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


# ---- one object per record ----------------------------------------------------------------------------
#
# Each record type's JSON is declared once with _shape: the keys in the order docs/PARSE_OUTPUT.md gives
# them, each the record's attribute of that name unless a field says otherwise. What is left out (patient
# names, member ids, 999 bad-data copies) is simply not named. Money and dates stay Decimal and date here;
# the encoder writes them (_json_default), so every shape formats them the same way.

_Convert = Callable[[Any], object]
# A field: an attribute written under its own name, or (key, attribute or None for a null placeholder,
# conversion of the value or None)
_Field = str | tuple[str, str | None, _Convert | None]
_ToDict = Callable[[Any], dict[str, Any]]


def _shape(tag: str | None, *fields: _Field) -> _ToDict:
    """The function that turns one record (a NamedTuple or dataclass) into its JSON object, ``"type": tag``
    first when a tag is given.

    The function is generated once per shape, the way ``collections.namedtuple`` and ``dataclasses``
    generate theirs: its body is the dict literal one would write by hand (``{"isa13": r.isa13, ...}``),
    so the generic declaration costs nothing per record. A loop over the fields (or attrgetter + zip)
    was measured 30% slower per EOB, several percent of a whole ``claimflow parse`` of an 835. Keys
    and attribute names come from the declarations below, never from input."""
    env: dict[str, Any] = {}
    items = [] if tag is None else [f"'type': {tag!r}"]
    for n, f in enumerate(fields):
        key, attr, convert = (f, f, None) if isinstance(f, str) else f
        if attr is not None and not attr.isidentifier():
            raise ValueError(f"not an attribute name: {attr!r}")
        value = "None" if attr is None else f"r.{attr}"
        if convert is not None:
            env[f"_c{n}"] = convert
            value = f"_c{n}({value})"
        items.append(f"{key!r}: {value}")
    exec(f"def to_dict(r):\n    return {{{', '.join(items)}}}\n", env)
    to_dict: _ToDict = env["to_dict"]
    return to_dict


def _each(name: str, shape: _ToDict) -> _Field:
    """A field holding a sequence of records, each written with ``shape``."""
    return name, name, lambda items: [shape(x) for x in items]


def _listed(name: str) -> _Field:
    """A field holding a sequence of codes (a JSON array)."""
    return name, name, list


def _exact_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _exact(name: str) -> _Field:
    """A Decimal that is a count or a rate, not money: written exactly as received (``str``), or null."""
    return name, name, _exact_text


def _filled_later(name: str) -> _Field:
    """A key whose value does not come from the record: declared here for its place, set by the caller."""
    return name, None, None


_HEADER = ("file_sha256", "isa13", "gs06", "st02", "segment_no")
_BREAKDOWN = (
    "paid",
    "patient_responsibility",
    "deductible",
    "coinsurance",
    "copay",
    "other_patient_responsibility",
    "contractual",
    "other_adjustments",
    "payer_initiated",
    "corrections",
)

_ADJUSTMENT = _shape(None, "group", "reason", "amount", _exact("quantity"))
_EOB_LINE = _shape(
    None,
    "segment_no",
    "control_number",
    "procedure_qualifier",
    "procedure_code",
    _listed("modifiers"),
    "revenue_code",
    "service_date_from",
    "service_date_to",
    _exact("units"),
    "charge",
    "allowed",
    *_BREAKDOWN,
    _each("adjustments", _ADJUSTMENT),
    _listed("carc_codes"),
    _listed("rarc_codes"),
)
_EOB = _shape(
    "claim_payment",
    *_HEADER,
    "payer_name",
    "payer_id",
    "payee_id",
    "trace_number",
    "payment_method",
    "handling_code",
    "payment_date",
    "patient_control_number",
    "payer_claim_control_number",
    "original_reference_number",
    "claim_status",
    "reversal",
    "filing_indicator",
    "statement_from",
    "statement_to",
    "charge",
    *_BREAKDOWN,
    _each("adjustments", _ADJUSTMENT),
    _listed("carc_codes"),
    _listed("rarc_codes"),
    _each("lines", _EOB_LINE),
)

_STATUS = _shape(None, "element", "category", "code", "entity")
_CLAIM_STATUS = _shape(
    "claim_status",
    *_HEADER,
    "patient_control_number",
    "payer_claim_control_number",
    "clearinghouse_trace",
    "batch_trace",
    "category",
    "status_code",
    "accepted",
    "status_date",
    "action_code",
    "charge",
    "service_date_from",
    "service_date_to",
    _each("statuses", _STATUS),
    _each(
        "lines",
        _shape(
            None,
            "segment_no",
            "control_number",
            "procedure_code",
            "charge",
            _each("statuses", _STATUS),
            "accepted",
        ),
    ),
)


def _first_status(key: str, attr: str) -> _Field:
    """A 2200B/2200C verdict taken from its first STC (``""`` when it has none)."""
    get = attrgetter(attr)
    return key, "statuses", lambda statuses: get(statuses[0]) if statuses else ""


_LEVEL_STATUS = _shape(  # a 2200B (batch) or 2200C (billing provider) status: what it covers, its verdict
    "level_status",
    *_HEADER,
    "level",
    "loop",
    "trace_number",
    "batch_trace",
    "provider_id_qualifier",
    "provider_id",
    _first_status("category", "category"),
    _first_status("status_code", "code"),
    "accepted",
    "action_code",
    "status_date",
    _exact("accepted_quantity"),
    _exact("rejected_quantity"),
    "accepted_amount",
    "rejected_amount",
    _each("statuses", _STATUS),
)

_SEGMENT_ERROR = _shape(
    None,
    "segment_id",
    "position",
    "loop_id",
    "error_code",
    "patient_control_number",
    _each(
        "elements",
        _shape(
            None,
            "position",
            "component_position",
            "repetition_position",
            "data_element_reference",
            "error_code",
        ),
    ),
)
_SET_ACK = _shape(
    "transaction_set_ack",
    *_HEADER,
    "group_control_number",
    "set_id",
    "set_control_number",
    "implementation_reference",
    "status",
    _filled_later("accepted"),  # decided with the group's AK9
    ("ik5_accepted", "accepted", None),
    _filled_later("group_status"),
    _listed("syntax_errors"),
    _each("errors", _SEGMENT_ERROR),
)


def _set_ack_json(a: Any, group_status: str) -> dict[str, Any]:
    from parsers.x999_005010x231a1 import set_accepted

    obj = _SET_ACK(a)
    obj["accepted"] = set_accepted(a.status, group_status)
    obj["group_status"] = group_status
    return obj


_TA1 = _shape(
    "interchange_ack",
    "file_sha256",
    "isa13",
    "segment_no",
    "control_number",
    "interchange_date",
    "interchange_time",
    "ack_code",
    "note_code",
    "accepted",
)


def _party_id(name: str) -> _Field:
    """``payer_id`` / ``provider_id``: the NM109 of the 271's payer or provider loop, or null."""
    return name, name.removesuffix("_id"), lambda party: party.id if party else None


_ELIGIBILITY = _shape(  # a 271 subscriber/dependent loop; the member's name and id are PHI and left out
    "eligibility",
    *_HEADER,
    "level",
    "trace_number",
    _party_id("payer_id"),
    _party_id("provider_id"),
    "active",
    "coverage_from",
    "coverage_to",
    "plan",
    "deductible_remaining",
    "out_of_pocket_remaining",
    "copay",
    _exact("coinsurance"),
    _each(
        "benefits",
        _shape(
            None,
            "info",
            "coverage_level",
            _listed("service_types"),
            "insurance_type",
            "plan",
            "time_period",
            "amount",
            _exact("percent"),
            "in_network",
        ),
    ),
    _each("rejections", _shape(None, "loop", "valid_request", "reason", "follow_up")),
)


def _objects(kind: str, records: Iterable[Any]) -> Iterator[dict[str, Any]]:
    from parsers import records as r

    if kind == "835":
        from eob.records import build_eob

        remit = None
        for rec in records:
            t = type(rec)
            if t is r.ClaimPayment:
                yield _EOB(build_eob(remit, rec))  # type: ignore[arg-type]
            elif t is r.Remittance:
                remit = rec
            elif t is r.InterchangeAck:
                yield _TA1(rec)
        return
    group: list[Any] = []  # a 999 group's set acks wait for its AK9, which decides with their IK5
    for rec in records:
        t = type(rec)
        if t is r.ClaimStatus:
            yield _CLAIM_STATUS(rec)
        elif t is r.LevelStatus:
            yield _LEVEL_STATUS(rec)
        elif t is r.TransactionSetAck:
            group.append(rec)
        elif t is r.FunctionalGroupAck:
            for a in group:
                yield _set_ack_json(a, rec.status)
            group.clear()
        elif t is r.Eligibility:
            yield _ELIGIBILITY(rec)
        elif t is r.InterchangeAck:
            yield _TA1(rec)


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
