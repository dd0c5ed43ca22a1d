"""Chat through the bindings, against the local OpenAI-wire upstream: send, stream, leaving
the loop early (the reply is cancelled), and the quota refusal; in both modes."""

import asyncio

import pytest

import delegate
from conftest import Opener
from upstream import Upstream

PASSWORD = "correct horse battery staple"


async def caller(d: delegate.Delegate, email: str) -> delegate.Caller:
    signed = await d.auth.register(email=email, password=PASSWORD)
    return await d.auth.verify(signed.access_token)


async def test_send_stores_the_exchange(d: delegate.Delegate, upstream: Upstream) -> None:
    me = await caller(d, "send@example.com")
    chat = await d.chat.create_session(me, title="first")
    assert chat.title == "first"
    upstream.script(["Hello", ", ", "Ada"])
    exchange = await d.chat.send(me, chat.id, "hi")
    assert exchange.user_message.content == "hi"
    assert exchange.assistant_message.content == "Hello, Ada"
    assert exchange.assistant_message.status == "complete"
    page = await d.chat.messages(me, chat.id)
    assert [m.content for m in page.items] == ["hi", "Hello, Ada"]
    assert page.next_cursor is None


async def test_stream_yields_deltas_then_done(d: delegate.Delegate, upstream: Upstream) -> None:
    me = await caller(d, "stream@example.com")
    chat = await d.chat.create_session(me)
    upstream.script(["one ", "two ", "three"])
    events = [event async for event in d.chat.stream(me, chat.id, "count")]
    assert [e.type for e in events] == ["delta", "delta", "delta", "done"]
    assert "".join(e.text for e in events[:-1]) == "one two three"
    done = events[-1]
    assert done.message is not None and done.message.status == "complete"
    assert done.text == "one two three"


async def test_leaving_the_loop_cancels_the_reply(d: delegate.Delegate, upstream: Upstream) -> None:
    me = await caller(d, "leave@example.com")
    chat = await d.chat.create_session(me)
    upstream.script([f"w{i} " for i in range(200)], pause=0.02)
    async for event in d.chat.stream(me, chat.id, "talk"):
        assert event.type == "delta"
        break
    # The reply is stored as cancelled and the upstream request closed.
    page = await d.chat.messages(me, chat.id)
    for _ in range(200):
        if page.items[-1].status == "cancelled" and upstream.disconnects == 1:
            break
        await asyncio.sleep(0.05)
        page = await d.chat.messages(me, chat.id)
    assert page.items[-1].status == "cancelled"
    assert upstream.disconnects == 1


async def test_another_users_chat_is_not_found(d: delegate.Delegate) -> None:
    ada = await caller(d, "owner@example.com")
    bob = await caller(d, "other@example.com")
    chat = await d.chat.create_session(ada)
    with pytest.raises(delegate.NotFound):
        await d.chat.send(bob, chat.id, "mine now")
    with pytest.raises(delegate.NotFound):
        await d.chat.messages(bob, chat.id)
    with pytest.raises(delegate.NotFound):
        await d.chat.messages(bob, "not-an-id")


async def test_the_quota_refuses_past_the_tiers_messages(
    opener: Opener, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELEGATE_QUOTA__FREE__MESSAGES_PER_DAY", "1")
    async with await opener() as d:
        me = await caller(d, "quota@example.com")
        chat = await d.chat.create_session(me)
        upstream.script(["fine"])
        await d.chat.send(me, chat.id, "one")
        with pytest.raises(delegate.QuotaExceeded) as refused:
            await d.chat.send(me, chat.id, "two")
        assert refused.value.code == "quota_exceeded"
        assert refused.value.retry_after is not None and refused.value.retry_after > 0


async def test_chat_sessions_are_listed_renamed_and_deleted(d: delegate.Delegate) -> None:
    me = await caller(d, "crud@example.com")
    first = await d.chat.create_session(me, title="One")
    second = await d.chat.create_session(me, title="Two")
    page = await d.chat.sessions(me)
    assert [s.id for s in page.items] == [second.id, first.id]
    renamed = await d.chat.rename_session(me, first.id, title="Uno")
    assert renamed.title == "Uno"
    assert (await d.chat.get_session(me, first.id)).title == "Uno"
    with pytest.raises(delegate.Invalid):
        await d.chat.rename_session(me, first.id, title="")
    await d.chat.delete_session(me, first.id)
    with pytest.raises(delegate.NotFound):
        await d.chat.get_session(me, first.id)
    assert [s.id for s in (await d.chat.sessions(me)).items] == [second.id]


async def test_application_events_are_numbered_in_the_users_stream(d: delegate.Delegate) -> None:
    me = await caller(d, "rt@example.com")
    first = await d.realtime.publish(me.user_id, "app.reminder", {"text": "stand up"})
    second = await d.realtime.publish(me.user_id, "app.reminder")
    assert second == first + 1
    with pytest.raises(delegate.Invalid):
        await d.realtime.publish(me.user_id, "chat.session.created", {})
    with pytest.raises(delegate.NotFound):
        await d.realtime.publish("01a22d82-0000-7000-8000-000000000000", "app.x")
