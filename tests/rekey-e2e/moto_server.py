"""Runs one moto server for one test, on a free loopback port.

Prints "PORT <n>" on stdout once the server accepts connections, then serves
until its standard input closes. The test harness holds the other end of that
pipe, so the server goes away with the test process however it ends: a
passing test, a panic, or a kill.

Requests are handled one at a time. DynamoDB applies each conditional write
and each atomic counter update atomically; moto reads, checks and writes in
separate steps, and its threaded server lets concurrent requests interleave
between them (50 concurrent `ADD uses :1` lost updates, two conditional puts
could both succeed). Serialising requests gives back the atomicity the
ledger relies on; connections are still accepted concurrently.

moto has no STS `GetWebIdentityToken` (IAM outbound identity federation);
with `REKEY_TEST_WEB_IDENTITY_TOKEN` set, this wrapper answers it as the STS
Query API does, with that token, after checking the call names an audience
and a signing algorithm, so rekey's Azure credential can be tested from the
AWS side through the real SDK.

Every AWS request is counted by service action (`secretsmanager.GetSecretValue`,
`iam.CreateAccessKey`); `GET /rekey-test/calls` answers the counts since the
last such request as JSON and starts afresh, so a test can tell what a flow
cost in API calls.
"""

import io
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
import threading
from collections import Counter
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


CALLS_PATH = "/rekey-test/calls"


def action(environ):
    """The AWS action a request calls: from X-Amz-Target (JSON protocols)
    or the form's Action (query protocols), with the service's signing name
    from the Authorization header's credential scope."""
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1]
    parts = scope.split(",")[0].split("/")
    service = parts[3] if len(parts) > 3 else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}.{target.split('.')[-1]}"
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode("utf-8", "replace"))
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = (form.get("Action") or query.get("Action") or ["unknown"])[0]
    return f"{service}.{name}"


WEB_IDENTITY_TOKEN = os.environ.get("REKEY_TEST_WEB_IDENTITY_TOKEN")


def web_identity_token(environ, start_response):
    """STS GetWebIdentityToken, as the Query API answers it (XML)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
    audience = form.get("Audience.member.1")
    algorithm = (form.get("SigningAlgorithm") or [""])[0]
    request_id = str(uuid.uuid4())
    if not audience or algorithm not in ("RS256", "ES384"):
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<Error><Type>Sender</Type><Code>ValidationError</Code>"
            "<Message>Audience and SigningAlgorithm (RS256 or ES384) are required</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        start_response("400 Bad Request", [("Content-Type", "text/xml")])
        return [body.encode()]
    seconds = int((form.get("DurationSeconds") or ["300"])[0])
    expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    body = (
        '<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetWebIdentityTokenResult>"
        f"<WebIdentityToken>{WEB_IDENTITY_TOKEN}</WebIdentityToken>"
        f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
        "</GetWebIdentityTokenResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetWebIdentityTokenResponse>"
    )
    start_response("200 OK", [("Content-Type", "text/xml")])
    return [body.encode()]


class OneAtATime:
    """A WSGI app that runs the wrapped app for one request at a time and
    counts the AWS actions called."""

    def __init__(self, app):
        self._app = app
        self._lock = threading.Lock()
        self._calls = Counter()

    def __call__(self, environ, start_response):
        with self._lock:
            if environ.get("PATH_INFO") == CALLS_PATH:
                body = json.dumps(self._calls).encode()
                self._calls = Counter()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            called = action(environ)
            self._calls[called] += 1
            if called == "sts.GetWebIdentityToken" and WEB_IDENTITY_TOKEN:
                return web_identity_token(environ, start_response)
            response = self._app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()


def main() -> None:
    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"PORT {server.server_port}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
