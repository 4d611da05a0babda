"""A fault-injection HTTP reverse proxy for tests: forwards AWS API calls and injects faults.

Point a client at ``proxy.url``; requests go to ``upstream`` (moto) with the Host header, all
end-to-end headers and the body unchanged, so SigV4 signatures still verify. Rules apply in the
order they were added; at each stage the first rule that answers wins and later rules are skipped.

``play_mfa()`` adds STS's GetSessionToken and the MFA self-service policy (see mfaplay.py).

rotate-my-key's rights checks (UpdateAccessKey/DeleteAccessKey on ``PROBE_KEY_ID``, a key that
cannot exist) are not steps of a rotation: rules skip them unless ``rule.probes = True``, and
``calls``/``actions`` leave them out; ``probes()`` lists them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from awscli_rotate_key.rotate.rights import PROBE_KEY_ID

if TYPE_CHECKING:
    from tests.support.mfaplay import MfaPlay

Actions = str | Collection[str]
_R = TypeVar("_R", bound="Rule")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Not forwarded as received: the proxy answers Expect itself and recomputes Content-Length.
_NOT_COPIED = HOP_BY_HOP | {"expect", "content-length"}
INVALID_TOKEN = "The security token included in the request is invalid."
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
UPSTREAM_TIMEOUT = 60.0
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_XML_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_ACCESS_KEY_ID = re.compile(rb"<AccessKeyId>([^<]*)</AccessKeyId>")


@dataclass
class Call:
    """One request seen by the proxy and how it was answered (times from time.monotonic())."""

    action: str | None
    key_id: str | None
    status: int | None = None
    error_code: str | None = None
    injected: bool = False
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    probe: bool = False  # a rights check on PROBE_KEY_ID


@dataclass
class Request:
    """A client request as read by the proxy."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    json_protocol: bool
    call: Call


@dataclass
class Reply:
    """A complete response for the client; drop=True closes the connection without one."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error_code: str | None = None
    injected: bool = False
    drop: bool = False
    reason: str | None = None


DROPPED = Reply(0, injected=True, drop=True)


# --- rules ---------------------------------------------------------------------------------------


class Rule:
    """A fault bound to some actions; ``hits`` counts the requests it acted on."""

    def __init__(self, action: Actions = "*") -> None:
        self.hits = 0
        self.probes = False  # True: the rule applies to rights checks too
        self._lock = threading.Lock()
        self._actions = _action_set(action)

    def matches(self, call: Call) -> bool:
        """Whether this rule applies to the call's action."""
        if call.probe and not self.probes:
            return False
        return self._actions is None or call.action in self._actions

    def before(self, request: Request) -> Reply | None:
        """Act before forwarding; a reply is sent instead of forwarding."""
        return None

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Act after upstream answered; a reply is sent instead of upstream's."""
        return None

    def release(self) -> None:
        """Let held requests go (only hang rules hold any)."""

    def _claim(self, times: int | None) -> bool:
        """Count one hit unless ``times`` hits were already counted."""
        with self._lock:
            if times is not None and self.hits >= times:
                return False
            self.hits += 1
            return True


class FailRule(Rule):
    """Answer matching requests with an AWS error, instead of or after forwarding."""

    def __init__(
        self, action: Actions, code: str, status: int, times: int | None, message: str, after: bool
    ) -> None:
        super().__init__(action)
        self.code, self.status, self.times, self.message = code, status, times, message
        self._after = after

    def before(self, request: Request) -> Reply | None:
        """Fail here unless the error is meant to follow a real forward."""
        return None if self._after else self._fail(request)

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Replace upstream's answer with the error (a lost response)."""
        return self._fail(request) if self._after else None

    def _fail(self, request: Request) -> Reply | None:
        """The error reply, if this request matches and the budget allows."""
        if not self.matches(request.call) or not self._claim(self.times):
            return None
        return error_reply(request, self.status, self.code, self.message)


