//! The `EventLog` suite: numbering from 1 in order, reading after a number, trimming to the
//! newest entries (reported incomplete), and numbers unknown to the log. Log names carry a
//! random suffix so runs sharing one server do not see each other.

use crate::realtime::EventLog;
use std::sync::Arc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn name() -> String {
    format!("conformance:{{{}}}", uuid::Uuid::new_v4())
}

/// Entries are numbered 1, 2, 3 … per log; reading after a number returns the rest in order,
/// byte for byte, and says it is complete.
pub async fn appends_are_numbered_and_read_back_in_order(log: Arc<dyn EventLog>) {
    let (a, b) = (name(), name());
    for (i, payload) in ["one", "two", "thr:ee"].iter().enumerate() {
        let n = log
            .append(&a, payload.as_bytes().to_vec(), 10, HOUR)
            .await
            .unwrap();
        assert_eq!(n, i as u64 + 1);
    }
    assert_eq!(
        log.append(&b, b"other".to_vec(), 10, HOUR).await.unwrap(),
        1
    );
    let replay = log.read_after(&a, 1).await.unwrap();
    assert!(replay.complete);
    assert_eq!(replay.head, 3);
    assert_eq!(
        replay.entries,
        vec![(2, b"two".to_vec()), (3, b"thr:ee".to_vec())]
    );
    let all = log.read_after(&a, 0).await.unwrap();
    assert_eq!(all.entries.len(), 3);
    let none = log.read_after(&a, 3).await.unwrap();
    assert!(none.complete && none.entries.is_empty());
}

/// Only the newest `keep` entries stay: reading from before them is incomplete (the reader
/// resynchronises), reading from within them is complete.
pub async fn old_entries_are_trimmed_and_reported_missing(log: Arc<dyn EventLog>) {
    let a = name();
    for i in 0..5u8 {
        log.append(&a, vec![b'0' + i], 3, HOUR).await.unwrap();
    }
    let gone = log.read_after(&a, 1).await.unwrap();
    assert!(!gone.complete, "entry 2 was trimmed: {gone:?}");
    assert_eq!(gone.head, 5);
    let kept = log.read_after(&a, 2).await.unwrap();
    assert!(kept.complete);
    assert_eq!(
        kept.entries.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [3, 4, 5]
    );
}

/// A log never written is empty at head 0; a number past the head (from a log that expired
/// and started over) is incomplete.
pub async fn unknown_logs_and_future_numbers(log: Arc<dyn EventLog>) {
    let a = name();
    let empty = log.read_after(&a, 0).await.unwrap();
    assert!(empty.complete && empty.entries.is_empty());
    assert_eq!(empty.head, 0);
    log.append(&a, b"x".to_vec(), 10, HOUR).await.unwrap();
    let future = log.read_after(&a, 40).await.unwrap();
    assert!(!future.complete);
    assert_eq!(future.head, 1);
    assert!(future.entries.is_empty());
}
