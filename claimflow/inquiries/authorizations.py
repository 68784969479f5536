"""Prior authorizations: the payer's number for a patient's course of care, checked before a claim goes out.

Some payers pay certain services (physical therapy 97110-97140, imaging, infusions …) only when they
authorized them in advance: a number for one patient, some service codes, a number of units and a date
span. A claim line billed without one is denied (CO-197/CO-15) weeks later; a line billed against an
authorization that ran out of units or days is denied the same way. So:

* ``payer_auth_rules`` says which codes (ranges) a payer authorizes; ``prior_authorizations`` holds the
  numbers the office received (both imported with ``claimflow auth import``, see :mod:`claimflow.cli.auth`).
* :func:`check_authorizations`, registered in :data:`claimflow.services.presubmit.CHECKS`, runs beside the scrubber
  on every chunk of ready claims. A line whose code the payer authorizes needs an authorization of the same
  payer and patient that covers the code and the date of service and has the line's units left; one
  authorization must cover every such line of the claim, because the 837 carries one number per claim
  (2300 REF*G1). A claim that has one goes out with ``prior_authorization`` set; one that has not is held
  (rules ``prior_auth_missing``, ``prior_auth_expired``, ``prior_auth_exhausted``, ``prior_auth_split``)
  with a reason naming lines, codes and the authorization number only (no PHI), like any scrub failure.
* The units of a sent line are counted against its authorization in ``prior_authorization_usage``, one
  row per service line, written by the check in the same chunk run that sends the claim (a rerun replaces
  the row instead of adding to it). Lines of claims the payer will not adjudicate do not count: held
  (``scrub_failed``, also when another scrub rule held the claim after this check passed it),
  ``rejected`` and voids (frequency 8); so a held, rejected or voided claim's units come back by
  themselves. :func:`refresh` keeps ``units_used`` and ``status`` (active, expired, exhausted; ``void`` is
  set by the office) in step.

Codes and ranges (``97110-97140,G0283``) are parsed by one function, :func:`parse_codes`, and stored in
its normalized form.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, text, update

from claimflow.db import models as m
from claimflow.errors import BadDataError

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine

    from edi.claim import Claim as EdiClaim
    from edi.scrub import ScrubFinding

log = logging.getLogger("claimflow.inquiries.authorizations")

RULE_MISSING = "prior_auth_missing"
RULE_EXPIRED = "prior_auth_expired"
RULE_EXHAUSTED = "prior_auth_exhausted"
RULE_SPLIT = "prior_auth_split"
RULES = (RULE_MISSING, RULE_EXPIRED, RULE_EXHAUSTED, RULE_SPLIT)

STATUSES = ("active", "expired", "exhausted", "void")
#: Claim statuses whose lines do not use up units: held or rejected (see module doc).
NOT_COUNTED = (m.ClaimStatus.SCRUB_FAILED, m.ClaimStatus.REJECTED)
#: Not yet sent: the check counts their lines again when it sees them (rows left by a run that died
#: before sending are not held against other claims meanwhile).
UNSENT = (m.ClaimStatus.READY, "corrected")
#: The usage rows that count, as SQL over ``prior_authorization_usage u JOIN claims c``.
COUNTED_SQL = "c.status NOT IN (" + ", ".join(f"'{s}'" for s in NOT_COUNTED) + ") AND c.frequency <> '8'"

AUTH_COLUMNS = ("auth_number", "payer_id", "patient_account", "codes", "units", "start_date", "end_date")
RULE_COLUMNS = ("payer_id", "codes")
#: Claim ids per IN (...) list, well under SQLite's bound-parameter limit.
SLICE = 5000

_CODE = re.compile(r"^[0-9A-Z]{5}$")
_AUTH_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,49}$")


class AuthorizationError(BadDataError):
    """An authorization or rules file (or a value in it) that cannot be used: one line per problem."""

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems)


# --------------------------------------------------------------------------------------------------
# codes and ranges
# --------------------------------------------------------------------------------------------------

CodeRange = tuple[str, str]


def _shape(code: str) -> tuple[str, str]:
    """Codes compare only with codes of the same form: HCPCS ``G0283`` (a letter then digits), CPT
    ``97110`` (digits) and CPT category II/III ``0001F`` (digits then a letter)."""
    return (code[0] if code[0].isalpha() else "9", code[-1] if code[-1].isalpha() else "9")


def parse_codes(value: str) -> tuple[CodeRange, ...]:
    """``"97110-97140, g0283"`` → ``(("97110", "97140"), ("G0283", "G0283"))``. Raises ValueError (a
    message naming the bad part) for anything else: empty, not a 5-character code, a range whose ends
    differ in form or run backwards."""
    out: list[CodeRange] = []
    for part in value.split(","):
        part = part.strip().upper().replace(" ", "")
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        hi = hi if sep else lo
        for code in (lo, hi):
            if not _CODE.match(code):
                raise ValueError(f"{code or part!r} is not a 5-character procedure code")
        if _shape(lo) != _shape(hi):
            raise ValueError(f"range {part} mixes code forms")
        if lo > hi:
            raise ValueError(f"range {part} runs backwards")
        if (lo, hi) not in out:
            out.append((lo, hi))
    if not out:
        raise ValueError("no procedure codes")
    return tuple(sorted(out))


def format_codes(ranges: Sequence[CodeRange]) -> str:
    """The normalized text stored in ``service_codes``: ``97110-97140,G0283``."""
    return ",".join(lo if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def covers(ranges: Sequence[CodeRange], code: str | None) -> bool:
    """Whether ``code`` is one of ``ranges`` (a range holds only codes of its ends' form)."""
    if not code:
        return False
    code = code.strip().upper()
    if not _CODE.match(code):
        return False
    return any(_shape(lo) == _shape(code) and lo <= code <= hi for lo, hi in ranges)


# --------------------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    authorizations_added: int = 0
    authorizations_updated: int = 0
    rules: int = 0
    rules_removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "authorizations_added": self.authorizations_added,
            "authorizations_updated": self.authorizations_updated,
            "rules": self.rules,
            "rules_removed": self.rules_removed,
        }


