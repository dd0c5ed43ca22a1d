//! The `UsageStore` suite: totals per user and period, large sums, and a ledger that
//! outlives the chats it metered.

use super::support::{at, seed_user};
use crate::Stores;
use crate::chat::{ChatSession, Message, MessageRole, MessageStatus};
use crate::ids::{MessageId, UserId};
use crate::usage::{Hold, HoldLimits, HoldOutcome, UsageEvent, UsageTotals, day_of};

fn event(user: UserId, secs: i64, messages: u32, prompt: u32, completion: u32) -> UsageEvent {
    UsageEvent {
        messages,
        prompt_tokens: prompt,
        completion_tokens: completion,
        ..UsageEvent::new(user, at(secs))
    }
}

fn totals(messages: u64, prompt_tokens: u64, completion_tokens: u64) -> UsageTotals {
    UsageTotals {
        messages,
        prompt_tokens,
        completion_tokens,
        ..UsageTotals::default()
    }
}

/// `totals_since` sums exactly the user's events at or after `since` (one exactly at
/// `since` counts); a user with no events has zero totals.
pub async fn totals_sum_only_the_users_events_since(stores: Stores) {
    let ada = seed_user(&stores).await;
    let bob = seed_user(&stores).await;
    assert_eq!(
        stores.usage.totals_since(ada.id, at(0)).await.unwrap(),
        UsageTotals::default()
    );

    for e in [
        event(ada.id, -10, 1, 1_000, 2_000),
        event(ada.id, 0, 1, 0, 0),
        event(bob.id, 5, 1, 7, 7),
        event(ada.id, 5, 0, 30, 40),
        event(ada.id, 100, 1, 500, 600),
        // Recorded out of time order.
        event(ada.id, 50, 2, 1, 2),
    ] {
        stores.usage.record(&e).await.unwrap();
    }

    let usage = &stores.usage;
    assert_eq!(
        usage.totals_since(ada.id, at(-100)).await.unwrap(),
        totals(5, 1_531, 2_642)
    );
    assert_eq!(
        usage.totals_since(ada.id, at(0)).await.unwrap(),
        totals(4, 531, 642)
    );
    assert_eq!(
        usage.totals_since(ada.id, at(1)).await.unwrap(),
        totals(3, 531, 642)
    );
    assert_eq!(
        usage.totals_since(ada.id, at(100)).await.unwrap(),
        totals(1, 500, 600)
    );
    assert_eq!(
        usage.totals_since(ada.id, at(101)).await.unwrap(),
        UsageTotals::default()
    );
    assert_eq!(
        usage.totals_since(bob.id, at(0)).await.unwrap(),
        totals(1, 7, 7)
    );
    assert_eq!(
        usage.totals_since(UserId::new(), at(-100)).await.unwrap(),
        UsageTotals::default()
    );
}

/// Totals are 64-bit: events at the `u32` maximum add up without wrapping.
pub async fn totals_exceed_the_event_width(stores: Stores) {
    let ada = seed_user(&stores).await;
    for secs in 0..3 {
        let big = event(ada.id, secs, u32::MAX, u32::MAX, u32::MAX);
        stores.usage.record(&big).await.unwrap();
    }
    let sum = 3 * u64::from(u32::MAX);
    assert_eq!(
        stores.usage.totals_since(ada.id, at(0)).await.unwrap(),
        totals(sum, sum, sum)
    );
}

/// Deleting a chat session (and with it its messages) leaves the ledger as it was, so a
/// deleted chat refunds no quota.
pub async fn totals_survive_deleting_the_session(stores: Stores) {
    let ada = seed_user(&stores).await;
    let chat = ChatSession::new(ada.id, "Metered", at(0));
    stores
        .conversations
        .create_chat_session(&chat)
        .await
        .unwrap();
    let question = Message::new(
        chat.id,
        MessageRole::User,
        "hi",
        MessageStatus::Complete,
        at(1),
    );
    stores.conversations.add_message(&question).await.unwrap();
    stores
        .usage
        .record(&event(ada.id, 1, 1, 0, 0))
        .await
        .unwrap();
    stores
        .usage
        .record(&event(ada.id, 2, 0, 12, 34))
        .await
        .unwrap();
    let before = stores.usage.totals_since(ada.id, at(0)).await.unwrap();
    assert_eq!(before, totals(1, 12, 34));

    assert!(
        stores
            .conversations
            .delete_chat_session(ada.id, chat.id)
            .await
            .unwrap()
    );
    assert_eq!(
        stores.usage.totals_since(ada.id, at(0)).await.unwrap(),
        before
    );
}

