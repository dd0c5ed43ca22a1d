"""Quickstart: register, verify, stream a chat reply, and see a failed login's error code.

    DELEGATE_AI_PROVIDER=echo python examples/python/quickstart.py
"""

import asyncio

import delegate


async def main() -> None:
    d = await delegate.open(database_url="sqlite://quickstart.db")
    async with d:
        res = await d.auth.register(email="ada@example.com", password="correct horse battery staple")
        me = await d.auth.verify(res.access_token)
        chat = await d.chat.create_session(me, title="first")
        async for event in d.chat.stream(me, chat.id, "hello"):
            print(event.type, event.text)
        try:
            await d.auth.login(email="ada@example.com", password="not the password")
        except delegate.Unauthenticated as e:
            print(e.code)


asyncio.run(main())
