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

Every AWS request is counted by service action (`secretsmanager.GetSecretValue`,
`iam.CreateAccessKey`); `GET /rekey-test/calls` answers the counts since the
last such request as JSON and starts afresh, so a test can tell what a flow
cost in API calls.
"""

import io
import json
import sys
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
            self._calls[action(environ)] += 1
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
