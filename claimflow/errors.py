"""Typed errors of the app shell. Messages name files, claims (by claim number) and interchange ids,
never patient data.

Every class says, as class attributes, what its callers need to decide without matching names:

* ``retryable``: may the same step succeed if simply run again later (a partner or database outage)?
  Airflow's retry policy (``dags.common``) reads it; bad data and refused credentials are never retried.
* ``operator_hint``: one sentence for the billing office / on-call engineer: what to do next.
* ``exit_code``: what ``claimflow`` exits with when this error ends a command (2 bad input, usage or
  configuration; 1 the command ran and found problems).
"""

from __future__ import annotations


class ClaimflowError(Exception):
    """Base class."""

    retryable: bool = False
    operator_hint: str = "See the task log for details; rerunning the task is safe."
    exit_code: int = 1


class BadDataError(ClaimflowError):
    """The data is wrong (an invalid 837, a malformed inbound file): retrying cannot help."""

    operator_hint = (
        "The file is quarantined or held back; the rest of the batch went on. Correct or resend it."
    )
    exit_code = 2


class DataQualityError(ClaimflowError):
    """The nightly data-quality checks found unexplained exceptions."""

    operator_hint = "Open the run report and the balance_exceptions table for the details."

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])


class ConfigurationError(ClaimflowError):
    """A setting, connection or partner profile is missing or inconsistent."""

    operator_hint = "Fix the setting or connection named in the message, then rerun."
    exit_code = 2


class DatabaseNotReady(ConfigurationError):
    """claimflow's database does not exist yet, or exists but was never initialised (no migrations).

    Commands other than ``init-db`` and ``demo`` refuse to create one: a command run in the wrong folder
    must not leave an empty ``claimflow.db`` behind."""

    operator_hint = "Run `claimflow init-db` (or point CLAIMFLOW_DATABASE_URL at the right database)."


class UsageError(ClaimflowError):
    """A command-line value that is well-formed but cannot be used (a date in the future, a missing file)."""

    exit_code = 2