class RejectKeysRule(Rule):
    """Refuse requests signed by keys that satisfy a predicate, as AWS does for unknown keys."""

    def __init__(
        self, predicate: Callable[[str], bool], times: int | None, seconds: float | None
    ) -> None:
        super().__init__("*")
        self.predicate, self.times, self.seconds = predicate, times, seconds
        self._first_seen: dict[str, float] = {}

    def before(self, request: Request) -> Reply | None:
        """403 InvalidClientTokenId while the rule's budget lasts."""
        key_id = request.call.key_id
        if key_id is None or not self.predicate(key_id) or not self._claim_key(key_id):
            return None
        return error_reply(request, 403, "InvalidClientTokenId", INVALID_TOKEN)

    def _claim_key(self, key_id: str) -> bool:
        """Count a hit if within ``times`` overall and ``seconds`` of this key's first hit."""
        now = time.monotonic()
        with self._lock:
            first = self._first_seen.setdefault(key_id, now)
            if self.seconds is not None and now - first >= self.seconds:
                return False
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
            return True


class NewKeyWindowRule(Rule):
    """Refuse each key made by CreateAccessKey until ``seconds`` after its creation was answered.

    IAM's propagation as a window with a known end: ``created[key_id]`` is the monotonic time of
    CreateAccessKey's answer, so the window ends at ``created[key_id] + seconds``.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__("*")
        self.seconds = seconds
        self.created: dict[str, float] = {}

    def before(self, request: Request) -> Reply | None:
        """403 InvalidClientTokenId for a new key inside its window."""
        key_id = request.call.key_id
        with self._lock:
            created = self.created.get(key_id or "")
            if created is None or time.monotonic() >= created + self.seconds:
                return None
            self.hits += 1
        return error_reply(request, 403, "InvalidClientTokenId", INVALID_TOKEN)

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Note when a new key was handed out."""
        if request.call.action == "CreateAccessKey" and reply.status == 200:
            match = _ACCESS_KEY_ID.search(reply.body)
            if match:
                with self._lock:
                    self.created[match.group(1).decode()] = time.monotonic()
        return None


class HangRule(Rule):
    """Hold matching requests before forwarding or before replying, until released."""

    def __init__(self, action: Actions, when: str, seconds: float | None) -> None:
        super().__init__(action)
        self.when, self.seconds = _check_when(when), seconds
        self.reached = threading.Event()
        self._released = threading.Event()

    def before(self, request: Request) -> Reply | None:
        """Hold before forwarding: upstream sees nothing yet."""
        if self.when == "before":
            self._hold(request.call)
        return None

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Hold after upstream answered: the action took effect, the client waits."""
        if self.when == "after":
            self._hold(request.call)
        return None

    def release(self) -> None:
        """Let held requests go; later ones pass without being held."""
        self._released.set()

    def _hold(self, call: Call) -> None:
        """Wait for release (or ``seconds``) if the call matches."""
        if not self.matches(call) or self._released.is_set():
            return
        with self._lock:
            self.hits += 1
        self.reached.set()
        self._released.wait(self.seconds)


class OnRule(Rule):
    """Call a callback synchronously for matching requests at one stage."""

    def __init__(self, action: Actions, callback: Callable[[Call], object], when: str) -> None:
        super().__init__(action)
        self.callback, self.when = callback, _check_when(when)

    def before(self, request: Request) -> Reply | None:
        """Run the callback before forwarding."""
        if self.when == "before":
            self._run(request.call)
        return None

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Run the callback after upstream answered, before replying."""
        if self.when == "after":
            self._run(request.call)
        return None

    def _run(self, call: Call) -> None:
        """Count and call back if the call matches."""
        if self.matches(call):
            with self._lock:
                self.hits += 1
            self.callback(call)


