"""The new secret never reaches stdout, stderr, --debug logs or the CLI history database."""

from __future__ import annotations

import sqlite3

from tests.functional.test_rotate_my_key import setup_alice


def test_debug_output_is_redacted_but_kept(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)

    result = aws_home.run("--debug", "iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr[-2000:]
    new_id, new_secret = aws_home.profile_key("alice")
    assert new_secret and new_secret not in result.stderr and new_secret not in result.stdout
    assert old.secret_access_key not in result.stderr
    # The CreateAccessKey response body is still logged, with the secret replaced.
    assert "<SecretAccessKey><redacted></SecretAccessKey>" in result.stderr
    assert f"<AccessKeyId>{new_id}</AccessKeyId>" in result.stderr


def test_cli_history_never_records_the_secret(moto_server, aws_home):
    user, old = setup_alice(moto_server, aws_home)
    with aws_home.config.open("a") as f:
        f.write("[profile alice]\ncli_history = enabled\n")

    result = aws_home.run("iam", "rotate-my-key", "--profile", "alice")

    assert result.returncode == 0, result.stderr
    _, new_secret = aws_home.profile_key("alice")
    db = aws_home.root / ".aws" / "cli" / "history" / "history.db"
    assert db.exists(), "cli_history did not record anything: the test would prove nothing"
    rows = sqlite3.connect(db).execute("SELECT event_type, payload FROM records").fetchall()
    payloads = "\n".join(str(p) for _, p in rows)
    assert "ListAccessKeys" in payloads  # history records the other calls ...
    assert new_secret not in payloads  # ... but never the CreateAccessKey answer
    assert old.secret_access_key not in payloads
