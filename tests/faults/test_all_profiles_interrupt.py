"""Ctrl-C during --all-profiles: the run stops (130) and still prints the entries done."""

from __future__ import annotations

import json
import os
import signal
import threading

ALL = ("iam", "rotate-my-key", "--all-profiles", "--wait-timeout", "5")


def test_ctrl_c_in_the_wait_of_the_second_key_stops_the_run_and_prints_the_first(
    moto_server, proxy, proxied_home
):
    users = {name: moto_server.make_user() for name in ("bob", "alice", "carol")}
    old = {name: moto_server.make_key(user, age_days=100) for name, user in users.items()}
    for name, key in old.items():
        proxied_home.add_profile(name, key)
    known = {k.access_key_id for k in old.values()} | {moto_server.admin.access_key_id}
    new_signers: list[str] = []
    procs: list = []
    fired = threading.Event()

    def ctrl_c_in_the_second_wait(call):  # type: ignore[no-untyped-def]
        # The proof of a new key is signed by it: bob's is the first new signer, alice's next.
        if call.key_id in known or fired.is_set():
            return
        if call.key_id not in new_signers:
            new_signers.append(call.key_id)
        if len(new_signers) == 2:
            fired.set()
            os.kill(procs[0].pid, signal.SIGINT)

    proxy.on("ListAccessKeys", ctrl_c_in_the_second_wait)
    procs.append(proxied_home.spawn(*ALL))
    out, err = procs[0].communicate(timeout=90)

    assert fired.is_set(), proxy.actions()
    assert procs[0].returncode == 130, err
    assert err.endswith(
        "rotate-my-key: interrupted: the run stopped and the keys after the interrupted one "
        "were not rotated (Results lists what was done). Any rotation in flight is journaled: "
        "the next `aws iam rotate-my-key --all-profiles` finishes or undoes it, then the rest\n"
    )
    bob, alice = json.loads(out)["Results"]
    assert bob["Rotated"] is True and bob["ExitCode"] == 0
    assert alice["ExitCode"] == 130 and alice["Profiles"] == ["alice"]
    assert alice["Error"].startswith("interrupted: the new key")
    assert f"rotate-my-key: profile 'alice': {alice['Error']}\n" in err
    assert moto_server.keys(users["alice"]) == {old["alice"].access_key_id: "Active"}
    assert moto_server.keys(users["carol"]) == {old["carol"].access_key_id: "Active"}
    for name in ("alice", "carol"):
        assert proxied_home.profile_key(name)[0] == old[name].access_key_id