class DropRule(Rule):
    """Close the client connection without an answer, before or after forwarding."""

    def __init__(self, action: Actions, when: str, times: int | None) -> None:
        super().__init__(action)
        self.when, self.times = _check_when(when), times

    def before(self, request: Request) -> Reply | None:
        """Drop instead of forwarding: upstream never sees the request."""
        return self._drop(request.call) if self.when == "before" else None

    def after(self, request: Request, reply: Reply) -> Reply | None:
        """Drop after upstream acted: the response is lost."""
        return self._drop(request.call) if self.when == "after" else None

    def _drop(self, call: Call) -> Reply | None:
        """The drop marker, if this call matches and the budget allows."""
        return DROPPED if self.matches(call) and self._claim(self.times) else None


# --- the proxy -----------------------------------------------------------------------------------


class FaultProxy:
    """A reverse proxy on 127.0.0.1 in front of ``upstream``; serves from construction on."""

    def __init__(self, upstream: str, latency: float = 0.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream = upstream
        self.latency = latency
        self._upstream_host, self._upstream_port = parts.hostname, parts.port or 80
        self._upstream_prefix = parts.path.rstrip("/")
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._rules: list[Rule] = []
        self.mfa: MfaPlay | None = None  # play_mfa(): STS and the MFA condition
        self._stopping = threading.Event()
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the log ---------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call so far but the rights checks, in arrival order."""
        with self._lock:
            return [replace(call) for call in self._calls if not call.probe]

    def probes(self) -> list[tuple[str | None, str | None]]:
        """(action, signing key) of each rights check on ``PROBE_KEY_ID``, in arrival order."""
        with self._lock:
            return [(call.action, call.key_id) for call in self._calls if call.probe]

    def actions(self, key_id: str | None = None) -> list[str]:
        """Action names in arrival order, optionally only those signed by ``key_id``."""
        return [
            c.action
            for c in self.calls
            if c.action is not None and (key_id is None or c.key_id == key_id)
        ]

    def reset_log(self) -> None:
        """Forget every call logged so far."""
        with self._lock:
            self._calls.clear()

    # --- rules -----------------------------------------------------------------------------------

    def fail(
        self,
        action: Actions,
        code: str,
        status: int = 400,
        times: int | None = 1,
        message: str = "injected",
        after: bool = False,
    ) -> FailRule:
        """Answer the next ``times`` requests of ``action`` with an AWS error (None: forever)."""
        return self._add(FailRule(action, code, status, times, message, after))

    def reject_keys(
        self,
        predicate: Callable[[str], bool],
        times: int | None = None,
        seconds: float | None = None,
    ) -> RejectKeysRule:
        """Answer 403 InvalidClientTokenId to requests signed by keys matching ``predicate``."""
        return self._add(RejectKeysRule(predicate, times, seconds))

    def reject_unknown_keys(
        self, known: Iterable[str], times: int | None = None, seconds: float | None = None
    ) -> RejectKeysRule:
        """Reject requests signed by any key not in ``known`` (copied now)."""
        known_ids = frozenset(known)
        return self.reject_keys(lambda key_id: key_id not in known_ids, times, seconds)

    def play_mfa(self, play: MfaPlay | None = None) -> MfaPlay:
        """Answer GetSessionToken and play the MFA Deny (after every rule's before stage)."""
        from tests.support.mfaplay import MfaPlay

        self.mfa = play or MfaPlay()
        return self.mfa

    def reject_new_keys_for(self, seconds: float) -> NewKeyWindowRule:
        """Reject each key CreateAccessKey makes until ``seconds`` after it was answered."""
        return self._add(NewKeyWindowRule(seconds))

    def hang(self, action: Actions, when: str = "before", seconds: float | None = None) -> HangRule:
        """Hold requests of ``action`` before forwarding or before replying."""
        return self._add(HangRule(action, when, seconds))

    def on(
        self, action: Actions, callback: Callable[[Call], object], when: str = "before"
    ) -> OnRule:
        """Call ``callback(call)`` for each request of ``action`` before forwarding or replying."""
        return self._add(OnRule(action, callback, when))

    def drop(self, action: Actions, when: str = "before", times: int | None = 1) -> DropRule:
        """Close the connection without replying to the next ``times`` requests of ``action``."""
        return self._add(DropRule(action, when, times))

    def remove(self, rule: Rule) -> None:
        """Remove one rule and release anything it holds."""
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)
        rule.release()

    def clear_rules(self) -> None:
        """Remove every rule and release anything they hold."""
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            rule.release()

    def stop(self) -> None:
        """Stop serving, release held requests and close client connections."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.clear_rules()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def _add(self, rule: _R) -> _R:
        """Append a rule and return it."""
        with self._lock:
            self._rules.append(rule)
        return rule

    # --- handling one request --------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Read, log, apply rules, forward and answer one request."""
        request = read_request(handler)
        with self._lock:
            self._calls.append(request.call)
        if self.latency > 0:
            self._stopping.wait(self.latency)
        reply = self._answer(request)
        self._finish(request.call, reply)
        send_reply(handler, reply, head_only=request.method == "HEAD")

    def _answer(self, request: Request) -> Reply:
        """The reply after the before stage, forwarding and the after stage."""
        with self._lock:
            rules = list(self._rules)
        reply = _first(rule.before(request) for rule in rules)
        if reply is None and self.mfa is not None:
            reply = self._play_mfa(self.mfa, request)
        if reply is None and not self._stopping.is_set():
            reply = self._forward(request)
            self._finish(request.call, reply, ended=False)
            replaced = _first(rule.after(request, reply) for rule in rules)
            reply = replaced or reply
        return DROPPED if reply is None or self._stopping.is_set() else reply

    def _play_mfa(self, play: MfaPlay, request: Request) -> Reply | None:
        """STS and the MFA Deny (tests/support/mfaplay.py): a reply, or re-signed headers."""
        answer = play.answer(
            request.method, request.path, request.headers, request.body, request.call.action
        )
        if answer is None:
            return None
        if answer.headers is not None:
            request.headers = answer.headers  # signed by the session's parent key now
            return None
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        return Reply(answer.status, headers, answer.body, error_code=answer.code, injected=True)

    def _forward(self, request: Request) -> Reply:
        """Send the request upstream unchanged; 502 if upstream cannot be reached."""
        conn = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=UPSTREAM_TIMEOUT
        )
        try:
            response = _exchange(conn, request, self._upstream_prefix)
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            return error_reply(request, 502, "BadGateway", f"upstream failed: {error!r}")
        finally:
            conn.close()
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_COPIED]
        code = upstream_error_code(response.status, headers, body)
        return Reply(response.status, headers, body, code, reason=response.reason)

    def _finish(self, call: Call, reply: Reply, ended: bool = True) -> None:
        """Record the reply's outcome on the call."""
        with self._lock:
            call.status = None if reply.drop else reply.status
            call.error_code, call.injected = reply.error_code, reply.injected
            if ended:
                call.ended = time.monotonic()


