"""Fixtures: the local OpenAI-wire upstream, and a Delegate opened in each mode — embedded
(a fresh SQLite file, in-process cache and bus) and scale-out (a fresh PostgreSQL schema and
Redis key prefix, from DELEGATE_TEST_DATABASE_URL / DELEGATE_TEST_REDIS_URL, which the test
command sets; a mode whose service is missing fails, it is never skipped)."""

import os
import subprocess
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator

import pytest

import delegate
from upstream import Upstream

MODES = ["embedded", "scaleout"]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def database_for(mode: str, tmp_path: Path) -> tuple[str, "str | None"]:
    """The database URL (and Redis URL) of a fresh store for `mode`."""
    if mode == "embedded":
        return f"sqlite://{tmp_path / 'delegate.db'}", None
    database = os.environ.get("DELEGATE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("DELEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    schema = f"py_{uuid.uuid4().hex[:16]}"
    subprocess.run(["psql", database, "-q", "-c", f"CREATE SCHEMA {schema}"], check=True)
    separator = "&" if "?" in database else "?"
    return f"{database}{separator}options=-c%20search_path%3D{schema}", redis


Opener = Callable[[], Awaitable[delegate.Delegate]]


@pytest.fixture(params=MODES)
def opener(
    request: pytest.FixtureRequest,
    upstream: Upstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Opener:
    """Opens a Delegate on a fresh store of the mode, configured by the environment as it
    is when called (a test may set more variables first)."""
    monkeypatch.setenv("NODE_ENV", "test")
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DELEGATE_REDIS_PREFIX", f"py:{uuid.uuid4().hex}:")
    database, redis = database_for(request.param, tmp_path)

    def open_one() -> Awaitable[delegate.Delegate]:
        return delegate.open(database_url=database, redis_url=redis)

    return open_one


@pytest.fixture
async def d(opener: Opener) -> AsyncIterator[delegate.Delegate]:
    async with await opener() as opened:
        yield opened
