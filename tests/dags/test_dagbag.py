"""The DAGs folder imports cleanly, fast, and every DAG is wired the way operators expect."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {"claims_submission", "clearinghouse_inbox", "nightly_reconciliation"}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("airflow_home")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # The DAGs as deployed: the demo and dag.test() runs export CLAIMFLOW_NIGHTLY_DEADLINE_HOURS=0 (Airflow
    # 3.3's dag.test cannot finish a run with a deadline alert); a shell or process that still has it would
    # otherwise load a nightly DAG without its deadline and fail the deadline test for the wrong reason.
    saved = os.environ.pop("CLAIMFLOW_NIGHTLY_DEADLINE_HOURS", None)
    import importlib

    import dags.common

    importlib.reload(dags.common)  # DEADLINE_HOURS is read at import
    from airflow.dag_processing.dagbag import DagBag

    try:
        return DagBag(dag_folder=str(DAGS))
    finally:
        if saved is not None:
            os.environ["CLAIMFLOW_NIGHTLY_DEADLINE_HOURS"] = saved


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_every_dag_is_documented_retried_and_owned(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert dag.max_active_runs == 1
        assert not dag.catchup
        for task in dag.tasks:
            assert task.execution_timeout is not None, (dag_id, task.task_id)
            assert task.on_failure_callback, (dag_id, task.task_id)
            assert task.retry_policy is not None, (dag_id, task.task_id)


def test_sftp_tasks_use_a_partner_pool(dagbag) -> None:  # type: ignore[no-untyped-def]
    upload = dagbag.dags["claims_submission"].get_task("upload_file")
    fetch = dagbag.dags["clearinghouse_inbox"].get_task("fetch_new_files")
    eligibility = dagbag.dags["claims_submission"].get_task("request_eligibility")
    status = dagbag.dags["nightly_reconciliation"].get_task("request_claim_status")
    assert upload.pool.startswith("sftp_") and fetch.pool == upload.pool
    assert eligibility.pool == upload.pool and status.pool == upload.pool


def test_claims_submission_asks_about_eligibility_first(dagbag) -> None:  # type: ignore[no-untyped-def]
    """The 270 batch goes out before tonight's claims are scrubbed, and its failure does not stop them."""
    dag = dagbag.dags["claims_submission"]
    order = [t.task_id for t in dag.topological_sort()]
    assert order[:4] == ["request_eligibility", "plan_batches", "build_batch", "scrub_and_batch"]
    assert dag.get_task("plan_batches").trigger_rule == "all_done"
    assert dag.get_task("request_eligibility").upstream_task_ids == set()


def test_claims_submission_builds_in_mapped_shards(dagbag) -> None:  # type: ignore[no-untyped-def]
    """The 837 build fans out (one mapped build_batch per shard) and the shards are summed before validation."""
    dag = dagbag.dags["claims_submission"]
    build = dag.get_task("build_batch")
    assert build.upstream_task_ids == {"plan_batches"}
    assert dag.get_task("scrub_and_batch").upstream_task_ids == {"build_batch"}
    assert type(build).__name__.endswith("MappedOperator")


