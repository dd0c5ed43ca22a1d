//! The `ConversationStore` suite: session round trips, owner scoping, paging both ways,
//! renames, deletes that take the messages along, `updated_at` bumps and finishing replies.

use super::support::{at, seed_user, t0};
use crate::Stores;
use crate::chat::{ChatSession, Message, MessageRole, MessageStatus, TokenUsage};
use crate::error::ErrorKind;
use crate::ids::{ChatSessionId, MessageId, UserId};

/// `n` sessions of `user`, in id (= creation) order, the i-th created at `at(i)`. Not
/// stored.
fn sessions(user: UserId, n: usize) -> Vec<ChatSession> {
    let mut ids: Vec<ChatSessionId> = (0..n).map(|_| ChatSessionId::new()).collect();
    ids.sort();
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            let mut s = ChatSession::new(user, format!("Chat {i}"), at(i as i64));
            s.id = id;
            s
        })
        .collect()
}

/// Stores one session of `user` created at `at(secs)`.
async fn seed_chat(stores: &Stores, user: UserId, secs: i64) -> ChatSession {
    let session = ChatSession::new(user, "Seeded chat", at(secs));
    stores
        .conversations
        .create_chat_session(&session)
        .await
        .expect("create seeded chat session");
    session
}

/// `n` messages of `session`, in id order, alternating user and assistant, the i-th
/// created at `at(from + i)`. Not stored.
fn messages(session: ChatSessionId, from: i64, n: usize) -> Vec<Message> {
    let mut ids: Vec<MessageId> = (0..n).map(|_| MessageId::new()).collect();
    ids.sort();
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            let role = if i % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            let mut m = Message::new(
                session,
                role,
                format!("message {i}"),
                MessageStatus::Complete,
                at(from + i as i64),
            );
            m.id = id;
            if role == MessageRole::Assistant {
                m.usage = Some(TokenUsage {
                    prompt_tokens: 100 + i as u32,
                    completion_tokens: 10 + i as u32,
                });
            }
            m
        })
        .collect()
}

/// Stores `messages` in the given order.
async fn add_all(stores: &Stores, messages: &[Message]) {
    for m in messages {
        stores
            .conversations
            .add_message(m)
            .await
            .expect("add message");
    }
}

fn session_ids(sessions: &[ChatSession]) -> Vec<ChatSessionId> {
    sessions.iter().map(|s| s.id).collect()
}

fn message_ids(messages: &[Message]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id).collect()
}

/// A created session reads back field for field, with and without model and system
/// prompt; an unknown id is `None`.
pub async fn create_then_get_round_trips(stores: Stores) {
    let ada = seed_user(&stores).await;
    let mut full = ChatSession::new(ada.id, "Trip to Lisbon", at(10))
        .with_model("gpt-4o-mini")
        .with_system_prompt("You are a terse travel agent.\nAnswer in English.");
    full.updated_at = at(20);
    stores
        .conversations
        .create_chat_session(&full)
        .await
        .unwrap();

    let bare = ChatSession::new(ada.id, "", t0());
    stores
        .conversations
        .create_chat_session(&bare)
        .await
        .unwrap();

    assert_eq!(
        stores
            .conversations
            .get_chat_session(ada.id, full.id)
            .await
            .unwrap(),
        Some(full)
    );
    assert_eq!(
        stores
            .conversations
            .get_chat_session(ada.id, bare.id)
            .await
            .unwrap(),
        Some(bare)
    );
    assert_eq!(
        stores
            .conversations
            .get_chat_session(ada.id, ChatSessionId::new())
            .await
            .unwrap(),
        None
    );
}

