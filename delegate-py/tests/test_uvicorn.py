"""The FastAPI example under uvicorn with two worker processes, each opening its own
Delegate on one SQLite file: a token issued by one worker is honoured by the other (the
signing secrets are configured, as a multi-process deployment must), and a logout on one is
seen by both within seconds."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_two_uvicorn_workers_serve_the_example(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "test",
        "JWT_SECRET": "uvicorn-test-access-signing-key-0123456789",
        "JWT_REFRESH_SECRET": "uvicorn-test-refresh-pepper-key-0123456789",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES),
         "--workers", "2", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/hello").status_code == 401:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        registered = httpx.post(
            f"{base}/api/v1/auth/register",
            json={"email": "workers@example.com", "password": "correct horse battery staple"},
        )
        assert registered.status_code == 201, registered.text
        bearer = {"authorization": f"Bearer {registered.json()['accessToken']}"}
        # A fresh connection per request, so both workers take some.
        statuses = [httpx.get(f"{base}/api/hello", headers=bearer).status_code for _ in range(30)]
        assert statuses == [200] * 30
        assert httpx.post(f"{base}/api/v1/auth/logout", headers=bearer).status_code == 204
        # The other worker hears of it over the store's event bus (SQLite: a polled table).
        deadline = time.monotonic() + 10
        refused = 0
        while refused < 10:
            status = httpx.get(f"{base}/api/hello", headers=bearer).status_code
            refused = refused + 1 if status == 401 else 0
            assert time.monotonic() < deadline, "a worker still honours the logged-out token"
    finally:
        server.terminate()
        server.wait(timeout=30)
