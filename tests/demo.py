"""``make demo``: one real ``aws iam rotate-my-key``, offline, against moto on 127.0.0.1.

Starts moto's server with request signing enforced, creates a sandbox IAM user with one access
key and a profile ``demo`` in a throwaway AWS home, enables the plugin there the way a user does,
runs the rotation through the real ``aws`` executable and checks the result. Prints key IDs and
statuses, never a secret. Exits 1 if anything is off. Run from anywhere:
``.venv/bin/python tests/demo.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# botocore before anything could import awscli (its import alias would swap botocore under moto).
import botocore  # noqa: E402, F401
from botocore.exceptions import ClientError  # noqa: E402

from tests.support.cli import AwsHome, Result  # noqa: E402
from tests.support.moto import Key, MotoServer  # noqa: E402

PROFILE = "demo"
ENABLE = ("configure", "set", "plugins.rotate_key", "awscli_rotate_key")
ROTATE = ("iam", "rotate-my-key", "--profile", PROFILE, "--verbose")


class Demo:
    """The sandbox (user, key, AWS home) and what went wrong so far."""

    def __init__(self, server: MotoServer, root: Path) -> None:
        self.server = server
        self.problems: list[str] = []
        self.secrets: list[str] = []
        # An empty config, so that enabling the plugin below is the user's own step.
        (root / ".aws").mkdir(parents=True)
        (root / ".aws" / "config").write_text("")
        self.home = AwsHome(root, server.url)
        self.user = server.make_user("demo-user")
        self.old = server.make_key(self.user, age_days=120)
        self.secrets.append(self.old.secret_access_key)
        self.home.add_profile(PROFILE, self.old)

    def check(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    def aws(self, *args: str) -> Result:
        """Run the real ``aws`` in the sandbox and show the command with its output."""
        print(f"\n$ aws {' '.join(args)}")
        result = self.home.run(*args)
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            if text.strip():
                print(f"--- {name} ---\n{self.without_secrets(text).rstrip()}")
        print(f"--- exit code {result.returncode} ---")
        return result

    def without_secrets(self, text: str) -> str:
        for secret in self.secrets:
            if secret and secret in text:
                self.problems.append("a secret access key appeared in the output")
                text = text.replace(secret, "<redacted>")
        return text

    def show_keys(self, when: str) -> dict[str, str]:
        keys = self.server.keys(self.user)
        held = self.home.profile_key(PROFILE)[0]
        print(f"\nAccess keys of IAM user {self.user} {when}:")
        for key_id, status in keys.items():
            print(f"  {key_id}  {status:8}{'  <- profile demo' if key_id == held else ''}")
        return keys


def old_key_refused(server: MotoServer, old: Key) -> bool:
    try:
        server.client("sts", old).get_caller_identity()
    except ClientError as error:
        return bool(error.response["Error"]["Code"] == "InvalidClientTokenId")
    return False


def run_demo(demo: Demo) -> None:
    enabled = demo.aws(*ENABLE)
    demo.check(enabled.returncode == 0, "`aws configure set plugins...` failed")
    before = demo.show_keys("before")
    demo.check(before == {demo.old.access_key_id: "Active"}, f"unexpected keys before: {before}")

    rotated = demo.aws(*ROTATE)
    new_key_id, new_secret = demo.home.profile_key(PROFILE)
    demo.secrets.append(new_secret or "")
    demo.without_secrets(rotated.stdout + rotated.stderr)
    if not demo.check(rotated.returncode == 0, f"rotate-my-key exited {rotated.returncode}"):
        return
    output = json.loads(rotated.stdout)
    after = demo.show_keys("after")
    print(f"\nProfile {PROFILE} now holds {new_key_id}.")

    demo.check(output.get("Rotated") is True, "the output does not say Rotated: true")
    demo.check(output.get("OldAccessKeyId") == demo.old.access_key_id, "wrong OldAccessKeyId")
    demo.check(new_key_id != demo.old.access_key_id, "the profile still holds the old key")
    demo.check(output.get("NewAccessKeyId") == new_key_id, "the profile does not hold the new key")
    demo.check(after == {new_key_id: "Active"}, f"IAM should hold only the new key: {after}")
    demo.check(old_key_refused(demo.server, demo.old), "IAM still accepts the old key")

    identity = demo.aws("sts", "get-caller-identity", "--profile", PROFILE)
    demo.check(
        identity.returncode == 0 and identity.json["Arn"].endswith(f":user/{demo.user}"),
        "the new key does not work for the demo profile",
    )


def main() -> int:
    print("Starting moto's server on 127.0.0.1 (request signing enforced)...")
    server = MotoServer()
    try:
        server.assert_signing_enforced()
        with tempfile.TemporaryDirectory(prefix="rotate-key-demo-") as tmp:
            demo = Demo(server, Path(tmp) / "home")
            print(f"Sandbox AWS home: {demo.home.root} (removed at the end); endpoint {server.url}")
            print(f"IAM user {demo.user} with key {demo.old.access_key_id} in profile {PROFILE}")
            run_demo(demo)
    finally:
        server.stop()
    if demo.problems:
        print("\nDEMO FAILED:\n" + "\n".join(f"  - {p}" for p in demo.problems))
        return 1
    print("\nDEMO OK: the profile holds a new, working key; the old key is deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
