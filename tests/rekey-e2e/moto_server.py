"""Runs one moto server for one test, on a free loopback port.

Prints "PORT <n>" on stdout once the server accepts connections, then serves
until its standard input closes. The test harness holds the other end of that
pipe, so the server goes away with the test process however it ends: a
passing test, a panic, or a kill.
"""

import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
