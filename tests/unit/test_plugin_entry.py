"""The plugin's entry point: cheap, imports nothing new, and redacts secrets in log records."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from awscli_rotate_key.redact import REDACTED, redact, redact_record

PROBE = """
import json, sys
import awscli.clidriver
from botocore.hooks import HierarchicalEmitter
before = set(sys.modules)
import awscli_rotate_key
emitter = HierarchicalEmitter()
awscli_rotate_key.awscli_initialize(emitter)
awscli_rotate_key.awscli_initialize(emitter)  # idempotent
import logging
filters = len(logging.getLogger("botocore.parsers").filters)
print(json.dumps({"new": sorted(set(sys.modules) - before), "filters": filters}))
"""


def test_import_and_initialize_load_no_other_module():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout)
    assert probe["new"] == ["awscli_rotate_key"]
    assert probe["filters"] == 1


def test_redacts_xml_json_and_repr_forms():
    cases = {
        "<SecretAccessKey>a/B+</SecretAccessKey>": f"<SecretAccessKey>{REDACTED}</SecretAccessKey>",
        '{"SecretAccessKey": "abc"}': f'{{"SecretAccessKey": "{REDACTED}"}}',
        "{'SecretAccessKey': 'abc', 'AccessKeyId': 'AKIA1'}": (
            f"{{'SecretAccessKey': '{REDACTED}', 'AccessKeyId': 'AKIA1'}}"
        ),
        "<SessionToken>tok</SessionToken>": f"<SessionToken>{REDACTED}</SessionToken>",
        "<AccessKeyId>AKIA1</AccessKeyId>": "<AccessKeyId>AKIA1</AccessKeyId>",
    }
    for raw, expected in cases.items():
        assert redact(raw) == expected


def test_redact_record_rewrites_arguments_and_keeps_the_record():
    body = b"<AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>"
    record = logging.LogRecord(
        "botocore.parsers", logging.DEBUG, "f", 1, "Response body:\n%r", (body,), None
    )
    assert redact_record(record) is True
    message = record.getMessage()
    assert "s3cr3t" not in message and "AKIA1" in message and REDACTED in message
