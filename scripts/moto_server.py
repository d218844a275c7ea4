#!/usr/bin/env python3
"""moto's DynamoDB API for wxauth's tests, with every request applied atomically.

moto's own server (`moto_server`) runs requests on threads without a lock, so two conditional writes
racing for one item can both succeed (seen here: four concurrent `UpdateItem`s with
`attribute_not_exists(...)` on one new item, all four "won"). DynamoDB never allows that, and wxauth relies
on it (the access_token refresh lease). This server is moto's, with one lock around the application:
requests still arrive concurrently, but each is applied whole before the next, as DynamoDB applies
each write to an item.

Usage: moto_server.py [-H HOST] [-p PORT]
"""
import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    moto_app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def atomic_app(environ, start_response):
        with lock:
            # Run the whole request, body included, under the lock.
            return list(moto_app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    run_simple(
        args.host,
        args.port,
        atomic_app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
