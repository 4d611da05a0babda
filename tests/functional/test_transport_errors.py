"""A TLS failure is reported as what it is, not as a local file error (through the real aws)."""

from __future__ import annotations

from tests.support.cli import AwsHome


def test_a_tls_failure_names_itself_and_changes_nothing(moto_server, tmp_path):  # type: ignore[no-untyped-def]
    # https:// to moto's plain-HTTP port: the TLS handshake fails (botocore's SSLError).
    home = AwsHome(tmp_path / "home", moto_server.url.replace("http://", "https://"))
    user = moto_server.make_user()
    key = moto_server.make_key(user, age_days=100)
    home.add_profile("alice", key)
    before = home.credentials.read_bytes()

    result = home.run("iam", "rotate-my-key", "--profile", "alice", "--wait-timeout", "5")

    assert result.returncode == 255, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("rotate-my-key: GetUser: SSLError: "), line
    assert "local file" not in line
    assert moto_server.keys(user) == {key.access_key_id: "Active"}
    assert home.credentials.read_bytes() == before
