"""The FastAPI example, driven through httpx's ASGI transport: its route refuses requests
without a valid token (401) and serves a registered user; the mounted auth routes answer as
Delegate's HTTP API does, and a logout revokes the token at once."""

import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "fastapi_app.py"


def load_example(database_url: str) -> Any:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastapi_app"] = module
    spec.loader.exec_module(module)
    module.auth._open_args = {"database_url": database_url}
    return module


async def test_the_example_protects_its_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_ENV", "test")
    example = load_example(f"sqlite://{tmp_path / 'app.db'}")
    transport = httpx.ASGITransport(app=example.app)
    async with example.auth.lifespan(example.app):
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            refused = await client.get("/api/hello")
            assert refused.status_code == 401
            assert refused.json()["detail"]["code"] == "missing_token"
            assert refused.headers["www-authenticate"] == "Bearer"
            bad = await client.get("/api/hello", headers={"authorization": "Bearer nope"})
            assert bad.status_code == 401

            registered = await client.post(
                "/api/v1/auth/register",
                json={"email": "fast@example.com", "password": "correct horse battery staple"},
            )
            assert registered.status_code == 201
            body = registered.json()
            assert body["tokenType"] == "Bearer" and body["user"]["email"] == "fast@example.com"
            bearer = {"authorization": f"Bearer {body['accessToken']}"}
            hello = await client.get("/api/hello", headers=bearer)
            assert hello.status_code == 200
            assert hello.json() == {"hello": body["user"]["id"], "tier": "free"}

            taken = await client.post(
                "/api/v1/auth/register",
                json={"email": "fast@example.com", "password": "correct horse battery staple"},
            )
            assert taken.status_code == 409
            assert taken.json()["error"]["code"] == "email_taken"
            wrong = await client.post(
                "/api/v1/auth/login", json={"email": "fast@example.com", "password": "nope nope nope"}
            )
            assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_credentials")
            refreshed = await client.post(
                "/api/v1/auth/refresh", json={"refreshToken": body["refreshToken"]}
            )
            assert refreshed.status_code == 200
            assert refreshed.json()["refreshToken"] != body["refreshToken"]

            devices = await client.get("/api/v1/auth/sessions", headers=bearer)
            assert devices.status_code == 200
            assert [d["current"] for d in devices.json()["items"]] == [True]
            other = await client.post(
                "/api/v1/auth/login",
                json={"email": "fast@example.com", "password": "correct horse battery staple"},
            )
            other_id = other.json()["session"]["id"]
            gone = await client.delete(f"/api/v1/auth/sessions/{other_id}", headers=bearer)
            assert gone.status_code == 204
            missing = await client.delete(f"/api/v1/auth/sessions/{other_id}x", headers=bearer)
            assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
            weak = await client.post(
                "/api/v1/auth/password",
                headers=bearer,
                json={"currentPassword": "correct horse battery staple", "newPassword": "short"},
            )
            assert (weak.status_code, weak.json()["error"]["field"]) == (422, "newPassword")
            changed = await client.post(
                "/api/v1/auth/password",
                headers=bearer,
                json={
                    "currentPassword": "correct horse battery staple",
                    "newPassword": "a brand new long passphrase",
                },
            )
            assert changed.status_code == 204

            out = await client.post("/api/v1/auth/logout", headers=bearer)
            assert out.status_code == 204
            after = await client.get("/api/hello", headers=bearer)
            assert after.status_code == 401
