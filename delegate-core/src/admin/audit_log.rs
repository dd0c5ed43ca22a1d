//! The audit writer: events are queued off the request path and appended in batches by one
//! task, retried while the store is down, and flushed on demand (reads see earlier writes).

use super::audit::{AuditEvent, AuditStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Most events queued before new ones are only logged (a store down for long under a flood
/// of failed logins must not exhaust memory).
const QUEUE_CAPACITY: usize = 65_536;
/// Most events appended in one statement.
const BATCH: usize = 256;
/// Attempts at one batch before its events are given up (and logged at `error`).
const ATTEMPTS: u32 = 8;

/// Where audit events are recorded. Cheap to clone; the writer task ends once every clone
/// is gone and the queue is drained.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Sender<AuditEvent>,
    /// Events accepted into the queue so far.
    queued: AtomicU64,
    /// Events the writer has finished with (appended or given up).
    done: watch::Receiver<u64>,
}

impl AuditLog {
    /// A log appending to `store`, with its writer task started. Needs a Tokio runtime.
    pub(crate) fn start(store: Arc<dyn AuditStore>) -> Self {
        let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
        let (done_tx, done) = watch::channel(0);
        tokio::spawn(write(store.clone(), events, done_tx));
        Self {
            inner: Arc::new(Inner {
                store,
                queue,
                queued: AtomicU64::new(0),
                done,
            }),
        }
    }

    /// The store the trail is read from.
    pub(crate) fn store(&self) -> &Arc<dyn AuditStore> {
        &self.inner.store
    }

    /// Records `event` without waiting for the store: it is logged now and appended soon.
    pub fn record(&self, event: AuditEvent) {
        log(&event);
        match self.inner.queue.try_send(event) {
            Ok(()) => {
                self.inner.queued.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                let event = e.into_inner();
                tracing::error!(
                    audit = event.kind.as_str(),
                    id = %event.id,
                    "audit queue full or closed: this event is only in the log"
                );
            }
        }
    }

    /// Records `event` and waits (up to `within`) until it is in the store, for operator
    /// actions whose answer should imply the trail has them. A store failure never fails the
    /// caller: the event stays queued and is retried.
    pub async fn record_durably(&self, event: AuditEvent, within: Duration) {
        self.record(event);
        self.flush(within).await;
    }

    /// Waits until every event recorded before this call is appended (or given up), for at
    /// most `within`; false on timeout.
    pub async fn flush(&self, within: Duration) -> bool {
        let target = self.inner.queued.load(Ordering::SeqCst);
        let mut done = self.inner.done.clone();
        tokio::time::timeout(within, done.wait_for(|d| *d >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// One log line per event, without emails, tokens or passwords.
fn log(event: &AuditEvent) {
    let actor = event.actor.user_id().map(|u| u.to_string());
    let target = event.target.map(|u| u.to_string());
    if event.kind.is_alarming() {
        tracing::warn!(
            audit = event.kind.as_str(),
            actor = event.actor.kind(),
            actor_id = actor.as_deref(),
            target = target.as_deref(),
            ip = event.ip.as_deref(),
            "security event"
        );
    } else {
        tracing::info!(
            audit = event.kind.as_str(),
            actor = event.actor.kind(),
            actor_id = actor.as_deref(),
            target = target.as_deref(),
            ip = event.ip.as_deref(),
            "audit event"
        );
    }
}

/// The writer: appends queued events in batches, retrying a failed batch with backoff.
async fn write(
    store: Arc<dyn AuditStore>,
    mut events: mpsc::Receiver<AuditEvent>,
    done: watch::Sender<u64>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match store.append(&batch).await {
                Ok(()) => break,
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e.report(), attempt, "could not append audit events; retrying");
                    tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(attempt.min(6))).await;
                }
                Err(e) => {
                    for event in &batch {
                        tracing::error!(
                            error = %e.report(),
                            audit = event.kind.as_str(),
                            id = %event.id,
                            "gave up appending an audit event: it is only in the log"
                        );
                    }
                    break;
                }
            }
        }
        let n = batch.len() as u64;
        batch.clear();
        done.send_modify(|d| *d += n);
    }
}
