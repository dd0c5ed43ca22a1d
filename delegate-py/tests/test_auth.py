"""Accounts and login sessions through the bindings: the HTTP suite's scenarios where they
apply, in both modes."""

import pytest

import delegate
from conftest import Opener

PASSWORD = "correct horse battery staple"


async def test_register_verify_login_and_the_error_codes(d: delegate.Delegate) -> None:
    signed = await d.auth.register(email="ada@example.com", password=PASSWORD, name="Ada")
    assert signed.user.email == "ada@example.com"
    assert signed.user.name == "Ada"
    me = await d.auth.verify(signed.access_token)
    assert (me.user_id, me.session_id) == (signed.user.id, signed.session_id)
    assert (me.tier, me.role) == ("free", "user")
    assert me.expires_at.tzinfo is not None

    with pytest.raises(delegate.Unauthenticated) as wrong:
        await d.auth.login(email="ada@example.com", password="not the password")
    assert wrong.value.code == "invalid_credentials"
    with pytest.raises(delegate.Conflict):
        await d.auth.register(email="ada@example.com", password=PASSWORD)
    with pytest.raises(delegate.Invalid) as invalid:
        await d.auth.register(email="not an email", password=PASSWORD)
    assert invalid.value.field == "email"
    with pytest.raises(delegate.Unauthenticated):
        await d.auth.verify("not-a-token")

    again = await d.auth.login(email="ada@example.com", password=PASSWORD)
    assert again.session_id != signed.session_id


async def test_refresh_rotates_and_a_reused_token_ends_the_session(
    opener: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await opener() as d:
        signed = await d.auth.register(email="rot@example.com", password=PASSWORD)
        fresh = await d.auth.refresh(signed.refresh_token)
        assert fresh.refresh_token != signed.refresh_token
        assert (await d.auth.verify(fresh.access_token)).session_id == signed.session_id
        # Within the grace window a second use is a concurrent rotation (Conflict)…
        with pytest.raises(delegate.Conflict):
            await d.auth.refresh(signed.refresh_token)
    # …past it (none here), reuse: the whole family ends.
    monkeypatch.setenv("DELEGATE_AUTH__REFRESH_GRACE_SECS", "0")
    async with await opener() as d:
        signed = await d.auth.register(email="reuse@example.com", password=PASSWORD)
        fresh = await d.auth.refresh(signed.refresh_token)
        with pytest.raises(delegate.Unauthenticated):
            await d.auth.refresh(signed.refresh_token)
        with pytest.raises(delegate.Unauthenticated):
            await d.auth.refresh(fresh.refresh_token)
        with pytest.raises(delegate.Unauthenticated):
            await d.auth.verify(fresh.access_token)


async def test_logout_revokes_at_once_and_logout_all_counts(d: delegate.Delegate) -> None:
    phone = await d.auth.register(email="out@example.com", password=PASSWORD)
    laptop = await d.auth.login(email="out@example.com", password=PASSWORD)
    me = await d.auth.verify(phone.access_token)
    await d.auth.logout(me)
    with pytest.raises(delegate.Unauthenticated):
        await d.auth.verify(phone.access_token)
    still = await d.auth.verify(laptop.access_token)
    tablet = await d.auth.login(email="out@example.com", password=PASSWORD)
    assert await d.auth.logout_all(still) == 2
    for token in (laptop.access_token, tablet.access_token):
        with pytest.raises(delegate.Unauthenticated):
            await d.auth.verify(token)


async def test_a_closed_delegate_refuses_calls(opener: Opener) -> None:
    opened = await opener()
    await opened.close()
    with pytest.raises(RuntimeError):
        opened.auth
