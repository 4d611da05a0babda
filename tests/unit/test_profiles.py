"""Which profile's static key a run would rotate, and which file sections hold a key.

The profiles come from real files read by botocore's own session (``full_config``), the same
mapping the command passes in; each expected outcome is written by hand from botocore's
credential precedence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest

from awscli_rotate_key.errors import Refused
from awscli_rotate_key.rotate.profiles import (
    Credentials,
    KeySource,
    Location,
    ProfileFiles,
    static_key_source,
)

ROLE = "arn:aws:iam::123456789012:role/"

CREDENTIALS = """\
# static keys
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = default-secret

[temp]
aws_access_key_id = AKIATEMP000000000001
aws_secret_access_key = temp-secret
aws_session_token = FwoGZXIvYXdzE-token

[legacy-token]
aws_access_key_id = AKIALEGACY0000000001
aws_secret_access_key = legacy-secret
aws_security_token = FwoGZXIvYXdzE-token

[asia]
aws_access_key_id = ASIAEXAMPLE000000001
aws_secret_access_key = asia-secret
"""

CONFIG = f"""\
[default]
region = eu-west-1

[profile cfg]
aws_access_key_id = AKIACONFIG0000000001
aws_secret_access_key = cfg-secret

[profile role]
role_arn = {ROLE}deploy
source_profile = middle

[profile middle]
role_arn = {ROLE}hop
source_profile = default

[profile loop-a]
role_arn = {ROLE}a
source_profile = loop-b

[profile loop-b]
role_arn = {ROLE}b
source_profile = loop-a

[profile self]
role_arn = {ROLE}self
source_profile = self
aws_access_key_id = AKIASELF000000000001
aws_secret_access_key = self-secret

[profile to-ghost]
role_arn = {ROLE}ghost
source_profile = ghost

[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile sso-legacy]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Admin

[profile to-sso]
role_arn = {ROLE}from-sso
source_profile = sso

[profile login]
login_session = arn:aws:iam::123456789012:user/alice

[profile process]
credential_process = /usr/local/bin/get-credentials --profile work

[profile ec2]
role_arn = {ROLE}instance
credential_source = Ec2InstanceMetadata

[profile web]
role_arn = {ROLE}web
web_identity_token_file = /var/run/secrets/token

[profile bare]
region = us-east-1

[profile hop-with-key]
role_arn = {ROLE}hop-with-key
source_profile = default
aws_access_key_id = AKIAHOPKEY0000000001
aws_secret_access_key = hop-secret

[profile via-hop-with-key]
role_arn = {ROLE}via
source_profile = hop-with-key

[profile role-without-source]
role_arn = {ROLE}nowhere

[profile cfg-and-process]
aws_access_key_id = AKIACFGPROCESS000001
aws_secret_access_key = cfg-process-secret
credential_process = /usr/local/bin/get-credentials

