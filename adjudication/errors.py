"""Typed exceptions of the adjudication package.

Messages name claim ids, claim numbers, claim payment ids, txn keys and CSV line numbers, never PHI
(names, member IDs, dates of birth, addresses) and never raw values from inbound files.
"""

from __future__ import annotations


class AdjudicationError(Exception):
    """Base class of everything the adjudication package raises on purpose."""

    retryable: bool = False
    operator_hint: str = "Open the run report and the balance_exceptions table for the details."


class InvalidTransition(AdjudicationError):
    """A claim status change the lifecycle does not allow (e.g. ``closed`` → ``accepted``)."""

    def __init__(self, claim: str | int, current: str, target: str) -> None:
        super().__init__(f"claim {claim}: status {str(current)!r} cannot become {str(target)!r}")
        self.claim = claim
        self.current = current
        self.target = target


class LedgerImbalance(AdjudicationError):
    """A set of ledger entries for one txn_key that does not sum to zero (never written)."""


class PostingError(AdjudicationError):
    """Posting could not proceed (e.g. a remittance referenced something that does not exist)."""


class PaymentFileError(AdjudicationError):
    """A patient payment CSV that cannot be read at all (missing file, wrong header). Individual bad
    rows are not errors: they are reported by line number and the good rows are imported."""


class WriteOffError(AdjudicationError):
    """A write-off that cannot be made (unknown claim, nothing to write off, amount above balance)."""


class DataQualityError(AdjudicationError):
    """The nightly data-quality checks found problems; ``problems`` lists them (no PHI)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} data-quality problem(s): " + "; ".join(problems[:10]))
        self.problems = problems