/// Totals are exact for any `since` across UTC day boundaries: from a midnight, from the
/// middle of a day, and past the last event (backends may keep daily rollups).
pub async fn totals_are_exact_across_day_boundaries(stores: Stores) {
    const DAY: i64 = 86_400;
    let ada = seed_user(&stores).await;
    // `at(secs)` counts from a fixed base; find that base's midnight to place events.
    let base = at(0);
    let midnight = crate::usage::day_of(base);
    let offset = (midnight - base).num_seconds();
    let day = |d: i64, hour: i64| offset + d * DAY + hour * 3600;
    for (d, hour, messages) in [(1, 10, 1), (1, 23, 2), (2, 1, 4), (3, 12, 8)] {
        let e = event(
            ada.id,
            day(d, hour),
            messages,
            messages * 10,
            messages * 100,
        );
        stores.usage.record(&e).await.unwrap();
    }
    let since = |secs: i64| stores.usage.totals_since(ada.id, at(secs));
    assert_eq!(
        since(day(1, 0)).await.unwrap(),
        totals(15, 150, 1500),
        "from a midnight"
    );
    assert_eq!(
        since(day(1, 12)).await.unwrap(),
        totals(14, 140, 1400),
        "from mid-day"
    );
    assert_eq!(since(day(2, 0)).await.unwrap(), totals(12, 120, 1200));
    assert_eq!(since(day(2, 2)).await.unwrap(), totals(8, 80, 800));
    assert_eq!(
        since(day(3, 13)).await.unwrap(),
        totals(0, 0, 0),
        "after the last"
    );
}

fn limits(messages_per_day: u64, tokens_per_month: u64, max_holds: u32) -> HoldLimits {
    let now = at(3600);
    HoldLimits {
        now,
        day_start: day_of(now),
        month_start: day_of(now) - chrono::TimeDelta::days(3),
        messages_per_day,
        tokens_per_month,
        max_holds,
    }
}

fn hold_for(user: UserId, tokens: u32) -> Hold {
    Hold {
        message_id: MessageId::new(),
        user_id: user,
        tokens,
        expires_at: at(7200),
    }
}

/// Holds count with the ledger: a user with one message left gets one hold out of many
/// concurrent ones; releasing it frees the place; expired holds do not count; another
/// user is not affected.
pub async fn holds_are_atomic_per_user_and_count_with_the_ledger(stores: Stores) {
    let ada = seed_user(&stores).await.id;
    let bob = seed_user(&stores).await.id;
    stores
        .usage
        .record(&event(ada, 3600, 2, 10, 10))
        .await
        .unwrap();
    // Three messages a day, two used: of 10 concurrent holds exactly one is taken.
    let tries = (0..10).map(|_| {
        let stores = stores.clone();
        async move {
            let hold = hold_for(ada, 100);
            (
                hold,
                stores.usage.hold(&hold, &limits(3, 0, 0)).await.unwrap(),
            )
        }
    });
    let outcomes = futures::future::join_all(tries).await;
    let held: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| *o == HoldOutcome::Held)
        .collect();
    assert_eq!(held.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| matches!(o, HoldOutcome::Held | HoldOutcome::MessagesUsedUp))
    );
    // Bob has his own budget.
    let bobs = hold_for(bob, 100);
    assert_eq!(
        stores.usage.hold(&bobs, &limits(3, 0, 0)).await.unwrap(),
        HoldOutcome::Held
    );
    // Released, the place is free again.
    stores.usage.release(held[0].0.message_id).await.unwrap();
    stores.usage.release(MessageId::new()).await.unwrap();
    let again = hold_for(ada, 100);
    assert_eq!(
        stores.usage.hold(&again, &limits(3, 0, 0)).await.unwrap(),
        HoldOutcome::Held
    );
    // In-flight cap and held tokens.
    assert_eq!(
        stores
            .usage
            .hold(&hold_for(ada, 1), &limits(0, 0, 1))
            .await
            .unwrap(),
        HoldOutcome::TooManyInFlight
    );
    assert_eq!(
        stores
            .usage
            .hold(&hold_for(ada, 1), &limits(0, 120, 0))
            .await
            .unwrap(),
        HoldOutcome::TokensUsedUp,
        "20 used + 100 held reach 120"
    );
    // An expired hold no longer counts.
    let mut late = limits(3, 0, 0);
    late.now = at(7200);
    assert_eq!(
        stores.usage.hold(&hold_for(ada, 1), &late).await.unwrap(),
        HoldOutcome::Held
    );
}

/// A transaction given up at any point (a request whose client went away drops its future,
/// even while `BEGIN` is on the wire) leaves no pooled connection inside a transaction:
/// accounts written right after are committed, so `reader` (another connection to the same
/// database; the same store where there are no connections) sees every one of them.
pub async fn cancelled_transactions_leave_no_connection_in_one(writer: Stores, reader: Stores) {
    let ada = seed_user(&writer).await;
    let spent = event(ada.id, 0, 1, 1, 1);
    for round in 0..60u64 {
        // Sixteen at once, given up after anything from a single poll to a few round trips.
        let delay = std::time::Duration::from_micros(round % 12 * 40);
        let records = (0..16).map(|_| writer.usage.record(&spent));
        let _ = tokio::time::timeout(delay, futures::future::join_all(records)).await;
        for _ in 0..8 {
            let user = seed_user(&writer).await;
            assert!(
                reader.users.get(user.id).await.unwrap().is_some(),
                "round {round}: an account written after cancelled transactions was never \
                 committed"
            );
        }
    }
}
