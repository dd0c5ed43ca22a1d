"""The interpreter exits cleanly with work in flight: 50 interpreters each open a Delegate,
start registrations (argon2 on the runtime's blocking pool) and a streamed reply, and return
from `asyncio.run` without waiting for them. None may crash (a runtime thread entering Python
while it finalizes would)."""

import subprocess
import sys
import textwrap

from upstream import Upstream

SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    import delegate

    async def main() -> None:
        d = await delegate.open(database_url="memory:")
        signed = await d.auth.register(email="exit@example.com", password="correct horse battery staple")
        me = await d.auth.verify(signed.access_token)
        chat = await d.chat.create_session(me)
        for i in range(4):
            asyncio.ensure_future(d.auth.register(email=f"x{i}@example.com", password="correct horse battery staple"))
        stream = d.chat.stream(me, chat.id, "hi")
        asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.01 * int(sys.argv[1]))

    asyncio.run(main())
    """
)


def test_fifty_exits_with_work_in_flight_do_not_crash(upstream: Upstream) -> None:
    upstream.script(["slow "] * 50, pause=0.05)
    env = {"NODE_ENV": "test", "OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "sk-test"}
    crashes = []
    for i in range(50):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(i % 5)],
            env={**_inherited(), **env},
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            crashes.append((i, done.returncode, done.stderr.decode()[-500:]))
    assert crashes == []


def _inherited() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
