"""Run the real ``aws`` executable with the plugin enabled in a throwaway HOME.

Which AWS CLI runs is chosen by the environment (``make test`` runs the suites once per CLI):

- ``ROTATE_KEY_TEST_CLI``: ``v1`` (default: the awscli of this venv), ``v1-oldest`` or ``v2``;
- ``ROTATE_KEY_TEST_AWS``: the ``aws`` executable (default: this venv's);
- ``ROTATE_KEY_TEST_PLUGIN_DIR``: for v2, the directory the plugin was installed into with
  ``pip install --target DIR --no-deps`` (README's v2 steps), named by ``cli_legacy_plugin_path``.

AWS CLI v2 2.9.19 (Debian's) ignores ``AWS_ENDPOINT_URL``: v2 runs get ``--endpoint-url``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENV_AWS = str(Path(sys.executable).parent / "aws")


@dataclass(frozen=True)
class Cli:
    """The AWS CLI under test and how the plugin is enabled in it."""

    name: str
    executable: str
    plugin_dir: str | None = None

    @property
    def major(self) -> int:
        return 2 if self.name == "v2" else 1

    @property
    def usage_exit_code(self) -> int:
        """The CLI's own exit code for a usage error (an invalid option value)."""
        return 252 if self.major == 2 else 255

    @property
    def plugin_config(self) -> str:
        legacy = f"cli_legacy_plugin_path = {self.plugin_dir}\n" if self.major == 2 else ""
        return f"[plugins]\n{legacy}rotate_key = awscli_rotate_key\n"

    def global_args(self, endpoint_url: str) -> list[str]:
        return ["--endpoint-url", endpoint_url] if self.major == 2 else []


def cli_under_test() -> Cli:
    name = os.environ.get("ROTATE_KEY_TEST_CLI", "v1")
    if name not in ("v1", "v1-oldest", "v2"):
        raise ValueError(f"ROTATE_KEY_TEST_CLI={name!r}: expected v1, v1-oldest or v2")
    executable = os.path.abspath(  # tests may run `aws` from another working directory
        os.environ.get("ROTATE_KEY_TEST_AWS") or ("/usr/bin/aws" if name == "v2" else VENV_AWS)
    )
    plugin_dir = os.environ.get("ROTATE_KEY_TEST_PLUGIN_DIR")
    if name == "v2" and not plugin_dir:
        raise ValueError(
            "ROTATE_KEY_TEST_CLI=v2 needs ROTATE_KEY_TEST_PLUGIN_DIR (make test sets it)"
        )
    return Cli(name, executable, plugin_dir)


CLI = cli_under_test()
AWS = CLI.executable
PLUGIN_CONFIG = CLI.plugin_config


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.stdout)


@dataclass
class AwsHome:
    """A throwaway AWS config home: config + credentials files and the environment to use them."""

    root: Path
    endpoint_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / ".aws").mkdir(parents=True, exist_ok=True)
        if not self.config.exists():
            self.config.write_text(PLUGIN_CONFIG)
        if not self.credentials.exists():
            self.credentials.touch(mode=0o600)

    @property
    def config(self) -> Path:
        return self.root / ".aws" / "config"

    @property
    def credentials(self) -> Path:
        return self.root / ".aws" / "credentials"

    def add_profile(self, name: str, key, where: str = "credentials", **extra: str) -> None:  # type: ignore[no-untyped-def]
        """Append a static-key profile to the credentials (or config) file."""
        lines = [
            f"aws_access_key_id = {key.access_key_id}",
            f"aws_secret_access_key = {key.secret_access_key}",
        ] + [f"{k} = {v}" for k, v in extra.items()]
        if where == "credentials":
            header, path = f"[{name}]", self.credentials
        else:
            header = "[default]" if name == "default" else f"[profile {name}]"
            path = self.config
        text = path.read_text()
        if text and not text.endswith("\n"):
            text += "\n"
        path.write_text(text + header + "\n" + "\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            HOME=str(self.root),
            AWS_CONFIG_FILE=str(self.config),
            AWS_SHARED_CREDENTIALS_FILE=str(self.credentials),
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
        )
        env.update(self.extra_env)
        return env

    @property
    def cli(self) -> Cli:
        return CLI

    @property
    def usage_exit_code(self) -> int:
        """255 under v1, 252 under v2: what an invalid option value must exit with."""
        return CLI.usage_exit_code

    def argv(self, *args: str) -> list[str]:
        return [AWS, *CLI.global_args(self.endpoint_url), *args]

    def run(
        self, *args: str, timeout: float = 120, input: str | None = None, cwd: str | None = None
    ) -> Result:
        proc = subprocess.run(
            self.argv(*args),
            env=self.env(),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def spawn(self, *args: str, cwd: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            env=self.env(),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def profile_key(self, name: str) -> tuple[str | None, str | None]:
        """(access key id, secret) of a profile, read from the files as botocore reads them."""
        from botocore.configloader import raw_config_parse

        creds = (
            raw_config_parse(str(self.credentials)).get(name, {})
            if self.credentials.exists()
            else {}
        )
        section = name if name == "default" else f"profile {name}"
        conf = raw_config_parse(str(self.config)).get(section, {})
        for source in (creds, conf):
            if "aws_access_key_id" in source:
                return source["aws_access_key_id"], source.get("aws_secret_access_key")
        return None, None
