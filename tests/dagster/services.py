"""External services for tests: skip with a reason when absent, fail when CI=true."""

from __future__ import annotations

import os
import socket

import pytest


def require_tcp_service(name: str, port: int) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return
    except OSError as error:
        message = f"{name} is not reachable on 127.0.0.1:{port} ({error})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)
