//! `EventBus` over PostgreSQL LISTEN/NOTIFY, for instances that share a database without
//! Redis: one channel per schema, one listening connection per process (opened on the first
//! subscription), renewed after a drop with a gap reported to every subscriber. A payload
//! too large for a notification is stored in a row whose id the notification carries.

use super::{PgStore, db_error};
use crate::bus::fanout::Fanout;
use crate::bus::{EventBus, Subscription};
use crate::error::{Error, Result};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sqlx::postgres::PgListener;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::OnceCell;

/// NOTIFY payloads are limited to 8000 bytes; topic and base64 must fit.
const MAX_NOTIFY_BYTES: usize = 7900;

/// The bus of one process over PostgreSQL.
pub struct PgBus {
    inner: Arc<Inner>,
}

struct Inner {
    store: PgStore,
    channel: String,
    fanout: Fanout,
    listening: OnceCell<()>,
}

impl PgBus {
    /// A bus on `store`'s database, on the channel of its schema.
    pub async fn start(store: PgStore) -> Result<Self> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&store.pool)
            .await
            .map_err(db_error)?;
        let mut channel = format!("delegate_bus_{schema}");
        channel.truncate(63);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                channel,
                fanout: Fanout::new(1024),
                listening: OnceCell::new(),
            }),
        })
    }
}

impl Inner {
    /// The topic and payload a notification stands for (read from its row when large).
    async fn payload_of(&self, text: &str) -> Option<(String, Vec<u8>)> {
        let (topic, data) = text.split_once('\n')?;
        let payload = match data.strip_prefix('#') {
            Some(id) => sqlx::query_scalar("SELECT payload FROM bus_payloads WHERE id = $1")
                .bind(id.parse::<i64>().ok()?)
                .fetch_optional(&self.store.pool)
                .await
                .ok()??,
            None => STANDARD_NO_PAD.decode(data).ok()?,
        };
        Some((topic.to_owned(), payload))
    }

    /// Opens the listening connection and starts delivering, once per process.
    async fn listen(self: &Arc<Self>) -> Result<()> {
        self.listening
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect_with(&self.store.pool)
                    .await
                    .map_err(db_error)?;
                listener.listen(&self.channel).await.map_err(db_error)?;
                tokio::spawn(deliver(Arc::downgrade(self), listener));
                Ok::<(), Error>(())
            })
            .await
            .map(|_| ())
    }
}

/// Hands notifications to the local subscribers while the bus lives. A lost connection is
/// a gap; the listener reconnects and listens again by itself.
async fn deliver(inner: Weak<Inner>, mut listener: PgListener) {
    loop {
        let received = listener.try_recv().await;
        let Some(inner) = inner.upgrade() else { return };
        match received {
            Ok(Some(notification)) => match inner.payload_of(notification.payload()).await {
                Some((topic, payload)) => inner.fanout.deliver(&topic, payload),
                None => tracing::warn!("ignored a malformed or expired bus notification"),
            },
            Ok(None) => {
                tracing::warn!("the PostgreSQL event bus lost its connection; reconnecting");
                metrics::counter!("delegate_bus_reconnects_total", "backend" => "postgres")
                    .increment(1);
                inner.fanout.gap_all();
            }
            Err(e) => {
                tracing::warn!(error = %e, "the PostgreSQL event bus cannot listen; retrying");
                inner.fanout.gap_all();
                drop(inner);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn encode(topic: &str, payload: &[u8]) -> String {
    format!("{topic}\n{}", STANDARD_NO_PAD.encode(payload))
}

#[async_trait]
impl EventBus for PgBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        let mut text = encode(topic, &payload);
        if text.len() > MAX_NOTIFY_BYTES {
            let pool = &self.inner.store.pool;
            sqlx::query("DELETE FROM bus_payloads WHERE created_at < now() - interval '1 hour'")
                .execute(pool)
                .await
                .map_err(db_error)?;
            let id: i64 =
                sqlx::query_scalar("INSERT INTO bus_payloads (payload) VALUES ($1) RETURNING id")
                    .bind(&payload)
                    .fetch_one(pool)
                    .await
                    .map_err(db_error)?;
            text = format!("{topic}\n#{id}");
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.inner.channel)
            .bind(text)
            .execute(&self.inner.store.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        self.inner.listen().await?;
        Ok(self.inner.fanout.subscribe(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_base64_after_the_topic_line() {
        let text = encode("auth", &[0, 10, 255, b'\n']);
        assert_eq!(text, "auth\nAAr/Cg");
    }
}