def _read_csv(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise AuthorizationError(
                    f"{path.name}: header must have the columns {', '.join(required)} "
                    f"(missing: {', '.join(missing)})"
                )
            reader.fieldnames = header
            return [
                (n, {k: (v or "").strip() for k, v in row.items() if k is not None})
                for n, row in enumerate(reader, start=2)
            ]
    except UnicodeDecodeError:
        raise AuthorizationError(f"{path.name}: not a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise AuthorizationError(f"{path.name}: not a readable CSV file ({exc})") from None


def _date(value: str, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column}: not a date (expected YYYY-MM-DD)") from None


def _units(value: str) -> Decimal:
    try:
        units = Decimal(value)
    except InvalidOperation:
        raise ValueError("units: not a number") from None
    if not units.is_finite() or units <= 0 or units != units.quantize(Decimal("0.001")) or units >= 10**6:
        raise ValueError("units: must be above 0, below 1,000,000, with at most three decimals")
    return units


def import_authorizations(engine: Engine, path: Path, *, today: dt.date | None = None) -> ImportResult:
    """Add or update authorizations from a CSV file with the header :data:`AUTH_COLUMNS` (+ optional
    ``status``: active or void). Every row is checked first; one bad row imports nothing and every
    problem is reported as ``row N: column: why`` (no values that could be PHI). A number already on
    file for the payer is updated (codes, units, dates, status), never moved to another patient."""
    rows = _read_csv(path, AUTH_COLUMNS)
    problems: list[str] = []
    with engine.begin() as conn:
        payers: dict[str, int] = {
            str(k): int(v) for k, v in conn.execute(select(m.Payer.payer_id, m.Payer.id))
        }
        wanted = sorted({row["patient_account"] for _, row in rows if row["patient_account"]})
        patients: dict[str, int] = {}
        for start in range(0, len(wanted), SLICE):
            patients.update(
                (str(k), int(v))
                for k, v in conn.execute(
                    select(m.Patient.account_number, m.Patient.id).where(
                        m.Patient.account_number.in_(wanted[start : start + SLICE])
                    )
                ).all()
            )
        parsed: dict[tuple[int, str], dict[str, Any]] = {}
        for n, row in rows:
            try:
                number = row["auth_number"]
                if not _AUTH_NUMBER.match(number):
                    raise ValueError("auth_number: 1-50 letters, digits or hyphens")
                if row["payer_id"] not in payers:
                    raise ValueError(f"payer_id: no payer {row['payer_id']!r}")
                if row["patient_account"] not in patients:
                    raise ValueError("patient_account: no patient with this account number")
                try:
                    codes = format_codes(parse_codes(row["codes"]))
                except ValueError as exc:
                    raise ValueError(f"codes: {exc}") from None
                units = _units(row["units"])
                first, last = _date(row["start_date"], "start_date"), _date(row["end_date"], "end_date")
                if last < first:
                    raise ValueError("end_date: before start_date")
                status = (row.get("status") or "active").lower()
                if status not in ("active", "void"):
                    raise ValueError("status: active or void (expired and exhausted are worked out)")
                key = (payers[row["payer_id"]], number)
                if key in parsed:
                    raise ValueError(
                        f"auth_number: {number} for this payer is already on row {parsed[key]['row']}"
                    )
                parsed[key] = {
                    "row": n,
                    "patient_id": patients[row["patient_account"]],
                    "service_codes": codes,
                    "units_authorized": units,
                    "start_date": first,
                    "end_date": last,
                    "status": status,
                }
            except ValueError as exc:
                problems.append(f"row {n}: {exc}")
        existing: dict[tuple[int, str], tuple[int, int]] = {}
        if parsed:
            for pid, number, auth_id, patient_id in conn.execute(
                select(
                    m.PriorAuthorization.payer_id,
                    m.PriorAuthorization.auth_number,
                    m.PriorAuthorization.id,
                    m.PriorAuthorization.patient_id,
                )
            ):
                existing[(pid, number)] = (auth_id, patient_id)
        for key, values in parsed.items():
            if key in existing and existing[key][1] != values["patient_id"]:
                problems.append(
                    f"row {values['row']}: auth_number: {key[1]} is on file for this payer and another patient"
                )
        if problems:
            raise AuthorizationError(
                f"{path.name}: {len(problems)} invalid row(s), nothing imported; {problems[0]}",
                problems=problems,
            )
        result = ImportResult()
        now = m._now()
        added: list[dict[str, Any]] = []
        for (payer_pk, number), values in parsed.items():
            values = {k: v for k, v in values.items() if k != "row"}
            if (payer_pk, number) in existing:
                conn.execute(
                    update(m.PriorAuthorization)
                    .where(m.PriorAuthorization.id == existing[(payer_pk, number)][0])
                    .values(**values, updated_at=now)
                )
                result.authorizations_updated += 1
            else:
                added.append(
                    {"payer_id": payer_pk, "auth_number": number, "units_used": Decimal("0"), **values}
                )
        if added:
            conn.execute(insert(m.PriorAuthorization), added)
            result.authorizations_added = len(added)
        refresh(conn, today or dt.date.today())
    return result


def import_rules(engine: Engine, path: Path) -> ImportResult:
    """Set which codes each payer authorizes, from a CSV with the header ``payer_id,codes``. A payer's row
    replaces its codes; empty codes remove the payer's rule. All rows are checked before any is stored."""
    rows = _read_csv(path, RULE_COLUMNS)
    problems: list[str] = []
    result = ImportResult()
    with engine.begin() as conn:
        payers: dict[str, int] = {
            str(k): int(v) for k, v in conn.execute(select(m.Payer.payer_id, m.Payer.id))
        }
        parsed: dict[int, str | None] = {}
        for n, row in rows:
            if row["payer_id"] not in payers:
                problems.append(f"row {n}: payer_id: no payer {row['payer_id']!r}")
                continue
            if payers[row["payer_id"]] in parsed:
                problems.append(f"row {n}: payer_id: {row['payer_id']} is on an earlier row")
                continue
            try:
                parsed[payers[row["payer_id"]]] = (
                    format_codes(parse_codes(row["codes"])) if row["codes"] else None
                )
            except ValueError as exc:
                problems.append(f"row {n}: codes: {exc}")
        if problems:
            raise AuthorizationError(
                f"{path.name}: {len(problems)} invalid row(s), nothing imported; {problems[0]}",
                problems=problems,
            )
        for payer_pk, codes in parsed.items():
            gone = conn.execute(delete(m.PayerAuthRule).where(m.PayerAuthRule.payer_id == payer_pk)).rowcount
            if codes is None:
                result.rules_removed += int(gone or 0)
                continue
            conn.execute(insert(m.PayerAuthRule).values(payer_id=payer_pk, service_codes=codes))
            result.rules += 1
    return result


# --------------------------------------------------------------------------------------------------
# units used and status
# --------------------------------------------------------------------------------------------------


def refresh(conn: Connection, today: dt.date) -> None:
    """Recount ``units_used`` from the usage rows that count and set each status: ``expired`` after its
    end date, else ``exhausted`` when no units are left, else ``active`` (``void`` stays). Set-based."""
    conn.execute(
        text(f"""UPDATE prior_authorizations SET units_used = COALESCE((SELECT SUM(u.units)
                 FROM prior_authorization_usage u JOIN claims c ON c.id = u.claim_id
                 WHERE u.authorization_id = prior_authorizations.id AND {COUNTED_SQL}), 0)""")
    )
    new = (
        "CASE WHEN end_date < :today THEN 'expired' WHEN units_used >= units_authorized THEN 'exhausted' "
        "ELSE 'active' END"
    )
    conn.execute(
        text(
            f"UPDATE prior_authorizations SET status = {new}, updated_at = :now WHERE status <> 'void' AND status <> {new}"
        ),
        {"today": today, "now": m._now()},
    )


# --------------------------------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------------------------------

LIST_KEYS = (
    "id",
    "auth_number",
    "payer",
    "patient",
    "codes",
    "units_authorized",
    "units_used",
    "units_left",
    "start_date",
    "end_date",
    "status",
)


def list_authorizations(
    engine: Engine, *, today: dt.date | None = None, expiring_days: int | None = None
) -> list[dict[str, Any]]:
    """Authorizations (dicts with :data:`LIST_KEYS`; units Decimal, dates dates), soonest end first.
    ``expiring_days``: only active ones that end within that many days of ``today``. ``patient`` is the
    practice's account number (what the import names), never a name."""
    today = today or dt.date.today()
    pa = m.PriorAuthorization
    with engine.begin() as conn:
        refresh(conn, today)
        q = (
            select(
                pa.id,
                pa.auth_number,
                m.Payer.payer_id,
                m.Patient.account_number,
                pa.service_codes,
                pa.units_authorized,
                pa.units_used,
                pa.start_date,
                pa.end_date,
                pa.status,
            )
            .join(m.Payer, m.Payer.id == pa.payer_id)
            .join(m.Patient, m.Patient.id == pa.patient_id)
            .order_by(pa.end_date, pa.id)
        )
        if expiring_days is not None:
            q = q.where(
                pa.status == "active",
                pa.end_date >= today,
                pa.end_date <= today + dt.timedelta(days=expiring_days),
            )
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        authorized, used = _dec(r[5]), _dec(r[6])
        out.append(
            {
                "id": r[0],
                "auth_number": r[1],
                "payer": r[2],
                "patient": r[3],
                "codes": r[4],
                "units_authorized": authorized,
                "units_used": used,
                "units_left": max(authorized - used, Decimal("0")),
                "start_date": r[7],
                "end_date": r[8],
                "status": r[9],
            }
        )
    return out


# --------------------------------------------------------------------------------------------------
# the pre-submission check
# --------------------------------------------------------------------------------------------------


@dataclass
class _Auth:
    id: int
    number: str
    ranges: tuple[CodeRange, ...]
    start: dt.date
    end: dt.date
    left: Decimal


@dataclass
class _Line:
    line_number: int
    code: str
    first: dt.date
    last: dt.date
    units: Decimal
    service_line_id: int | None = None


@dataclass
class _Outcome:
    auth: _Auth | None = None
    findings: list[tuple[str, str]] = field(default_factory=list)


def _dec(value: object) -> Decimal:
    """A units value from the database as an exact Decimal (SQLite may hand back a float)."""
    if value is None:
        return Decimal("0")
    return Decimal(str(value)).quantize(Decimal("0.001"))


def _fits(auth: _Auth, line: _Line) -> bool:
    return covers(auth.ranges, line.code) and auth.start <= line.first and line.last <= auth.end


def _line_rule(auths: Sequence[_Auth], line: _Line) -> str | None:
    """Why no authorization takes this line alone (None: one could)."""
    by_code = [a for a in auths if covers(a.ranges, line.code)]
    if not by_code:
        return RULE_MISSING
    dated = [a for a in by_code if a.start <= line.first and line.last <= a.end]
    if not dated:
        return RULE_EXPIRED if any(a.end < line.last for a in by_code) else RULE_MISSING
    if not any(a.left >= line.units for a in dated):
        return RULE_EXHAUSTED
    return None


_WHY = {
    RULE_MISSING: "no prior authorization on file with this payer for {lines}: get one and import it "
    "(claimflow auth import), then release the claim",
    RULE_EXPIRED: "the prior authorization on file does not cover the date of service of {lines} (it ended "
    "before): ask the payer for an extension or a new authorization",
    RULE_EXHAUSTED: "the prior authorization on file has too few units left for {lines}: ask the payer for "
    "more units",
    RULE_SPLIT: "{lines} need different prior authorizations, but a claim carries one (REF*G1): split the "
    "claim by authorization",
}


def _decide(claim: EdiClaim, lines: list[_Line], auths: list[_Auth], payer_name: str) -> _Outcome:
    if claim.prior_authorization:
        named = [a for a in auths if a.number == claim.prior_authorization.strip()]
        if not named:
            listed = ", ".join(f"line {ln.line_number} ({ln.code})" for ln in lines)
            return _Outcome(
                findings=[
                    (
                        RULE_MISSING,
                        f"{payer_name}: the authorization number on the claim ({claim.prior_authorization}) "
                        f"is not on file for this payer and patient, and {listed} need one: import it "
                        "(claimflow auth import) or correct the claim",
                    )
                ]
            )
        auths = named
    need = sum((ln.units for ln in lines), Decimal("0"))
    for auth in sorted(auths, key=lambda a: (a.end, a.id)):
        if all(_fits(auth, ln) for ln in lines) and auth.left >= need:
            return _Outcome(auth=auth)
    per_rule: dict[str, list[_Line]] = defaultdict(list)
    for ln in lines:
        rule = _line_rule(auths, ln)
        if rule is not None:
            per_rule[rule].append(ln)
    if not per_rule:
        # every line fits some authorization alone: together they need more units than the one they
        # share has left, or they need different ones
        shared = any(all(_fits(a, ln) for ln in lines) for a in auths)
        per_rule[RULE_EXHAUSTED if shared else RULE_SPLIT] = lines
    findings = []
    for rule in RULES:
        if rule in per_rule:
            listed = ", ".join(f"line {ln.line_number} ({ln.code})" for ln in per_rule[rule])
            findings.append((rule, f"{payer_name}: " + _WHY[rule].format(lines=listed)))
    return _Outcome(findings=findings)


def check_authorizations(engine: Engine, claims: Sequence[EdiClaim], today: dt.date) -> list[ScrubFinding]:
    """Hold the claims whose lines need a prior authorization they do not have; set ``prior_authorization``
    (REF*G1) on the ones that have it and record their lines' units (see the module docstring). Claims of
    payers without a rule are not touched. One transaction per call; a rerun replaces the batch's usage."""
    from edi.scrub import scrub_claim

    by_id = {c.claim_id: c for c in claims}
    ids = sorted(by_id)
    if not ids:
        return []
    with engine.begin() as conn:
        rules = {
            pid: parse_codes(codes)
            for pid, codes in conn.execute(
                select(m.Payer.payer_id, m.PayerAuthRule.service_codes).join(
                    m.Payer, m.Payer.id == m.PayerAuthRule.payer_id
                )
            )
        }
        has_usage = conn.execute(select(m.PriorAuthorizationUsage.id).limit(1)).first() is not None
        if not rules and not has_usage:
            return []
        for start in range(0, len(ids), SLICE):  # this batch's lines are counted again below
            conn.execute(
                delete(m.PriorAuthorizationUsage).where(
                    m.PriorAuthorizationUsage.claim_id.in_(ids[start : start + SLICE])
                )
            )
        if not rules:
            refresh(conn, today)
            return []
        needing: dict[int, list[_Line]] = {}
        for c in claims:
            ranges = rules.get(c.payer.payer_id)
            if ranges is None or c.frequency.value == "8":  # a void needs no authorization
                continue
            lines = [
                _Line(
                    ln.line_number,
                    (ln.procedure_code or "").upper(),
                    ln.service_date,
                    ln.service_date_end or ln.service_date,
                    Decimal(ln.units),
                )
                for ln in c.lines
                if covers(ranges, ln.procedure_code)
            ]
            if lines:
                needing[c.claim_id] = lines
        if not needing:
            refresh(conn, today)
            return []
        need_ids = sorted(needing)
        keys: dict[int, tuple[int, int, str]] = {}  # claim id -> patient id, payer pk, payer name
        line_ids: dict[tuple[int, int], int] = {}
        for start in range(0, len(need_ids), SLICE):
            part = need_ids[start : start + SLICE]
            for cid, patient_id, payer_pk, name in conn.execute(
                select(m.Claim.id, m.Claim.patient_id, m.Claim.payer_id, m.Payer.name)
                .join(m.Payer, m.Payer.id == m.Claim.payer_id)
                .where(m.Claim.id.in_(part))
            ):
                keys[cid] = (patient_id, payer_pk, name)
            for cid, number, sl_id in conn.execute(
                select(m.ServiceLine.claim_id, m.ServiceLine.line_number, m.ServiceLine.id).where(
                    m.ServiceLine.claim_id.in_(part)
                )
            ):
                line_ids[(cid, number)] = sl_id
        auths = _load_auths(conn, sorted({k[0] for k in keys.values()}))
        original = {cid: by_id[cid].prior_authorization for cid in need_ids}
        findings, usage, chosen = _allocate(need_ids, by_id, needing, keys, line_ids, _copy(auths), set())
        short = {keys[f.claim_id][:2] for f in findings if f.rule == RULE_EXHAUSTED}
        if short:
            # Units ran short for some patients. A claim the scrubber will hold anyway must not take units
            # from the others: decide those patients' claims again without them (scrubbing only here,
            # where it matters, keeps a 100,000-claim night from scrubbing twice).
            doomed = {
                cid
                for cid in chosen
                if keys[cid][:2] in short and scrub_claim(_with_auth(by_id[cid], chosen[cid]), today)
            }
            for cid in chosen:  # as loaded: a number the office put on the claim binds the second pass too
                by_id[cid].prior_authorization = original[cid]
            if doomed:
                findings, usage, chosen = _allocate(
                    need_ids, by_id, needing, keys, line_ids, _copy(auths), doomed
                )
        for cid, number in chosen.items():
            by_id[cid].prior_authorization = number
        if usage:
            conn.execute(insert(m.PriorAuthorizationUsage), usage)
        refresh(conn, today)
    if findings:
        log.info(
            "prior authorizations: %d findings on %d claims",
            len(findings),
            len({f.claim_id for f in findings}),
        )
    return findings


def _copy(auths: dict[tuple[int, int], list[_Auth]]) -> dict[tuple[int, int], list[_Auth]]:
    return {k: [dataclasses.replace(a) for a in v] for k, v in auths.items()}


def _with_auth(claim: EdiClaim, number: str) -> EdiClaim:
    claim.prior_authorization = number
    return claim


def _allocate(
    need_ids: list[int],
    by_id: dict[int, EdiClaim],
    needing: dict[int, list[_Line]],
    keys: dict[int, tuple[int, int, str]],
    line_ids: dict[tuple[int, int], int],
    auths: dict[tuple[int, int], list[_Auth]],
    free: set[int],
) -> tuple[list[ScrubFinding], list[dict[str, object]], dict[int, str]]:
    """Decide the claims in id order, taking units as they go (claims in ``free`` take none). Returns the
    findings, the usage rows and the authorization number chosen per claim."""
    from edi.scrub import ScrubFinding

    findings: list[ScrubFinding] = []
    usage: list[dict[str, object]] = []
    chosen: dict[int, str] = {}
    for cid in need_ids:
        patient_id, payer_pk, payer_name = keys[cid]
        lines = needing[cid]
        outcome = _decide(by_id[cid], lines, auths.get((patient_id, payer_pk), []), payer_name)
        if outcome.auth is None:
            findings += [ScrubFinding(cid, rule, reason) for rule, reason in outcome.findings]
            continue
        chosen[cid] = outcome.auth.number
        if cid in free:
            continue
        for ln in lines:
            outcome.auth.left -= ln.units
            sl_id = line_ids.get((cid, ln.line_number))
            if sl_id is not None:
                usage.append(
                    {
                        "authorization_id": outcome.auth.id,
                        "claim_id": cid,
                        "service_line_id": sl_id,
                        "units": ln.units,
                    }
                )
    return findings, usage, chosen


def _load_auths(conn: Connection, patient_ids: list[int]) -> dict[tuple[int, int], list[_Auth]]:
    """The patients' authorizations that are not void, with the units left by claims already sent (this
    batch's usage rows were just removed; other unsent claims are counted when their batch is checked)."""
    pa, u = m.PriorAuthorization, m.PriorAuthorizationUsage
    out: dict[tuple[int, int], list[_Auth]] = defaultdict(list)
    for start in range(0, len(patient_ids), SLICE):
        part = patient_ids[start : start + SLICE]
        used: dict[int, object] = {
            int(k): v
            for k, v in conn.execute(
                select(u.authorization_id, func.sum(u.units))
                .join(m.Claim, m.Claim.id == u.claim_id)
                .join(pa, pa.id == u.authorization_id)
                .where(
                    pa.patient_id.in_(part),
                    m.Claim.status.not_in(NOT_COUNTED + UNSENT),
                    m.Claim.frequency != "8",
                )
                .group_by(u.authorization_id)
            )
        }
        for row in conn.execute(
            select(
                pa.id,
                pa.auth_number,
                pa.patient_id,
                pa.payer_id,
                pa.service_codes,
                pa.units_authorized,
                pa.start_date,
                pa.end_date,
            ).where(pa.patient_id.in_(part), pa.status != "void")
        ):
            left = _dec(row[5]) - _dec(used.get(row[0]))
            out[(row[2], row[3])].append(_Auth(row[0], row[1], parse_codes(row[4]), row[6], row[7], left))
    return out
