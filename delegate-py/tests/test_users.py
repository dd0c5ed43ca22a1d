"""Profiles, preferences, usage and devices through the bindings, in both modes."""

import pytest

import delegate
from upstream import Upstream

PASSWORD = "correct horse battery staple"


async def test_profile_preferences_and_usage(d: delegate.Delegate, upstream: Upstream) -> None:
    signed = await d.auth.register(email="prof@example.com", password=PASSWORD, name="Prof")
    me = await d.auth.verify(signed.access_token)
    profile = await d.users.profile(me)
    assert (profile.email, profile.name, profile.preferences) == ("prof@example.com", "Prof", {})

    changed = await d.users.update_profile(me, name="Professor", avatar_url="https://a.example/p.png")
    assert (changed.name, changed.avatar_url) == ("Professor", "https://a.example/p.png")
    cleared = await d.users.update_profile(me, avatar_url="")
    assert cleared.avatar_url is None
    await d.users.merge_preferences(me, {"theme": "dark", "lang": "en"})
    merged = await d.users.merge_preferences(me, {"lang": "fr"})
    assert merged.preferences == {"theme": "dark", "lang": "fr"}
    with pytest.raises(delegate.Invalid) as invalid:
        await d.users.merge_preferences(me, ["not", "an", "object"])  # type: ignore[arg-type]
    assert invalid.value.field == "preferences"

    before = await d.users.usage(me)
    assert (before.tier, before.messages_today) == ("free", 0)
    chat = await d.chat.create_session(me)
    upstream.script(["metered"])
    await d.chat.send(me, chat.id, "count me")
    after = await d.users.usage(me)
    assert after.messages_today == 1
    assert after.completion_tokens > 0
    assert after.messages_per_day == before.messages_per_day > 0


async def test_devices_are_listed_and_revoked_and_a_new_password_ends_the_others(
    d: delegate.Delegate,
) -> None:
    phone = await d.auth.register(email="dev@example.com", password=PASSWORD)
    laptop = await d.auth.login(email="dev@example.com", password=PASSWORD)
    me = await d.auth.verify(phone.access_token)
    sessions = await d.auth.sessions(me)
    assert {s.id for s in sessions} == {phone.session_id, laptop.session_id}
    assert [s.id for s in sessions if s.current] == [phone.session_id]

    other = await d.auth.register(email="other-dev@example.com", password=PASSWORD)
    with pytest.raises(delegate.NotFound):
        await d.auth.revoke_session(me, other.session_id)
    await d.auth.revoke_session(me, laptop.session_id)
    with pytest.raises(delegate.Unauthenticated):
        await d.auth.verify(laptop.access_token)

    tablet = await d.auth.login(email="dev@example.com", password=PASSWORD)
    with pytest.raises(delegate.Invalid):
        await d.auth.change_password(me, current="wrong", new="another long passphrase 2026")
    ended = await d.auth.change_password(me, current=PASSWORD, new="another long passphrase 2026")
    assert ended == 1
    with pytest.raises(delegate.Unauthenticated):
        await d.auth.verify(tablet.access_token)
    assert (await d.auth.verify(phone.access_token)).session_id == phone.session_id
    await d.auth.login(email="dev@example.com", password="another long passphrase 2026")
