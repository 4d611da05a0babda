"""AWS CLI plugin: ``aws iam rotate-my-key`` and the administrator's key audits.

Enable with ``aws configure set plugins.rotate_key awscli_rotate_key``. This module is imported on
every ``aws`` run, so it imports nothing that can fail and nothing heavy: the commands are loaded
only when the ``iam`` command table is built.
"""

__version__ = "0.1.0"


def awscli_initialize(cli):  # type: ignore[no-untyped-def]
    """Entry point called by the AWS CLI's plugin loader with the session's event emitter."""
    from awscli_rotate_key import plugin

    plugin.register(cli)
