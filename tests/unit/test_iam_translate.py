"""Every failure of a botocore call reaches the core as an IamError, never as an OSError.

requests' exception types make botocore's SSLError and ProxyConnectionError OSErrors: unmapped,
they were reported as local file errors (exit 3 "could not read a local file").
"""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from awscli_rotate_key.commands.iam import translate
from awscli_rotate_key.errors import IamError

URL = "https://iam.amazonaws.com/"


@pytest.mark.parametrize(
    ("raised", "code", "transient"),
    [
        (SSLError(endpoint_url=URL, error="certificate verify failed"), "SSLError", False),
        (
            ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"),
            "ConnectionError",
            True,
        ),
        (EndpointConnectionError(endpoint_url=URL), "ConnectionError", True),
        (ConnectTimeoutError(endpoint_url=URL), "ConnectTimeout", True),
        (ReadTimeoutError(endpoint_url=URL), "ReadTimeout", True),
        (ConnectionClosedError(endpoint_url=URL), "ConnectionClosed", True),
        (HTTPClientError(error="unexpected urllib3 failure"), "HTTPClientError", True),
    ],
)
def test_transport_failures_become_iam_errors(raised, code, transient):  # type: ignore[no-untyped-def]
    def call() -> None:
        raise raised

    with pytest.raises(IamError) as caught:
        translate("GetUser", call)

    assert not isinstance(caught.value, OSError)
    assert caught.value.code == code
    assert caught.value.transient is transient
    assert str(caught.value).startswith(f"GetUser: {code}: ")
