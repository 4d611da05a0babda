"""Invariants 1 and 2 checked at the instant each step happens, from inside the proxy."""

from __future__ import annotations

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def test_new_secret_is_on_disk_before_the_new_key_is_first_used(world, proxy):
    seen: list = []

    def check(call):  # type: ignore[no-untyped-def]
        if call.key_id not in world.known_keys():
            seen.append(
                (
                    call.action,
                    call.key_id,
                    world.home.profile_key("alice")[0],
                    world.home.profile_key("alice-cfg")[0],
                )
            )

    proxy.on("*", check)
    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    new_id = result.json["NewAccessKeyId"]
    assert seen, "the new key was never used"
    for action, signer, in_credentials, in_config in seen:
        assert signer == new_id and in_credentials == new_id and in_config == new_id, action


def test_rollback_restores_the_files_before_deleting_the_new_key(world, proxy):
    at_delete: list = []
    proxy.reject_unknown_keys(world.known_keys())
    proxy.on(
        "DeleteAccessKey",
        lambda call: at_delete.append(
            {world.home.profile_key(p)[0] for p in ("alice", "alice-cfg")}
        ),
    )

    result = world.home.run(*ROTATE, "--wait-timeout", "2")

    assert result.returncode == 4, result.stderr
    assert at_delete == [{world.old.access_key_id}]
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}


def test_files_always_hold_an_active_key_during_a_rotation(world, proxy):
    """Sample the invariant at every request of a successful rotation."""
    violations: list = []

    def check(call):  # type: ignore[no-untyped-def]
        key_id = world.home.profile_key("alice")[0]
        status = world.moto.keys(world.user).get(key_id)
        if status != "Active":
            violations.append((call.action, key_id, status))

    proxy.on("*", check, when="after")
    result = world.home.run(*ROTATE)

    assert result.returncode == 0, result.stderr
    assert violations == []
