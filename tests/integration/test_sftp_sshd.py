"""Upload/fetch against a real OpenSSH sshd (internal-sftp), faults included."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.integration.sftp_fixtures")

from sftp.keys import KeyPair  # noqa: E402
from sftp.partner import PartnerProfile  # noqa: E402
from tests.integration.sftp_fixtures import Backend, ExchangeContract  # noqa: E402
from tests.support.sshd import Sshd  # noqa: E402

pytest_plugins = ["tests.integration.sftp_fixtures"]
pytestmark = pytest.mark.sshd


class TestOpenSSH(ExchangeContract):
    @pytest.fixture
    def backend(self, sshd: Sshd, sshd_profile: PartnerProfile, sshd_remote: Path) -> Backend:
        def crash_and_restart() -> None:
            sshd.crash()
            sshd.start()

        def new_key() -> None:
            sshd.stop()
            sshd.new_host_key()
            sshd.start()

        return Backend(
            profile=sshd_profile,
            out_dir=sshd_remote / "to_partner",
            in_dir=sshd_remote / "from_partner",
            drop_sessions=sshd.kill_sessions,
            crash_and_restart=crash_and_restart,
            restart_with_new_host_key=new_key,
        )


def test_only_the_fixture_key_and_sftp_are_allowed(sshd: Sshd, client_key: KeyPair) -> None:
    config = sshd.config_path.read_text()
    assert "PasswordAuthentication no" in config and "ForceCommand internal-sftp" in config
    assert sshd.authorized_keys_path.read_text().strip() == f"restrict {client_key.public_line}"
    assert sshd.host == "127.0.0.1"


def test_missing_sshd_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.integration.sftp_fixtures as fx

    monkeypatch.setattr(fx, "find_sshd", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        fx.require_sshd()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        fx.require_sshd()
