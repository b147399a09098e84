"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for judge tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (prompt, request number, authorization header) -> (HTTP status, reply text or raw body)
Responder = Callable[[str, int, str], tuple[int, str]]


class FakeOpenAIServer:
    """Answers POST /v1/chat/completions through `responder` and records what it received."""

    def __init__(self, responder: Responder, delay_s: float = 0.0) -> None:
        self.responder = responder
        self.delay_s = delay_s
        self.requests = 0
        self.authorizations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def base_url(self) -> str:
        """The /v1 root a client should use."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests += 1
                    number = fake.requests
                    fake.authorizations.append(self.headers.get("Authorization", ""))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                time.sleep(fake.delay_s)
                status, text = fake.responder(
                    body["messages"][-1]["content"], number, fake.authorizations[-1]
                )
                with fake._lock:
                    fake.in_flight -= 1
                payload = text if status != 200 or text.startswith("RAW:") else _completion(text)
                data = payload.removeprefix("RAW:").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _completion(text: str) -> str:
    """A minimal chat-completions response body."""
    return json.dumps(
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        }
    )
