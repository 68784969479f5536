"""The claim lifecycle: which ``claims.status`` values exist and which changes are allowed.

::

    ready ──► submitted ──► accepted ──► paid / partially_paid / denied ──► closed
      ▲  │         │   (277CA A1/A2/A5)        │        ▲
      │  ▼         ▼                           ▼        │
    scrub_failed  rejected (999 IK5 R/M/W/X,  reversed (CLP02=22) ──► corrected ──► submitted
                  TA1 R, 277CA A3/A4/A6-A8)       (the correction that follows posts
                                                   paid / partially_paid / denied again)

* Remittance outcomes (paid, partially_paid, denied) may follow any submitted-or-later state except
  closed, and may follow each other: a second remittance (appeal, additional payment) re-adjudicates.
* ``reversed`` follows an adjudicated (or closed) claim when the payer takes its decision back; the
  correction claim payment that follows moves the claim on to its new outcome.
* ``corrected`` is a claim whose replacement (frequency 7) is being prepared after a reversal or
  denial; it goes back to ``submitted`` when the replacement is sent.
* ``closed`` is terminal except for a reversal (the payer can always take money back).

Posting is set-based, so the rules are also exported as SQL-friendly tuples: ``sources_for(target)``
gives the statuses from which ``target`` may be reached, for ``UPDATE … WHERE status IN (…)``.
"""

from __future__ import annotations

from claimflow.db.models import ClaimStatus as S

from .errors import InvalidTransition

#: A claim whose replacement is prepared (kept as a name here for the callers that import it).
CORRECTED = S.CORRECTED

#: Remittance outcomes (claim statuses set from CLP02 and the amounts).
OUTCOMES: tuple[S, ...] = (S.PAID, S.PARTIALLY_PAID, S.DENIED)

ALL_STATUSES: tuple[S, ...] = (
    S.READY, S.SCRUB_FAILED, S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.PAID, S.PARTIALLY_PAID, S.DENIED,
    S.REVERSED, CORRECTED, S.CLOSED,
)  # fmt: skip

_ADJUDICABLE = (S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.PAID, S.PARTIALLY_PAID, S.DENIED, S.REVERSED)

TRANSITIONS: dict[str, frozenset[str]] = {
    S.READY: frozenset({S.SUBMITTED, S.SCRUB_FAILED}),
    S.SCRUB_FAILED: frozenset({S.READY}),
    # A claim paid and reversed within one posting batch goes submitted/accepted → reversed directly.
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, *OUTCOMES, S.REVERSED}),
    S.ACCEPTED: frozenset({S.REJECTED, *OUTCOMES, S.REVERSED}),
    # A rejected claim is fixed and re-queued or resubmitted; a late acceptance/payment still counts.
    S.REJECTED: frozenset({S.READY, S.SUBMITTED, S.ACCEPTED, *OUTCOMES}),
    S.PAID: frozenset({*OUTCOMES, S.REVERSED, S.CLOSED}),
    S.PARTIALLY_PAID: frozenset({*OUTCOMES, S.REVERSED, S.CLOSED}),
    S.DENIED: frozenset({*OUTCOMES, S.REVERSED, CORRECTED, S.SUBMITTED, S.CLOSED}),
    S.REVERSED: frozenset({*OUTCOMES, CORRECTED, S.CLOSED}),
    CORRECTED: frozenset({S.SUBMITTED}),
    S.CLOSED: frozenset({S.REVERSED}),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(claim: str | int, current: str, target: str) -> None:
    """Raise :class:`InvalidTransition` unless ``current`` → ``target`` is allowed."""
    if not can_transition(current, target):
        raise InvalidTransition(claim, current, target)


def sources_for(target: str) -> tuple[S, ...]:
    """Every status from which ``target`` may be reached, in lifecycle order (for SQL ``IN``)."""
    return tuple(s for s in ALL_STATUSES if target in TRANSITIONS.get(s, frozenset()))


def sql_in(values: tuple[str, ...]) -> str:
    """``('a', 'b')`` for embedding constant status lists in SQL (values are our own constants)."""
    for v in values:
        if not v.replace("_", "").isalnum():
            raise ValueError("status constants are identifiers")
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


#: For set-based SQL: statuses a remittance outcome may overwrite.
ADJUDICABLE: tuple[str, ...] = _ADJUDICABLE
