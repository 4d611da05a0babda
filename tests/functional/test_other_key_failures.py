"""Issue 7, defect 4, as a review found it: once --delete-other-key has acted, every message
says what happened to the other key and the profiles that used it, through the real `aws`.
"""

from __future__ import annotations

from tests.functional.test_rotate_defects import two_profiles_two_keys

ROTATE = ("iam", "rotate-my-key", "--profile", "alice", "--delete-other-key")


def journal_left(home) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.name for p in (home.root / ".aws").iterdir() if p.name.startswith("rotate-my-key")]


def test_an_other_key_that_cannot_be_deleted_refuses_naming_the_moved_profile(
    moto_server, proxied_home, proxy
):
    user, a, b = two_profiles_two_keys(moto_server, proxied_home)
    proxy.fail("DeleteAccessKey", "AccessDenied", status=403)  # not the rights checks

    result = proxied_home.run(*ROTATE)

    assert result.returncode == 3, result.stderr
    line = result.stderr.splitlines()[-1]  # after the warning that config was made 0600
    assert line == (
        f"rotate-my-key: could not delete the other key {b.access_key_id}: it is still Active "
        f"(AccessDenied); profile 'alice2', which used it, now uses {a.access_key_id} (same "
        f"user), which works. No new key was created and the old key {a.access_key_id} is "
        f"unchanged. Run `aws iam rotate-my-key` again as before, or delete {b.access_key_id} "
        "yourself first"
    )
    assert result.stdout == ""
    assert moto_server.keys(user) == {a.access_key_id: "Active", b.access_key_id: "Active"}
    assert proxied_home.profile_key("alice2") == proxied_home.profile_key("alice")
    assert proxied_home.run("iam", "list-access-keys", "--profile", "alice2").returncode == 0
    assert journal_left(proxied_home) == []


def test_a_failed_create_after_deleting_the_other_key_says_so(moto_server, proxied_home, proxy):
    user, a, b = two_profiles_two_keys(moto_server, proxied_home)
    proxy.fail("CreateAccessKey", "AccessDenied", status=403)

    result = proxied_home.run(*ROTATE)

    assert result.returncode == 4, result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith("rotate-my-key: could not create a new key (AccessDenied)")
    assert line.endswith(
        f"The other key {b.access_key_id} was deleted; profile 'alice2', which used it, now "
        f"uses {a.access_key_id} (same user)."
    )
    assert "nothing else changed" not in line.lower()
    assert moto_server.keys(user) == {a.access_key_id: "Active"}
    assert proxied_home.profile_key("alice2") == proxied_home.profile_key("alice")
    assert proxied_home.run("iam", "list-access-keys", "--profile", "alice2").returncode == 0
    assert journal_left(proxied_home) == []