def test_nightly_reconciliation_runs_after_the_inbox_and_has_a_deadline(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["nightly_reconciliation"]
    assert "inbox-loaded" in str(dag.timetable.asset_condition)
    assert dag.deadline, "a nightly run that has not finished by the deadline must alert"
    order = [t.task_id for t in dag.topological_sort()]
    # the 276 requests branch off after posting (claims paid tonight are not asked about) and block nothing
    status = dag.get_task("request_claim_status")
    assert status.upstream_task_ids == {"post_remittances"} and status.downstream_task_ids == set()
    order.remove("request_claim_status")
    assert order == [
        "apply_acknowledgments",
        "post_remittances",
        "issue_follow_up_claims",
        "reconcile_balances",
        "balance_proof",
        "data_quality",
        "build_worklist",
        "run_report",
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dag_file_imports_in_under_two_seconds(name: str) -> None:
    """Measured in a fresh interpreter after the Airflow SDK itself is loaded (what the DAG processor pays)."""
    code = (
        "import time, importlib, airflow.sdk, airflow.timetables.assets, airflow.timetables.trigger\n"
        f"t = time.perf_counter(); importlib.import_module('dags.{name}'); print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
    )
    seconds = float(out.stdout.strip().splitlines()[-1])
    assert seconds < 2.0, f"dags/{name}.py took {seconds:.2f} s to import"


def test_dag_modules_do_not_import_heavy_packages_at_parse_time() -> None:
    code = (
        "import sys, importlib\n"
        "for m in ('claims_submission', 'clearinghouse_inbox', 'nightly_reconciliation'):\n"
        "    importlib.import_module('dags.' + m)\n"
        "heavy = [m for m in ('pandas', 'pyx12', 'simple_icd_10_cm', 'claimflow.db.models', 'adjudication.posting')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout, out.stdout
    assert time.perf_counter() - t0 < 60


# ---------------------------------------------------------------------------------------------------------
# retry and failure advice are decided by the exception's type (retryable / operator_hint), not its name
# ---------------------------------------------------------------------------------------------------------


def _decisions() -> list[tuple[BaseException, str]]:
    import paramiko
    from sqlalchemy.exc import OperationalError

    from claimflow.errors import BadDataError, DataQualityError
    from edi.errors import X12ParseError
    from sftp.errors import AuthenticationFailed, HostKeyMismatch, ProfileMismatch, TransientTransferError

    return [
        (AuthenticationFailed("partner sandbox (claimflow@127.0.0.1:2222): authentication failed"), "fail"),
        (HostKeyMismatch("partner sandbox: host key changed"), "fail"),
        (ProfileMismatch("x.837: ISA15 is P, the profile is T"), "fail"),
        (
            paramiko.AuthenticationException("Authentication failed."),
            "fail",
        ),  # raw, from a hook we did not wrap
        (X12ParseError("bad.835: segment 5 (CLP): CLP04 is not a number"), "fail"),
        (BadDataError("out.837 failed 5010 validation"), "fail"),
        (DataQualityError("3 data-quality problems"), "fail"),
        (TransientTransferError("partner sandbox: connecting: Connection refused"), "retry"),
        (ConnectionResetError(104, "Connection reset by peer"), "retry"),
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), "retry"),
        (ValueError("a bug"), "default"),
    ]


def test_retry_policy_decides_by_exception_type() -> None:
    from airflow.sdk import RetryAction

    from dags.common import retry_policy

    policy = retry_policy()
    for exc, expected in _decisions():
        decision = policy.evaluate(exc, try_number=1, max_tries=4)
        assert (
            decision.action
            == {"fail": RetryAction.FAIL, "retry": RetryAction.RETRY, "default": RetryAction.DEFAULT}[
                expected
            ]
        ), (type(exc).__name__, decision)


def test_a_subclass_with_another_name_is_classified_by_its_base() -> None:
    """Name matching would miss this one: the class name says nothing about SFTP or X12."""
    from airflow.sdk import RetryAction

    from dags.common import classify, retry_policy
    from sftp.errors import AuthenticationFailed, TransientTransferError

    class KeyNotRegistered(AuthenticationFailed):
        pass

    class PartnerAway(TransientTransferError):
        pass

    assert retry_policy().evaluate(KeyNotRegistered("x"), 1, 4).action == RetryAction.FAIL
    assert retry_policy().evaluate(PartnerAway("x"), 1, 4).action == RetryAction.RETRY
    assert classify(KeyNotRegistered("x"))[1] == AuthenticationFailed.operator_hint


def test_failure_message_is_one_line_with_the_types_hint(caplog: pytest.LogCaptureFixture) -> None:
    import paramiko

    from dags.common import explain_failure
    from sftp.errors import AuthenticationFailed

    class TI:
        task_id = "fetch_new_files"
        map_index = -1

    for exc in (
        AuthenticationFailed("partner sandbox (claimflow@127.0.0.1:2222): authentication failed"),
        paramiko.AuthenticationException("Authentication failed."),
    ):
        caplog.clear()
        with caplog.at_level("ERROR", logger="claimflow.dags"):
            explain_failure({"task_instance": TI(), "exception": exc})
        (record,) = [r for r in caplog.records if r.name == "claimflow.dags"]
        message = record.getMessage()
        assert "\n" not in message
        assert message.startswith("claimflow: 'collect files from the clearinghouse' failed: ")
        assert "refused our key" in message and "not retried" in message


def test_typed_ssh_errors_turns_paramiko_failures_into_sftp_errors() -> None:
    import paramiko

    from sftp.connect import typed_ssh_errors
    from sftp.errors import AuthenticationFailed, TransientTransferError
    from sftp.partner import PartnerProfile

    profile = PartnerProfile(
        name="sandbox",
        host="127.0.0.1",
        port=2222,
        username="claimflow",
        host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    )
    with pytest.raises(AuthenticationFailed) as auth, typed_ssh_errors(profile, "connecting"):
        raise paramiko.AuthenticationException("Authentication failed.")
    assert "claimflow@127.0.0.1:2222" in str(auth.value) and auth.value.retryable is False
    with pytest.raises(TransientTransferError), typed_ssh_errors(profile, "connecting"):
        raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(KeyError), typed_ssh_errors(profile, "connecting"):  # passes through untouched
        raise KeyError("x")
