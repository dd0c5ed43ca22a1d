"""The runtime under several event loops: each thread runs its own loop, and awaitables are
answered on the loop that made them."""

import asyncio
import threading

import delegate
from conftest import Opener

PASSWORD = "correct horse battery staple"


def test_loops_in_several_threads_share_one_delegate(opener: Opener) -> None:
    opened: list[delegate.Delegate] = []

    async def open_it() -> None:
        opened.append(await opener())

    asyncio.run(open_it())
    d = opened[0]
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        async def work() -> None:
            signed = await d.auth.register(email=f"thread{n}@example.com", password=PASSWORD)
            for _ in range(20):
                me = await d.auth.verify(signed.access_token)
                assert me.user_id == signed.user.id
            assert asyncio.get_running_loop() is loop

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(work())
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)
        finally:
            loop.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []

    async def close() -> None:
        await d.close()

    asyncio.run(close())
