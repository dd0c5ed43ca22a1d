"""A local server speaking the OpenAI chat-completions wire format (SSE), for the tests: each
request streams the next scripted reply (chunks, with an optional pause between them) and
records whether the client went away before the end."""

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, List, Tuple


class Upstream:
    """The server, on a free loopback port, in a thread of its own."""

    def __init__(self) -> None:
        self.replies: Deque[Tuple[List[str], float]] = deque()
        self.requests = 0
        self.disconnects = 0
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                self.rfile.read(length)
                with upstream.lock:
                    upstream.requests += 1
                    chunks, pause = upstream.replies.popleft() if upstream.replies else (["ok"], 0.0)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.event({"content": chunk}, None)
                        if pause:
                            threading.Event().wait(pause)
                    self.event({}, "stop")
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with upstream.lock:
                        upstream.disconnects += 1

            def event(self, delta: Any, finish: Any) -> None:
                body = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "test-model",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.wfile.write(f"data: {json.dumps(body)}\n\n".encode())
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, chunks: List[str], pause: float = 0.0) -> None:
        """The next request streams `chunks`, `pause` seconds apart."""
        with self.lock:
            self.replies.append((chunks, pause))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