[profile secret-only]
aws_secret_access_key = lonely-secret
"""


@pytest.fixture
def profiles(tmp_path: Path) -> dict[str, Any]:
    """``session.full_config['profiles']`` for CREDENTIALS and CONFIG, as the CLI builds it."""
    (tmp_path / "credentials").write_text(CREDENTIALS)
    (tmp_path / "config").write_text(CONFIG)
    session = botocore.session.Session()
    session.set_config_variable("credentials_file", str(tmp_path / "credentials"))
    session.set_config_variable("config_file", str(tmp_path / "config"))
    found: dict[str, Any] = session.full_config["profiles"]
    return found


SOURCES = [
    # requested, expected profile, expected chain
    ("default", "default", ("default",)),
    ("cfg", "cfg", ("cfg",)),
    ("role", "default", ("role", "middle", "default")),
    ("self", "self", ("self",)),  # a role whose source_profile is itself uses its own key
    # botocore signs AssumeRole with a source profile's own static key, even if it has a role.
    ("via-hop-with-key", "hop-with-key", ("via-hop-with-key", "hop-with-key")),
    # ... but the requested profile's role comes first.
    ("hop-with-key", "default", ("hop-with-key", "default")),
]


@pytest.mark.parametrize(("requested", "profile", "chain"), SOURCES)
def test_static_key_source_finds_the_profile_holding_the_key(
    profiles: dict[str, Any], requested: str, profile: str, chain: tuple[str, ...]
) -> None:
    found = static_key_source(requested, profiles, {}, profile_from_flag=False)

    assert found == KeySource(requested, profile, chain)


REFUSALS = [
    ("loop-a", "profile 'loop-a' has a source_profile loop"),
    ("to-ghost", "profile 'ghost' was not found"),
    ("missing", "profile 'missing' was not found"),
    ("sso", "profile 'sso' gets its credentials from IAM Identity Center"),
    ("sso-legacy", "profile 'sso-legacy' gets its credentials from IAM Identity Center"),
    ("to-sso", "profile 'sso' gets its credentials from IAM Identity Center"),
    ("login", "profile 'login' gets its credentials from an `aws login` session"),
    ("process", "profile 'process' gets its credentials from an external credential_process"),
    ("ec2", "profile 'ec2' gets its credentials from a role assumed with credential_source"),
    ("web", "profile 'web' gets its credentials from a web identity token"),
    ("temp", "profile 'temp' gets its credentials from temporary session credentials"),
    ("legacy-token", "profile 'legacy-token' gets its credentials from temporary session"),
    ("asia", "profile 'asia' gets its credentials from temporary session credentials"),
    ("bare", "profile 'bare' gets its credentials from no access key in the AWS files"),
    ("role-without-source", "a role_arn without source_profile or credential_source"),
    ("cfg-and-process", "credential_process (it wins over keys in the config file)"),
    ("secret-only", "profile 'secret-only' has an aws_secret_access_key but no aws_access_key_id"),
]


@pytest.mark.parametrize(("requested", "message"), REFUSALS)
def test_static_key_source_refuses_what_has_no_key_to_rotate(
    profiles: dict[str, Any], requested: str, message: str
) -> None:
    with pytest.raises(Refused) as refused:
        static_key_source(requested, profiles, {}, profile_from_flag=False)

    assert message in str(refused.value)
    assert refused.value.exit_code == 3


ENV = {"AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001", "AWS_SECRET_ACCESS_KEY": "env-secret"}


def test_environment_keys_win_over_aws_profile_so_the_run_is_refused(
    profiles: dict[str, Any],
) -> None:
    with pytest.raises(Refused, match="AWS_ACCESS_KEY_ID environment variable"):
        static_key_source("cfg", profiles, ENV, profile_from_flag=False)


def test_profile_flag_wins_over_environment_keys(profiles: dict[str, Any]) -> None:
    found = static_key_source("cfg", profiles, ENV, profile_from_flag=True)

    assert found == KeySource("cfg", "cfg", ("cfg",))


# -- ProfileFiles: what the two files hold --------------------------------------------------


def write_files(tmp_path: Path, credentials: str | None, config: str | None) -> ProfileFiles:
    files = ProfileFiles(str(tmp_path / "credentials"), str(tmp_path / "config"))
    for path, text in zip(files.paths(), (credentials, config), strict=True):
        if text is not None:
            Path(path).write_text(text)
    return files


KEY = "AKIASHARED0000000001"


def test_holding_lists_every_section_of_both_files_credentials_first(tmp_path: Path) -> None:
    files = write_files(
        tmp_path,
        f"[ci]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n"
        "[other]\naws_access_key_id = AKIAOTHER00000000001\naws_secret_access_key = o\n",
        f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n"
        f"[profile dev]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n"
        f"[sso-session corp]\naws_access_key_id = {KEY}\n"
        f"[services corp]\naws_access_key_id = {KEY}\n"
        "[plugins]\nrotate = awscli_rotate_key\n",
    )

    assert files.holding(KEY) == [
        Location(files.credentials, "ci", "ci"),
        Location(files.config, "default", "default"),
        Location(files.config, "profile dev", "dev"),
    ]


def test_config_section_names_are_read_as_botocore_reads_them(tmp_path: Path) -> None:
    files = write_files(
        tmp_path,
        None,
        f'[profile "my dev"]\naws_access_key_id = {KEY}\n'
        f"[profile 'quoted']\naws_access_key_id = {KEY}\n"
        f"[profile two words]\naws_access_key_id = {KEY}\n",
    )

    assert [loc.profile for loc in files.holding(KEY)] == ["my dev", "quoted"]


def test_credentials_of_prefers_the_credentials_file(tmp_path: Path) -> None:
    files = write_files(
        tmp_path,
        "[dev]\naws_access_key_id = AKIAFROMCREDENTIALS1\naws_secret_access_key = c\n",
        "[profile dev]\naws_access_key_id = AKIAFROMCONFIG00001\naws_secret_access_key = k\n"
        "region = eu-west-1\n"
        "[profile ops]\naws_access_key_id = AKIAOPS000000000001\naws_secret_access_key = p\n",
    )

    assert files.credentials_of("dev") == Credentials("AKIAFROMCREDENTIALS1", "c")
    assert files.credentials_of("ops") == Credentials("AKIAOPS000000000001", "p")


def test_credentials_of_a_profile_without_a_key_is_refused(tmp_path: Path) -> None:
    files = write_files(tmp_path, None, "[profile dev]\nregion = eu-west-1\n")

    with pytest.raises(Refused, match="profile 'dev' holds no access key"):
        files.credentials_of("dev")


def test_missing_files_hold_nothing(tmp_path: Path) -> None:
    files = write_files(tmp_path, None, None)

    assert files.holding(KEY) == []
    assert files.sections() == []


def test_a_secret_never_appears_in_the_repr_of_credentials() -> None:
    assert "s3cr3t" not in repr(Credentials("AKIAEXAMPLE000000001", "s3cr3t"))


def test_credentials_file_key_wins_over_credential_process(profiles: dict[str, Any]) -> None:
    found = static_key_source(
        "cfg-and-process",
        profiles,
        {},
        profile_from_flag=False,
        in_credentials_file={"cfg-and-process"},
    )

    assert found.profile == "cfg-and-process"


WEB_IDENTITY_ENV = {"AWS_ROLE_ARN": ROLE + "ci", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}


def test_web_identity_environment_wins_over_aws_profile(profiles: dict[str, Any]) -> None:
    with pytest.raises(Refused, match="web identity token"):
        static_key_source("cfg", profiles, WEB_IDENTITY_ENV, profile_from_flag=False)

    found = static_key_source("cfg", profiles, WEB_IDENTITY_ENV, profile_from_flag=True)
    assert found.profile == "cfg"


@pytest.mark.parametrize(
    ("first", "last", "profile"),
    [
        ("[profile dev]", '[profile "dev"]', "dev"),
        ("[default]", "[profile default]", "default"),
        ("[profile dev]", "[profile 'dev']", "dev"),
    ],
)
def test_two_headers_naming_one_profile_are_refused(
    tmp_path: Path, first: str, last: str, profile: str
) -> None:
    files = write_files(
        tmp_path,
        None,
        f"{first}\naws_access_key_id = AKIAFIRST0000000001\naws_secret_access_key = a\n"
        f"{last}\naws_access_key_id = AKIALAST00000000001\naws_secret_access_key = b\n",
    )

    with pytest.raises(Refused) as refused:
        files.refuse_duplicate_headers([profile])

    message = str(refused.value)
    assert f"{files.config} has 2 headers for profile {profile!r}: {first} and {last}" in message
    assert "nothing was changed" in message


def test_two_headers_of_another_profile_or_in_two_files_are_not_refused(tmp_path: Path) -> None:
    files = write_files(
        tmp_path,
        "[dev]\naws_access_key_id = AKIACRED00000000001\naws_secret_access_key = c\n",
        "[profile dev]\nregion = eu-west-1\n"
        '[profile ops]\nregion = eu-west-1\n[profile "ops"]\nregion = us-east-1\n',
    )

    files.refuse_duplicate_headers(["dev"])  # one header per file: botocore merges them


UNUSABLE = [
    ("aws_access_key_id = AKIANOSECRET0000001\n", "no aws_secret_access_key line"),
    ('aws_access_key_id = "AKIAQUOTED000000001"\naws_secret_access_key = s\n', "in quotes"),
    ("aws_access_key_id = AKIAQUOTED000000001\naws_secret_access_key = 's'\n", "in quotes"),
    ("aws_access_key_id =\naws_secret_access_key = s\n", "empty aws_access_key_id"),
]


@pytest.mark.parametrize(("lines", "message"), UNUSABLE)
def test_a_key_botocore_cannot_sign_with_is_refused(
    tmp_path: Path, lines: str, message: str
) -> None:
    files = write_files(tmp_path, "[dev]\n" + lines, None)

    with pytest.raises(Refused, match=message) as refused:
        files.refuse_unusable_key("dev")

    assert f"profile 'dev' in {files.credentials}" in str(refused.value)


def test_a_usable_key_is_not_refused(tmp_path: Path) -> None:
    files = write_files(
        tmp_path,
        "[dev]\naws_access_key_id = AKIAGOOD00000000001\naws_secret_access_key = s\n",
        None,
    )

    files.refuse_unusable_key("dev")
