//! Paging of lists: [`Page`], the page-size bound, and cursors (the id of the last item of
//! the previous page; ids are UUIDv7, so id order is creation order).

use crate::error::{Error, Result};
use crate::ids::{AuditEventId, ChatSessionId, LoginSessionId, MessageId, TranscriptId, UserId};

/// The most items a page holds (and what a cache keeps of a first page).
pub const MAX_PAGE: u32 = 100;

/// A page of a list, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// `limit` when it is a page size (1 to [`MAX_PAGE`]), else an [`Error::Invalid`].
pub(crate) fn check_limit(limit: u32) -> Result<u32> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ))
    }
}

/// The id a cursor names, or an [`Error::Invalid`] for text no page gave.
pub fn parse_cursor<T: CursorId>(cursor: &str) -> Result<T> {
    T::parse_cursor(cursor).map_err(|_| Error::invalid("cursor", "is not a cursor this API gave"))
}

/// Ids usable as cursors.
pub trait CursorId: Sized {
    /// The id written as `text`.
    fn parse_cursor(text: &str) -> Result<Self>;
}

impl CursorId for ChatSessionId {
    fn parse_cursor(text: &str) -> Result<Self> {
        ChatSessionId::parse(text)
    }
}

impl CursorId for MessageId {
    fn parse_cursor(text: &str) -> Result<Self> {
        MessageId::parse(text)
    }
}

impl CursorId for UserId {
    fn parse_cursor(text: &str) -> Result<Self> {
        UserId::parse(text)
    }
}

impl CursorId for TranscriptId {
    fn parse_cursor(text: &str) -> Result<Self> {
        TranscriptId::parse(text)
    }
}

impl CursorId for AuditEventId {
    fn parse_cursor(text: &str) -> Result<Self> {
        AuditEventId::parse(text)
    }
}

impl CursorId for LoginSessionId {
    fn parse_cursor(text: &str) -> Result<Self> {
        LoginSessionId::parse(text)
    }
}

/// A page of `items` (fetched with `limit`): the next cursor is the last item's id when the
/// page is full.
pub(crate) fn page<T>(items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(id))
        .flatten();
    Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn limits_outside_one_to_max_page_are_refused() {
        assert_eq!(check_limit(1).unwrap(), 1);
        assert_eq!(check_limit(MAX_PAGE).unwrap(), MAX_PAGE);
        for bad in [0, MAX_PAGE + 1, u32::MAX] {
            let err = check_limit(bad).unwrap_err();
            assert!(
                matches!(err, Error::Invalid { field: "limit", .. }),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_cursor_is_an_id_of_the_right_kind_and_nothing_else_is() {
        let id = MessageId::new();
        assert_eq!(parse_cursor::<MessageId>(&id.to_string()).unwrap(), id);
        for bad in ["", "not-a-cursor", "00000000-0000-0000-0000", "1 OR 1=1"] {
            let err = parse_cursor::<ChatSessionId>(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
            assert!(matches!(
                err,
                Error::Invalid {
                    field: "cursor",
                    ..
                }
            ));
        }
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor_and_it_is_the_last_id() {
        let full = page(vec![1, 2, 3], 3, |n| format!("id{n}"));
        assert_eq!(full.next_cursor.as_deref(), Some("id3"));
        let short = page(vec![1, 2], 3, |n| format!("id{n}"));
        assert_eq!(short.next_cursor, None);
        let empty = page(Vec::<u8>::new(), 3, |n| n.to_string());
        assert_eq!(
            empty,
            Page {
                items: vec![],
                next_cursor: None
            }
        );
    }
}
