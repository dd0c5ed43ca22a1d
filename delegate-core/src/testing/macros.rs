//! The macros that instantiate the conformance suites as `#[tokio::test]`s per backend.
//!
//! Each list below names every case of its suite; a case added to a suite module must be
//! added here too, or no backend runs it.

/// Instantiates the relational suites ([`users`](crate::testing::users),
/// [`sessions`](crate::testing::sessions), [`refresh`](crate::testing::refresh),
/// [`denylist`](crate::testing::denylist), [`chat`](crate::testing::chat),
/// [`usage`](crate::testing::usage)) for one backend.
///
/// `store_conformance!(name, factory)` expands to `mod name { mod users { … } … }` with one
/// multi-threaded `#[tokio::test]` per case. `factory` is an expression evaluating to a
/// future whose output converts into a [`StoreFixture`](crate::testing::StoreFixture)
/// (a [`Stores`](crate::Stores) does); it is evaluated afresh for every test, inside
/// `mod name`, which glob-imports the invoking module. The caller must depend on `tokio`.
#[macro_export]
macro_rules! store_conformance {
    ($backend:ident, $factory:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn __fixture() -> $crate::testing::StoreFixture {
                ::core::convert::Into::into($factory.await)
            }

            mod users {
                use super::__fixture;
                $crate::__conformance_cases!(stores, users: [
                    insert_then_get_round_trips,
                    duplicate_email_is_conflict,
                    credentials_by_email_returns_the_hash,
                    list_pages_in_id_order,
                    set_tier_and_role_update_only_known_users,
                    set_password_hash_replaces_only_that_hash,
                    update_profile_changes_only_named_fields,
                    search_filters_by_prefix_tier_role_and_disabled,
                    the_last_enabled_admin_is_kept,
                    concurrent_demotions_leave_an_admin,
                    delete_removes_the_account_and_what_it_owns,
                ]);
            }

            mod transcripts {
                use super::__fixture;
                $crate::__conformance_cases!(stores, transcripts: [
                    insert_then_get_is_owner_scoped,
                    list_pages_newest_first_with_filters,
                    update_and_delete_only_the_owners,
                    search_understands_the_query_language,
                    search_folds_case_and_accents,
                ]);
            }

            mod transcript_ranking {
                use super::__fixture;
                $crate::__conformance_cases!(stores, transcript_ranking: [
                    search_ranks_title_then_frequency_then_newest,
                    search_ranking_agrees_on_a_realistic_corpus,
                    search_ranks_only_the_newest_window_of_matches,
                ]);
            }

            mod audit {
                use super::__fixture;
                $crate::__conformance_cases!(stores, audit: [
                    append_then_query_newest_first,
                    query_filters_by_user_kind_and_time,
                    append_is_idempotent_by_id,
                    purge_before_deletes_old_events,
                ]);
            }

            mod sessions {
                use super::__fixture;
                $crate::__conformance_cases!(stores, sessions: [
                    insert_then_get_round_trips,
                    list_alive_excludes_dead_sessions_newest_first,
                    alive_past_skips_the_newest,
                    touch_never_moves_backwards,
                    revoke_succeeds_once,
                    revoke_all_returns_exactly_the_unrevoked_ids,
                    purge_deletes_dead_sessions_and_counts,
                ]);
            }

            mod refresh {
                use super::__fixture;
                $crate::__conformance_cases!(stores, refresh: [
                    rotate_then_reuse_then_unknown,
                    child_rotates_in_the_same_family,
                    concurrent_rotations_have_exactly_one_winner,
                    rotations_racing_a_purge_of_their_sessions_never_fail,
                    count_unused_is_per_family,
                    delete_families_counts_tokens,
                    purge_issued_before_counts_tokens,
                ]);
            }

            mod denylist {
                use super::__fixture;
                $crate::__conformance_cases!(stores, denylist: [
                    deny_twice_is_fine,
                    active_excludes_ended_denials,
                    purge_deletes_ended_denials_and_counts,
                ]);
            }

            mod chat {
                use super::__fixture;
                $crate::__conformance_cases!(stores, chat: [
                    create_then_get_round_trips,
                    another_users_session_is_unreachable,
                    list_sessions_pages_newest_first,
                    rename_changes_title_and_updated_at,
                    delete_removes_the_session_and_its_messages,
                    add_message_bumps_updated_at,
                    list_messages_pages_oldest_first,
                    recent_messages_returns_the_newest_in_order,
                    get_message_finds_only_that_sessions_message,
                    finish_message_updates_content_status_and_usage,
                    any_text_but_nul_round_trips_exactly,
                ]);
            }

            mod usage {
                use super::__fixture;
                $crate::__conformance_cases!(stores, usage: [
                    totals_sum_only_the_users_events_since,
                    totals_exceed_the_event_width,
                    totals_survive_deleting_the_session,
                    totals_are_exact_across_day_boundaries,
                    holds_are_atomic_per_user_and_count_with_the_ledger,
                ]);
            }
        }
    };
}

