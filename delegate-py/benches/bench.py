"""Python bindings benches, each against a baseline measured in the same run:

- `await d.auth.verify(token)` on a warm login session, per call, against PyJWT's HS256
  decode of the same token (pure signature and claims check, no session lookup);
- a streamed reply's per-delta cost in Python (`async for` over `d.chat.stream`) against the
  same reply collected in Rust (`d.chat.send`), from a local OpenAI-wire server.

    DELEGATE_AI_PROVIDER= python delegate-py/benches/bench.py   # in .venv/py (scripts/python-tests makes it)
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from upstream import Upstream  # noqa: E402

import delegate  # noqa: E402

SECRET = "delegate-python-bench-signing-key-0123456789"
VERIFY_CALLS = 20_000
REPLIES = 30
DELTAS = 200


def per_call_us(seconds: float, calls: int) -> float:
    return seconds * 1e6 / calls


async def verify_bench(d: delegate.Delegate) -> None:
    signed = await d.auth.register(email="bench@example.com", password="correct horse battery staple")
    token = signed.access_token
    await d.auth.verify(token)
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(VERIFY_CALLS):
            await d.auth.verify(token)
        ours = per_call_us(time.perf_counter() - start, VERIFY_CALLS)
        start = time.perf_counter()
        for _ in range(VERIFY_CALLS):
            jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
        theirs = per_call_us(time.perf_counter() - start, VERIFY_CALLS)
        rounds.append((ours, theirs))
    ours = statistics.median(r[0] for r in rounds)
    theirs = statistics.median(r[1] for r in rounds)
    print(
        f"verify (warm session): {ours:.1f} us per await; PyJWT HS256 decode alone: "
        f"{theirs:.1f} us; ratio {ours / theirs:.2f}x"
    )


async def stream_bench(d: delegate.Delegate, upstream: Upstream) -> None:
    signed = await d.auth.register(email="stream@example.com", password="correct horse battery staple")
    me = await d.auth.verify(signed.access_token)
    chat = await d.chat.create_session(me)
    chunks = [f"w{i} " for i in range(DELTAS)]
    streamed, collected = [], []
    for _ in range(REPLIES):
        upstream.script(chunks)
        start = time.perf_counter()
        async for _event in d.chat.stream(me, chat.id, "go"):
            pass
        streamed.append(time.perf_counter() - start)
        upstream.script(chunks)
        start = time.perf_counter()
        await d.chat.send(me, chat.id, "go")
        collected.append(time.perf_counter() - start)
    s, c = statistics.median(streamed), statistics.median(collected)
    print(
        f"reply of {DELTAS} deltas: streamed to Python {s * 1e3:.1f} ms, collected in Rust "
        f"{c * 1e3:.1f} ms; Python adds {per_call_us(s - c, DELTAS):.1f} us per delta"
    )


async def main() -> None:
    upstream = Upstream()
    os.environ.update(
        {
            "NODE_ENV": "test",
            "JWT_SECRET": SECRET,
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "DELEGATE_QUOTA__FREE__MESSAGES_PER_DAY": "0",
            "DELEGATE_QUOTA__FREE__TOKENS_PER_MONTH": "0",
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with await delegate.open(database_url=f"sqlite://{tmp}/bench.db") as d:
            await verify_bench(d)
            await stream_bench(d, upstream)
    upstream.close()


asyncio.run(main())
