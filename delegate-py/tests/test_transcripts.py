"""Transcripts through the bindings, in both modes: from a chat and from text, listed by
tag, changed, searched with ranked snippets, exported; another user's are not found."""

import json

import pytest

import delegate
from upstream import Upstream

PASSWORD = "correct horse battery staple"


async def test_transcripts_are_made_listed_searched_and_exported(
    d: delegate.Delegate, upstream: Upstream
) -> None:
    signed = await d.auth.register(email="tr@example.com", password=PASSWORD)
    me = await d.auth.verify(signed.access_token)
    chat = await d.chat.create_session(me, title="Trip")
    upstream.script(["Bring a map of Lisbon"])
    await d.chat.send(me, chat.id, "What should I pack?")
    from_chat = await d.transcripts.create_from_chat(me, chat.id, tags=["travel"])
    assert (from_chat.title, from_chat.source, from_chat.session_id) == ("Trip", "chat", chat.id)
    assert "Bring a map of Lisbon" in from_chat.content
    note = await d.transcripts.create(me, title="Groceries", content="apples and pears", tags=["home"])
    assert note.source == "manual" and note.word_count == 3

    page = await d.transcripts.list(me)
    assert [t.id for t in page.items] == [note.id, from_chat.id]
    tagged = await d.transcripts.list(me, tag="travel")
    assert [t.id for t in tagged.items] == [from_chat.id]

    changed = await d.transcripts.update(me, note.id, content="apples, pears and lisbon figs")
    assert changed.word_count == 5 and changed.title == "Groceries"
    hits = await d.transcripts.search(me, "lisbon")
    assert {h.transcript.id for h in hits.items} == {note.id, from_chat.id}
    for hit in hits.items:
        start, end = hit.highlights[0]
        assert hit.snippet[start:end].lower() == "lisbon"
    with pytest.raises(delegate.Invalid):
        await d.transcripts.search(me, "")

    exported = await d.transcripts.export(me, note.id, "json")
    assert exported.content_type.startswith("application/json")
    assert json.loads(exported.body)["title"] == "Groceries"
    with pytest.raises(delegate.Invalid):
        await d.transcripts.export(me, note.id, "pdf")  # type: ignore[arg-type]

    bob = await d.auth.verify((await d.auth.register(email="tr-bob@example.com", password=PASSWORD)).access_token)
    with pytest.raises(delegate.NotFound):
        await d.transcripts.get(bob, note.id)
    assert (await d.transcripts.search(bob, "lisbon")).items == []
    await d.transcripts.delete(me, note.id)
    with pytest.raises(delegate.NotFound):
        await d.transcripts.get(me, note.id)