/// Instantiates the [`cache`](crate::testing::cache) suite for one backend.
///
/// `factory` evaluates to a future whose output converts into a
/// [`CacheFixture`](crate::testing::CacheFixture) (an `(Arc<dyn Cache>, ManualClock)` pair
/// does, where the clock drives the cache's expiry; `CacheFixture::real_time` is for caches
/// that expire on a server's clock). Otherwise as
/// [`store_conformance!`](crate::store_conformance).
#[macro_export]
macro_rules! cache_conformance {
    ($backend:ident, $factory:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn __fixture() -> $crate::testing::CacheFixture {
                ::core::convert::Into::into($factory.await)
            }

            $crate::__conformance_cases!(cache, cache: [
                set_then_get_round_trips,
                delete_reports_presence,
                entries_expire_after_their_ttl,
                set_replaces_the_ttl,
                clear_removes_matching_keys,
                clear_treats_only_star_as_a_wildcard,
                clear_ignores_expired_entries,
            ]);
        }
    };
}

/// Instantiates the [`ratelimit`](crate::testing::ratelimit) suite for one backend.
///
/// `factory` evaluates to a future whose output converts into a
/// [`LimiterFixture`](crate::testing::LimiterFixture) (an
/// `(Arc<dyn RateLimiter>, ManualClock)` pair does), where the clock moves the limiter's
/// windows. Otherwise as [`store_conformance!`](crate::store_conformance).
#[macro_export]
macro_rules! limiter_conformance {
    ($backend:ident, $factory:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn __fixture() -> $crate::testing::LimiterFixture {
                ::core::convert::Into::into($factory.await)
            }

            $crate::__conformance_cases!(limiter, ratelimit: [
                admits_exactly_the_limit,
                window_slides_with_the_clock,
                readmits_after_the_window,
                refusals_are_not_counted,
                keys_are_independent,
                concurrent_checks_admit_exactly_the_limit,
                reset_forgets_one_key,
            ]);
        }
    };
}

/// Instantiates the [`bus`](crate::testing::bus) suite for one backend.
///
/// `factory` evaluates to a future whose output converts into a
/// [`BusFixture`](crate::testing::BusFixture) (an `Arc<dyn EventBus>` does). Otherwise as
/// [`store_conformance!`](crate::store_conformance).
#[macro_export]
macro_rules! bus_conformance {
    ($backend:ident, $factory:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn __fixture() -> $crate::testing::BusFixture {
                ::core::convert::Into::into($factory.await)
            }

            $crate::__conformance_cases!(bus, bus: [
                delivers_to_every_subscriber_in_order,
                topics_are_isolated,
                publish_without_subscribers_is_fine,
                payloads_arrive_byte_for_byte,
                dropped_subscriber_does_not_affect_others,
                concurrent_publishers_are_all_delivered,
            ]);
        }
    };
}

/// One `#[tokio::test]` per listed case of `$suite`, fed from `__fixture()` in scope.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    (stores, $suite:ident: [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = __fixture().await;
                $crate::testing::$suite::$case(fixture.stores.clone()).await;
            }
        )*
    };
    (cache, $suite:ident: [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = __fixture().await;
                $crate::testing::$suite::$case(fixture.cache.clone(), fixture.time.clone()).await;
            }
        )*
    };
    (limiter, $suite:ident: [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = __fixture().await;
                $crate::testing::$suite::$case(fixture.limiter.clone(), fixture.clock.clone())
                    .await;
            }
        )*
    };
    (bus, $suite:ident: [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = __fixture().await;
                $crate::testing::$suite::$case(fixture.bus.clone()).await;
            }
        )*
    };
}