# --- HTTP plumbing -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the server's FaultProxy."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately: without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms a request), which would swamp any latency we inject.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        super().finish()

    def handle_proxied(self) -> None:
        """Answer any method through the proxy."""
        self.server.proxy.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_proxied

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the call log is the record."""


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its proxy and its open client connections."""

    daemon_threads = True

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def track(self, connection: socket.socket, add: bool) -> None:
        """Remember or forget an open client connection."""
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection, waking idle keep-alive handlers."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore errors after stop (closed sockets); report the rest."""
        if not self.proxy._stopping.is_set():
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def read_request(handler: BaseHTTPRequestHandler) -> Request:
    """Read the request body and work out its action, signing key and protocol."""
    body = _read_body(handler)
    headers = [(k, v) for k, v in handler.headers.items() if k.lower() not in _hop_by_hop(handler)]
    content_type = handler.headers.get("Content-Type", "")
    target = handler.headers.get("X-Amz-Target")
    json_protocol = bool(target) or content_type.startswith("application/x-amz-json")
    action = target.split(".", 1)[-1] if target else _query_action(handler.path, content_type, body)
    call = Call(action=action, key_id=_key_id(handler.headers.get("Authorization"), handler.path))
    call.probe = _query_param(handler.path, content_type, body, "AccessKeyId") == PROBE_KEY_ID
    return Request(handler.command, handler.path, headers, body, json_protocol, call)


