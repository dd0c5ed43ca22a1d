"""Operator actions through the bindings, in both modes: taken by an admin caller or
delegate.OPERATOR, refused to anyone else, audited."""

import pytest

import delegate

PASSWORD = "correct horse battery staple"


async def test_admin_actions_are_checked_and_audited(d: delegate.Delegate) -> None:
    boss = await d.auth.register(email="boss@example.com", password=PASSWORD)
    worker = await d.auth.register(email="worker@example.com", password=PASSWORD)
    promoted = await d.admin.change_user(delegate.OPERATOR, boss.user.id, role="admin")
    assert promoted.role == "admin"
    admin = await d.auth.verify(boss.access_token)
    assert admin.role == "admin"
    user = await d.auth.verify(worker.access_token)
    with pytest.raises(delegate.Forbidden):
        await d.admin.users(user)

    page = await d.admin.users(admin, q="work")
    assert [u.email for u in page.items] == ["worker@example.com"]
    changed = await d.admin.change_user(admin, worker.user.id, tier="pro")
    assert changed.tier == "pro"
    assert (await d.auth.verify(worker.access_token)).tier == "pro"
    detail = await d.admin.user(admin, worker.user.id)
    assert (detail.user.tier, detail.usage.tier, detail.live_sessions) == ("pro", "pro", 1)
    with pytest.raises(delegate.Invalid):
        await d.admin.change_user(admin, worker.user.id, tier="platinum")
    with pytest.raises(delegate.Conflict):
        await d.admin.change_user(delegate.OPERATOR, boss.user.id, role="user")

    assert await d.admin.logout_user(admin, worker.user.id) == 1
    with pytest.raises(delegate.Unauthenticated):
        await d.auth.verify(worker.access_token)
    trail = await d.admin.audit(admin, user_id=worker.user.id, kind="user.tier_changed")
    assert [e.kind for e in trail.items] == ["user.tier_changed"]
    assert trail.items[0].actor_user_id == boss.user.id
    assert trail.items[0].actor_type == "user"
    # The worker's login session was revoked above: cleanup deletes it.
    cleaned = await d.admin.cleanup(delegate.OPERATOR)
    assert cleaned.sessions >= 1
    # A profile read twice is a cache hit, counted, and its entry is what a clear removes.
    for _ in range(2):
        await d.users.profile(admin)
    layers = await d.admin.cache_stats(admin)
    assert layers[0].layer == "in_process"
    assert sum(n.hits for layer in layers for n in layer.namespaces) >= 1
    assert await d.admin.clear_cache(admin, "user:*") >= 1
    await d.admin.delete_user(admin, worker.user.id)
    with pytest.raises(delegate.NotFound):
        await d.admin.user(admin, worker.user.id)
    with pytest.raises(TypeError):
        await d.admin.users("not an actor")  # type: ignore[arg-type]
