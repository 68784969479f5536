"""Shared DAG wiring: default arguments, retry policy, failure messages, partner connections.

Kept light: Airflow's SDK is imported by the DAG files themselves; nothing here imports claimflow's
domain packages at module level, so parsing the DAG folder stays fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

log = logging.getLogger("claimflow.dags")

INBOX_ASSET_URI = "claimflow://clearinghouse/inbox-loaded"
SUBMITTED_ASSET_URI = "claimflow://clearinghouse/claims-submitted"
NIGHTLY_TIME = os.environ.get("CLAIMFLOW_NIGHTLY_CRON", "30 1 * * *")
DEADLINE_HOURS = float(os.environ.get("CLAIMFLOW_NIGHTLY_DEADLINE_HOURS", "6"))
PARTNER = os.environ.get("CLAIMFLOW_DEFAULT_PARTNER", "sandbox")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# Retry or not, and what to tell the operator, come from the exception's type: the project's exception
# base classes (claimflow.errors.ClaimflowError, sftp.errors.SFTPError, edi.errors.X12Error,
# adjudication.errors.AdjudicationError) carry ``retryable`` and ``operator_hint``. Other exceptions (a
# socket timeout, a database outage) are classified by :func:`classify` below; nothing is decided by
# matching class names.
DEFAULT_HINT = "See the task log for details; rerunning the task is safe."
DATABASE_HINT = (
    "claimflow's database could not be reached; the task retries, then rerun it once the database is back."
)


def classify(exc: BaseException | None) -> tuple[bool | None, str]:
    """``(retryable, operator hint)``; ``retryable`` None means "no opinion" (Airflow's retries apply).

    Called in the task's process after a failure, so imports are cheap: only modules already loaded are
    consulted (an exception cannot be an instance of a class whose module was never imported)."""
    import sys

    if exc is None:
        return None, DEFAULT_HINT
    retryable = getattr(type(exc), "retryable", None)
    if isinstance(retryable, bool):
        hint = getattr(exc, "operator_hint", None)
        return retryable, hint if isinstance(hint, str) and hint else DEFAULT_HINT
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        return True, DATABASE_HINT
    if "paramiko" in sys.modules:
        from sftp.retry import is_retryable  # the SFTP layer's own rule for raw paramiko/socket errors

        if is_retryable(exc):
            return (
                True,
                "The clearinghouse could not be reached; tonight's files stay queued and go out on the next run.",
            )
        paramiko = sys.modules["paramiko"]
        if isinstance(exc, paramiko.AuthenticationException | paramiko.BadHostKeyException):
            from sftp.errors import AuthenticationFailed, HostKeyMismatch

            cls = (
                AuthenticationFailed if isinstance(exc, paramiko.AuthenticationException) else HostKeyMismatch
            )
            return False, cls.operator_hint
    if isinstance(exc, ConnectionError | TimeoutError):
        return True, "A service could not be reached; the task retries with backoff."
    return None, DEFAULT_HINT


def retry_policy() -> Any:
    from airflow.sdk import RetryAction
    from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryDecision

    class ClaimflowRetryPolicy(ExceptionRetryPolicy):
        """Bad data and refused credentials fail at once; outages retry with backoff; anything else gets
        the task's ordinary retries. Decided by :func:`classify` (the exception's type)."""

        def evaluate(
            self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
        ) -> RetryDecision:
            retryable, _hint = classify(exception)
            if retryable is False:
                return RetryDecision.fail(
                    reason=f"{type(exception).__name__}: bad data or refused credentials, not retried"
                )
            if retryable is True:
                return RetryDecision.retry(
                    reason=f"{type(exception).__name__}: transient, retrying with backoff"
                )
            return super().evaluate(exception, try_number, max_tries, context)

    return ClaimflowRetryPolicy(rules=[], default=RetryAction.DEFAULT)


def default_args() -> dict[str, Any]:
    return {
        "owner": "revenue-cycle",
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=float(os.environ.get("CLAIMFLOW_RETRY_DELAY_SECONDS", "120"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=20),
        "execution_timeout": dt.timedelta(minutes=30),
        "retry_policy": retry_policy(),
        "on_failure_callback": explain_failure,
        "on_execute_callback": private_files,
    }


def private_files(context: dict[str, Any]) -> None:
    """Before each task: umask 077 in the task's process, so every file it writes (837s, archived inbound
    files, reports, SQLite) is private; and the data folders exist 0700 (tightened if open)."""
    from claimflow.db.at_rest import private_umask
    from claimflow.settings import prepare_data_dirs

    private_umask()
    prepare_data_dirs()


def explain_failure(context: dict[str, Any]) -> None:
    """Say what failed in a billing manager's words: which step, which file or claim, what to do next.

    Exception messages in claimflow name files, segment numbers, claim numbers and interchange ids —
    never patient data — so they can be repeated here.
    """
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    what = STEP_WORDS.get(task_id, task_id)
    hint = _hint(exc)
    message = (
        f"claimflow: '{what}' failed"
        + (f" (item {map_index})" if map_index is not None and map_index >= 0 else "")
        + f": {exc}. {hint}"
    )
    log.error(message)


STEP_WORDS = {
    "plan_batches": "plan tonight's 837 build (move aside files of an interrupted run)",
    "build_batch": "scrub claims and write 837 files (one shard)",
    "scrub_and_batch": "add up tonight's 837 files",
    "validate_file": "validate an 837 file against the 5010 guide",
    "upload_file": "send an 837 file to the clearinghouse",
    "fetch_new_files": "collect files from the clearinghouse",
    "load_file": "read and store a clearinghouse file",
    "apply_acknowledgments": "apply 999/277CA acknowledgments to claims",
    "post_remittances": "post 835 payments to claims",
    "issue_follow_up_claims": "create the secondary and tertiary claims due",
    "reconcile_balances": "reconcile patient balances",
    "balance_proof": "prove every remittance, claim and ledger entry balances",
    "data_quality": "data-quality checks",
    "build_worklist": "build the billing office's work queues",
    "run_report": "write the nightly run report",
}


def _hint(exc: BaseException | None) -> str:
    return classify(exc)[1]


@contextmanager
def partner_sftp(partner: str) -> Iterator[tuple[Any, Any]]:
    """A connected paramiko SFTPClient and the partner profile.

    From the Airflow connection ``claimflow_<partner>`` (SFTPHook; the host key in its extra is always
    verified) when one exists, else from the ``CLAIMFLOW_PARTNER_<NAME>`` environment profile.
    """
    from airflow.exceptions import AirflowNotFoundException

    from sftp.partner import profile_from_connection, profile_from_env

    conn_id = f"claimflow_{partner}"
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    if conn is None:
        from sftp.connect import open_sftp

        profile = profile_from_env(partner)
        with open_sftp(profile) as client:
            yield client, profile
        return
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    from sftp.connect import typed_ssh_errors

    profile = profile_from_connection(partner, conn.host, conn.port, conn.login, conn.extra_dejson)
    hook = SFTPHook(ssh_conn_id=conn_id)
    with ExitStack() as stack:
        # a refused key / changed host key / refused connection becomes sftp.errors' typed error (one-line
        # explanation, not retried or retried by type); errors of the transfer itself pass through
        with typed_ssh_errors(profile, "connecting"):
            client = stack.enter_context(hook.get_managed_conn())
        yield client, profile


def deadline_missed(**kwargs: Any) -> None:
    """Deadline alert: the nightly reconciliation has not finished in time."""
    log.error(
        "claimflow: the nightly reconciliation has not finished within %.1f hours. Patient balances and the "
        "run report for tonight are not ready; check the running tasks in the Airflow UI.",
        DEADLINE_HOURS,
    )
