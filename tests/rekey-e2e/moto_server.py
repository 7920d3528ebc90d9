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
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class OneAtATime:
    """A WSGI app that runs the wrapped app for one request at a time."""

    def __init__(self, app):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
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