def send_reply(handler: BaseHTTPRequestHandler, reply: Reply, head_only: bool) -> None:
    """Write the reply with a Content-Length, or close the connection for a drop."""
    if reply.drop:
        handler.close_connection = True
        return
    try:
        handler.send_response_only(reply.status, reply.reason)
        for name, value in reply.headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if not head_only:
            handler.wfile.write(reply.body)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True


def error_reply(request: Request, status: int, code: str, message: str) -> Reply:
    """An AWS error in the request's protocol: query XML or JSON."""
    request_id = str(uuid.uuid4())
    if request.json_protocol:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{IAM_NS}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
    return Reply(status, headers, body, error_code=code, injected=True)


def upstream_error_code(status: int, headers: list[tuple[str, str]], body: bytes) -> str | None:
    """Best-effort AWS error code of an upstream response (None below 400)."""
    if status < 400:
        return None
    header = next((v for k, v in headers if k.lower() == "x-amzn-errortype"), None)
    if header:
        return header.split(":", 1)[0]
    match = _XML_CODE.search(body)
    if match:
        return match.group(1).decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = (
        (data.get("__type") or data.get("code") or data.get("Code"))
        if isinstance(data, dict)
        else None
    )
    return str(code).rsplit("#", 1)[-1] if code else None


def _exchange(
    conn: http.client.HTTPConnection, request: Request, prefix: str
) -> http.client.HTTPResponse:
    """Send the request with its own Host header and body, and return the response."""
    conn.putrequest(
        request.method, prefix + request.path, skip_host=True, skip_accept_encoding=True
    )
    for name, value in request.headers:
        conn.putheader(name, value)
    if not any(name.lower() == "host" for name, _ in request.headers):
        conn.putheader("Host", f"{conn.host}:{conn.port}")
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        conn.putheader("Content-Length", str(len(request.body)))
    conn.endheaders(request.body or None)
    return conn.getresponse()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, from Content-Length or chunked encoding."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(handler.rfile)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    """Decode a chunked body, discarding trailers."""
    chunks = []
    while size := int(rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
        chunks.append(rfile.read(size))
        rfile.readline()
    while rfile.readline() not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(chunks)


def _hop_by_hop(handler: BaseHTTPRequestHandler) -> frozenset[str]:
    """Headers not to forward, including any the Connection header names."""
    named = handler.headers.get("Connection", "")
    return _NOT_COPIED | {token.strip().lower() for token in named.split(",") if token.strip()}


def _query_action(path: str, content_type: str, body: bytes) -> str | None:
    """``Action=`` from the form body or the query string."""
    return _query_param(path, content_type, body, "Action")


def _query_param(path: str, content_type: str, body: bytes, name: str) -> str | None:
    """A parameter of a query-protocol request, from the form body or the query string."""
    params = parse_qs(urlsplit(path).query)
    if content_type.startswith("application/x-www-form-urlencoded"):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    values = params.get(name)
    return values[0] if values else None


def _key_id(authorization: str | None, path: str) -> str | None:
    """The access key id a request was signed with, from the header or a presigned URL."""
    match = _CREDENTIAL.search(authorization or "")
    if match:
        return match.group(1)
    credential = parse_qs(urlsplit(path).query).get("X-Amz-Credential")
    return credential[0].split("/", 1)[0] if credential else None


def _action_set(action: Actions) -> frozenset[str] | None:
    """Normalise an action argument; None means any action."""
    if isinstance(action, str):
        return None if action == "*" else frozenset({action})
    actions = frozenset(action)
    return None if "*" in actions else actions


def _check_when(when: str) -> str:
    """Validate a stage name."""
    if when not in ("before", "after"):
        raise ValueError(f"when must be 'before' or 'after', got {when!r}")
    return when


def _first(replies: Iterable[Reply | None]) -> Reply | None:
    """The first non-None reply, evaluating lazily so later rules do not run."""
    return next((reply for reply in replies if reply is not None), None)
