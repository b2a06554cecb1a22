"""Local stand-ins for the places messages go, on free loopback ports: Slack's Web API (an HTTP
endpoint the Slack client is pointed at) and an SMTP relay (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

LOOPBACK = "127.0.0.1"


@dataclass
class SlackEndpoint:
    base_url: str
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (path, JSON body)
    authorizations: list[str] = field(default_factory=list)  # each post's Authorization header
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})


@pytest.fixture
def slack() -> Iterator[SlackEndpoint]:
    endpoint = SlackEndpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            endpoint.posts.append((self.path, json.loads(body or b"{}")))
            endpoint.authorizations.append(self.headers.get("Authorization", ""))
            reply = json.dumps(endpoint.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    endpoint.base_url = f"http://{LOOPBACK}:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Mailbox:
    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)  # (rcpt, mail)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox(free_port())
    controller = Controller(mailbox, hostname=LOOPBACK, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