/// Another user's session id behaves exactly like an unknown one: `get_chat_session` is `None`,
/// `rename_chat_session` and `delete_chat_session` are false, its owner's lists leave it out, and
/// nothing about it (title, `updated_at`, messages) changes.
pub async fn another_users_session_is_unreachable(stores: Stores) {
    let ada = seed_user(&stores).await;
    let eve = seed_user(&stores).await;
    let adas = seed_chat(&stores, ada.id, 0).await;
    let said = messages(adas.id, 10, 2);
    add_all(&stores, &said).await;
    let before = stores
        .conversations
        .get_chat_session(ada.id, adas.id)
        .await
        .unwrap()
        .expect("ada's session exists");

    let conv = &stores.conversations;
    assert_eq!(conv.get_chat_session(eve.id, adas.id).await.unwrap(), None);
    assert!(
        !conv
            .rename_chat_session(eve.id, adas.id, "mine now", at(50))
            .await
            .unwrap()
    );
    assert!(!conv.delete_chat_session(eve.id, adas.id).await.unwrap());
    assert!(
        conv.list_chat_sessions(eve.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown ids answer the same way for the owner.
    let unknown = ChatSessionId::new();
    assert_eq!(conv.get_chat_session(ada.id, unknown).await.unwrap(), None);
    assert!(
        !conv
            .rename_chat_session(ada.id, unknown, "nothing", at(50))
            .await
            .unwrap()
    );
    assert!(!conv.delete_chat_session(ada.id, unknown).await.unwrap());

    // Nothing changed.
    assert_eq!(
        conv.get_chat_session(ada.id, adas.id).await.unwrap(),
        Some(before.clone())
    );
    assert_eq!(before.title, "Seeded chat");
    assert_eq!(before.updated_at, at(11));
    assert_eq!(conv.list_messages(adas.id, None, 10).await.unwrap(), said);
    assert_eq!(
        session_ids(&conv.list_chat_sessions(ada.id, None, 10).await.unwrap()),
        vec![adas.id]
    );
}

/// `list_chat_sessions` returns only the user's sessions, newest first by id, at most `limit`,
/// strictly older than `before` (which need not be a stored id).
pub async fn list_sessions_pages_newest_first(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;
    assert!(
        stores
            .conversations
            .list_chat_sessions(ada.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let adas = sessions(ada.id, 5);
    let bobs = sessions(bob.id, 3);
    // Inserted out of id order, and interleaved with another user's, so a store returning
    // insertion order or ignoring the owner fails.
    for i in [3, 0, 4, 1, 2] {
        stores
            .conversations
            .create_chat_session(&adas[i])
            .await
            .unwrap();
        if let Some(bobs) = bobs.get(i) {
            stores
                .conversations
                .create_chat_session(bobs)
                .await
                .unwrap();
        }
    }
    let newest_first: Vec<ChatSessionId> = adas.iter().rev().map(|s| s.id).collect();
    let ada_id = ada.id;
    let list = |before: Option<ChatSessionId>, limit: u32| {
        let conv = stores.conversations.clone();
        async move {
            conv.list_chat_sessions(ada_id, before, limit)
                .await
                .expect("list sessions")
        }
    };

    let all = list(None, 10).await;
    assert_eq!(session_ids(&all), newest_first);
    let mut expected: Vec<ChatSession> = adas.clone();
    expected.reverse();
    assert_eq!(all, expected, "sessions read back field for field");

    assert_eq!(session_ids(&list(None, 2).await), newest_first[..2]);
    assert_eq!(
        session_ids(&list(Some(newest_first[1]), 2).await),
        newest_first[2..4]
    );
    assert_eq!(
        session_ids(&list(Some(newest_first[3]), 2).await),
        newest_first[4..]
    );
    assert!(list(Some(newest_first[4]), 10).await.is_empty());
    assert!(list(None, 0).await.is_empty());

    // `before` is a position in id order, not necessarily a stored id.
    let after_all = ChatSessionId::from_uuid(uuid::Uuid::from_u128(u128::MAX));
    assert_eq!(session_ids(&list(Some(after_all), 10).await), newest_first);
    let before_all = ChatSessionId::from_uuid(uuid::Uuid::nil());
    assert!(list(Some(before_all), 10).await.is_empty());
    // Another user's id works as a position too, and still yields only ada's sessions.
    let mut bob_ids = session_ids(&bobs);
    bob_ids.sort();
    let older_than_bobs: Vec<ChatSessionId> = newest_first
        .iter()
        .copied()
        .filter(|id| *id < bob_ids[2])
        .collect();
    assert_eq!(
        session_ids(&list(Some(bob_ids[2]), 10).await),
        older_than_bobs
    );

    let bobs_list = stores
        .conversations
        .list_chat_sessions(bob.id, None, 10)
        .await
        .unwrap();
    let mut bobs_newest_first = bob_ids.clone();
    bobs_newest_first.reverse();
    assert_eq!(session_ids(&bobs_list), bobs_newest_first);
}

/// `rename_chat_session` sets the title and `updated_at` of the owner's session and nothing else.
pub async fn rename_changes_title_and_updated_at(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = ChatSession::new(ada.id, "Untitled", at(0))
        .with_model("m1")
        .with_system_prompt("be brief");
    stores
        .conversations
        .create_chat_session(&chat)
        .await
        .unwrap();
    let other = seed_chat(&stores, ada.id, 5).await;

    assert!(
        stores
            .conversations
            .rename_chat_session(ada.id, chat.id, "Renamed ✓", at(30))
            .await
            .unwrap()
    );
    let renamed = stores
        .conversations
        .get_chat_session(ada.id, chat.id)
        .await
        .unwrap()
        .expect("still there");
    let mut expected = chat.clone();
    expected.title = "Renamed ✓".to_owned();
    expected.updated_at = at(30);
    assert_eq!(renamed, expected);
    assert_eq!(
        stores
            .conversations
            .get_chat_session(ada.id, other.id)
            .await
            .unwrap(),
        Some(other),
        "another session is untouched"
    );
}

/// `delete_chat_session` removes the session and its messages (and only those); a second
/// delete is false, and finishing one of its messages afterwards changes nothing.
pub async fn delete_removes_the_session_and_its_messages(stores: Stores) {
    let ada = seed_user(&stores).await;
    let doomed = seed_chat(&stores, ada.id, 0).await;
    let kept = seed_chat(&stores, ada.id, 1).await;
    let doomed_msgs = messages(doomed.id, 10, 3);
    let kept_msgs = messages(kept.id, 20, 2);
    add_all(&stores, &doomed_msgs).await;
    add_all(&stores, &kept_msgs).await;

    let conv = &stores.conversations;
    assert!(conv.delete_chat_session(ada.id, doomed.id).await.unwrap());
    assert_eq!(
        conv.get_chat_session(ada.id, doomed.id).await.unwrap(),
        None
    );
    assert!(
        conv.list_messages(doomed.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        conv.recent_messages(doomed.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!conv.delete_chat_session(ada.id, doomed.id).await.unwrap());
    assert_eq!(
        session_ids(&conv.list_chat_sessions(ada.id, None, 10).await.unwrap()),
        vec![kept.id]
    );

    // A reply still streaming into a deleted chat finishes into nothing.
    conv.finish_message(doomed_msgs[1].id, "too late", MessageStatus::Complete, None)
        .await
        .unwrap();
    assert!(
        conv.list_messages(doomed.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        conv.list_messages(kept.id, None, 10).await.unwrap(),
        kept_msgs
    );
}

/// `add_message` sets the session's `updated_at` to the message's `created_at`; a message
/// for a session that does not exist is `NotFound` and stores nothing.
pub async fn add_message_bumps_updated_at(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = seed_chat(&stores, ada.id, 0).await;
    let other = seed_chat(&stores, ada.id, 1).await;
    let conv = &stores.conversations;

    let said = messages(chat.id, 50, 2);
    conv.add_message(&said[0]).await.unwrap();
    let got = conv
        .get_chat_session(ada.id, chat.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.updated_at, at(50));
    assert_eq!(got.created_at, at(0));
    conv.add_message(&said[1]).await.unwrap();
    let got = conv
        .get_chat_session(ada.id, chat.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.updated_at, at(51));
    assert_eq!(got.title, chat.title);
    // The list shows the bump too, and the other session is untouched.
    let listed = conv.list_chat_sessions(ada.id, None, 10).await.unwrap();
    let listed_chat = listed.iter().find(|s| s.id == chat.id).expect("listed");
    assert_eq!(listed_chat.updated_at, at(51));
    assert_eq!(
        conv.get_chat_session(ada.id, other.id).await.unwrap(),
        Some(other)
    );

    let orphan = Message::new(
        ChatSessionId::new(),
        MessageRole::User,
        "hello?",
        MessageStatus::Complete,
        at(60),
    );
    let err = conv
        .add_message(&orphan)
        .await
        .expect_err("a message needs an existing session");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        conv.list_messages(orphan.session_id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `list_messages` returns the session's messages oldest first by id, field for field, at
/// most `limit`, strictly newer than `after` (which need not be a stored id).
pub async fn list_messages_pages_oldest_first(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = seed_chat(&stores, ada.id, 0).await;
    let other = seed_chat(&stores, ada.id, 1).await;
    let conv = &stores.conversations;
    assert!(
        conv.list_messages(chat.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let said = messages(chat.id, 10, 5);
    let elsewhere = messages(other.id, 10, 2);
    // Out of id order, interleaved with another session's.
    for i in [2, 0, 4, 1, 3] {
        conv.add_message(&said[i]).await.unwrap();
        if i < 2 {
            conv.add_message(&elsewhere[i]).await.unwrap();
        }
    }
    let ids = message_ids(&said);

    assert_eq!(conv.list_messages(chat.id, None, 10).await.unwrap(), said);
    assert_eq!(
        message_ids(&conv.list_messages(chat.id, None, 2).await.unwrap()),
        ids[..2]
    );
    assert_eq!(
        message_ids(&conv.list_messages(chat.id, Some(ids[1]), 2).await.unwrap()),
        ids[2..4]
    );
    assert_eq!(
        message_ids(&conv.list_messages(chat.id, Some(ids[3]), 2).await.unwrap()),
        ids[4..]
    );
    assert!(
        conv.list_messages(chat.id, Some(ids[4]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        conv.list_messages(chat.id, None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let before_all = MessageId::from_uuid(uuid::Uuid::nil());
    assert_eq!(
        message_ids(
            &conv
                .list_messages(chat.id, Some(before_all), 10)
                .await
                .unwrap()
        ),
        ids
    );
    let after_all = MessageId::from_uuid(uuid::Uuid::from_u128(u128::MAX));
    assert!(
        conv.list_messages(chat.id, Some(after_all), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        conv.list_messages(other.id, None, 10).await.unwrap(),
        elsewhere
    );
    assert!(
        conv.list_messages(ChatSessionId::new(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `recent_messages` returns the session's newest `limit` messages, oldest first.
pub async fn recent_messages_returns_the_newest_in_order(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = seed_chat(&stores, ada.id, 0).await;
    let other = seed_chat(&stores, ada.id, 1).await;
    let conv = &stores.conversations;
    assert!(conv.recent_messages(chat.id, 3).await.unwrap().is_empty());

    let said = messages(chat.id, 10, 5);
    let elsewhere = messages(other.id, 30, 2);
    // Out of id order, and another session's messages are newer than all of these.
    for i in [4, 1, 3, 0, 2] {
        conv.add_message(&said[i]).await.unwrap();
    }
    add_all(&stores, &elsewhere).await;

    assert_eq!(conv.recent_messages(chat.id, 3).await.unwrap(), said[2..]);
    assert_eq!(conv.recent_messages(chat.id, 1).await.unwrap(), said[4..]);
    assert_eq!(conv.recent_messages(chat.id, 5).await.unwrap(), said);
    assert_eq!(conv.recent_messages(chat.id, 50).await.unwrap(), said);
    assert!(conv.recent_messages(chat.id, 0).await.unwrap().is_empty());
    assert_eq!(conv.recent_messages(other.id, 10).await.unwrap(), elsewhere);
    assert!(
        conv.recent_messages(ChatSessionId::new(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `get_message` finds a message of the session by id (past a page of others too, with its
/// source), and nothing for an unknown id or another session's message.
pub async fn get_message_finds_only_that_sessions_message(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = seed_chat(&stores, ada.id, 0).await;
    let other = seed_chat(&stores, ada.id, 1).await;
    let conv = &stores.conversations;
    let mut said = messages(chat.id, 10, 130);
    said[129].source = crate::chat::MessageSource::Voice;
    add_all(&stores, &said).await;
    let elsewhere = messages(other.id, 300, 1);
    add_all(&stores, &elsewhere).await;
    for i in [0, 57, 129] {
        assert_eq!(
            conv.get_message(chat.id, said[i].id)
                .await
                .unwrap()
                .as_ref(),
            Some(&said[i])
        );
    }
    assert!(
        conv.get_message(chat.id, MessageId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        conv.get_message(chat.id, elsewhere[0].id)
            .await
            .unwrap()
            .is_none()
    );
}

/// `finish_message` sets exactly one message's content, status and usage (clearing the
/// usage when given none); other fields and messages are untouched, and an unknown id
/// changes nothing.
pub async fn finish_message_updates_content_status_and_usage(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = seed_chat(&stores, ada.id, 0).await;
    let conv = &stores.conversations;

    let question = Message::new(
        chat.id,
        MessageRole::User,
        "Why is the sky blue?",
        MessageStatus::Complete,
        at(10),
    );
    conv.add_message(&question).await.unwrap();
    let reply = Message::new(
        chat.id,
        MessageRole::Assistant,
        "",
        MessageStatus::Partial,
        at(11),
    );
    conv.add_message(&reply).await.unwrap();
    let mut ordered = vec![question.clone(), reply.clone()];
    ordered.sort_by_key(|m| m.id);
    assert_eq!(
        conv.list_messages(chat.id, None, 10).await.unwrap(),
        ordered
    );

    let usage = TokenUsage {
        prompt_tokens: 42,
        completion_tokens: u32::MAX,
    };
    let text = "Rayleigh scattering: shorter wavelengths scatter more. 🌍";
    conv.finish_message(reply.id, text, MessageStatus::Complete, Some(usage))
        .await
        .unwrap();
    let mut finished = reply.clone();
    finished.content = text.to_owned();
    finished.status = MessageStatus::Complete;
    finished.usage = Some(usage);
    let mut expected = vec![question.clone(), finished.clone()];
    expected.sort_by_key(|m| m.id);
    assert_eq!(
        conv.list_messages(chat.id, None, 10).await.unwrap(),
        expected
    );
    assert_eq!(conv.recent_messages(chat.id, 10).await.unwrap(), expected);

    // Finishing again replaces all three, including clearing the usage.
    conv.finish_message(reply.id, "cut short", MessageStatus::Failed, None)
        .await
        .unwrap();
    finished.content = "cut short".to_owned();
    finished.status = MessageStatus::Failed;
    finished.usage = None;
    let mut expected = vec![question.clone(), finished];
    expected.sort_by_key(|m| m.id);
    assert_eq!(
        conv.list_messages(chat.id, None, 10).await.unwrap(),
        expected
    );

    for status in [MessageStatus::Cancelled, MessageStatus::Partial] {
        conv.finish_message(reply.id, "again", status, None)
            .await
            .unwrap();
        let got = conv.list_messages(chat.id, None, 10).await.unwrap();
        let got = got.iter().find(|m| m.id == reply.id).expect("reply");
        assert_eq!(got.status, status);
    }

    conv.finish_message(MessageId::new(), "nobody", MessageStatus::Complete, None)
        .await
        .unwrap();
    let got = conv.list_messages(chat.id, None, 10).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got.iter().find(|m| m.id == question.id), Some(&question));
}

/// Text the services let through (any Unicode but NUL) comes back byte for byte on every
/// backend: 4-byte characters, combining marks, zero-width and right-to-left characters,
/// controls other than NUL, the highest code points, and quotes and backslashes.
pub async fn any_text_but_nul_round_trips_exactly(stores: Stores) {
    let user = seed_user(&stores).await.id;
    let text = "emoji 🦀👩‍👩‍👧, e\u{301}, zero\u{200b}width, \u{202e}rtl, tab\tnew\nline \u{7f}\u{1}, \
                max \u{ffff}\u{10ffff}, quotes '\" and \\ back\\slash, ünïcødé";
    let session = ChatSession::new(user, text, at(1));
    stores
        .conversations
        .create_chat_session(&session)
        .await
        .unwrap();
    let got = stores
        .conversations
        .get_chat_session(user, session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.title, text);
    let message = Message::new(
        session.id,
        MessageRole::User,
        text,
        MessageStatus::Complete,
        at(2),
    );
    stores
        .conversations
        .add_messages(std::slice::from_ref(&message))
        .await
        .unwrap();
    let recent = stores
        .conversations
        .recent_messages(session.id, 10)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].content, text);
}
