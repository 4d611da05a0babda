"""Issue 7, defect 10: another program puts the old key back while the new one is proven.

Right before the old key is retired the files are read again: a key put back once is written
again and the rotation finishes; a key put back every time undoes the rotation (exit 4).
"""

from __future__ import annotations

import os
import threading

ROTATE = ("iam", "rotate-my-key", "--profile", "alice")


def write_back(path, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """As another program saving its copy would (atomically, so no reader sees half a file)."""
    tmp = f"{path}.other-program"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def at_first_call_of_the_new_key(world, proxy, action):  # type: ignore[no-untyped-def]
    fired = threading.Event()

    def hook(call):  # type: ignore[no-untyped-def]
        if call.key_id not in world.known_keys() and not fired.is_set():
            fired.set()
            action()

    proxy.on("ListAccessKeys", hook)
    return fired


def test_the_old_key_put_back_once_is_written_again_and_the_rotation_finishes(world, proxy):
    credentials = world.home.credentials
    original = credentials.read_bytes()
    fired = at_first_call_of_the_new_key(world, proxy, lambda: write_back(credentials, original))

    result = world.home.run(*ROTATE)

    assert fired.is_set()
    assert result.returncode == 0, result.stderr
    assert str(credentials) in result.stderr and "once more" in result.stderr
    final = world.assert_clean_final_state()
    assert final == result.json["NewAccessKeyId"]
    assert world.home.profile_key("alice")[0] == final


def test_the_old_key_put_back_every_time_undoes_the_rotation(world, proxy):
    credentials = world.home.credentials
    original = credentials.read_bytes()
    stop = threading.Event()

    def keep_writing_it_back() -> None:
        while not stop.wait(0.02):
            write_back(credentials, original)

    writer = threading.Thread(target=keep_writing_it_back, daemon=True)
    fired = at_first_call_of_the_new_key(world, proxy, writer.start)
    try:
        result = world.home.run(*ROTATE)
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(timeout=5)

    assert fired.is_set()
    assert result.returncode == 4, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("rotate-my-key: ") and str(credentials) in last
    assert "old key" in last and world.old.access_key_id in last
    assert world.moto.keys(world.user) == {world.old.access_key_id: "Active"}  # new one deleted
    assert world.profile_keys() == {world.old.access_key_id}
    assert "UpdateAccessKey" not in proxy.actions()  # the old key was never touched
    assert not world.journal_exists()
