//! Listing documents for the evaluator API: optional filters on state, kind, uploader and
//! text in the key, newest first, paged by a keyset cursor over `(created_at DESC, id DESC)`.
//!
//! Keyset rather than offset paging: a page starts strictly after the last row of the
//! previous one, so documents inserted meanwhile (always newer, hence before the cursor)
//! neither repeat nor push rows out of the following pages. `id` breaks ties between
//! documents created in the same microsecond. Each filter has an index ending in
//! `(created_at, id)`, which PostgreSQL and SQLite scan backwards for this order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::documents;
use super::{Db, DbError, Document, State};
use crate::ids::{DocumentId, Kind, UploaderId};

/// Which documents to list; `None` matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<State>,
    pub kind: Option<Kind>,
    pub uploader: Option<UploaderId>,
    /// Text the key contains, ignoring the case of ASCII letters (`%` and `_` are
    /// matched as themselves). No index serves it: it narrows the rows the others select.
    pub key: Option<String>,
}

/// Where the next page starts: the `(created_at, id)` of the last row of the previous one.
/// Opaque to clients ([`Cursor::encode`]): base64url of the creation time in microseconds
/// (8 bytes, big-endian) followed by the id's 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: DocumentId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a cursor this API handed out; pass `next_cursor` of the previous page unchanged")]
pub struct InvalidCursor;

const CURSOR_BYTES: usize = 24;

impl Cursor {
    pub fn of(document: &Document) -> Cursor {
        Cursor { created_at: document.created_at, id: document.id }
    }

    pub fn encode(&self) -> String {
        let mut bytes = [0u8; CURSOR_BYTES];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.0.as_bytes());
        base64url::encode(&bytes)
    }

    pub fn decode(text: &str) -> Result<Cursor, InvalidCursor> {
        let bytes = base64url::decode(text).ok_or(InvalidCursor)?;
        let bytes: [u8; CURSOR_BYTES] = bytes.try_into().map_err(|_| InvalidCursor)?;
        let micros = i64::from_be_bytes(bytes[..8].try_into().map_err(|_| InvalidCursor)?);
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(InvalidCursor)?;
        let id = uuid::Uuid::from_slice(&bytes[8..]).map_err(|_| InvalidCursor)?;
        Ok(Cursor { created_at, id: DocumentId(id) })
    }
}

impl Db {
    /// Up to `limit` documents matching `filter`, newest first, starting after `cursor`
    /// (from the newest when `None`). The returned cursor is `Some` when more rows follow.
    pub async fn list_documents(
        &self,
        filter: &ListFilter,
        limit: u64,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<Document>, Option<Cursor>), DbError> {
        let limit = limit.max(1);
        let mut condition = filter_condition(filter);
        if let Some(cursor) = cursor {
            // (created_at, id) < (c, i), spelled so that `created_at <= c` bounds the
            // index range on both backends (row values are not used by every planner).
            let id = cursor.id.to_string();
            condition = condition.add(documents::Column::CreatedAt.lte(cursor.created_at)).add(
                Condition::any()
                    .add(documents::Column::CreatedAt.lt(cursor.created_at))
                    .add(documents::Column::Id.lt(id)),
            );
        }
        let rows = documents::Entity::find()
            .filter(condition)
            .order_by_desc(documents::Column::CreatedAt)
            .order_by_desc(documents::Column::Id)
            .limit(limit.saturating_add(1))
            .all(&self.conn)
            .await?;
        let more = rows.len() as u64 > limit;
        let documents = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(Document::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more { documents.last().map(Cursor::of) } else { None };
        Ok((documents, next))
    }
}

/// The rows `filter` selects (also used by the evaluator's sorted listing and counts).
pub(crate) fn filter_condition(filter: &ListFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(state) = filter.state {
        condition = condition.add(documents::Column::State.eq(state.as_str()));
    }
    if let Some(kind) = filter.kind {
        condition = condition.add(documents::Column::Kind.eq(kind.as_str()));
    }
    if let Some(uploader) = &filter.uploader {
        condition = condition.add(documents::Column::UploaderId.eq(uploader.as_str()));
    }
    if let Some(key) = &filter.key {
        // `!` escapes (a backslash would be read as escaping the closing quote).
        let escaped = key.to_ascii_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
        let lower = Expr::expr(Func::lower(Expr::col((documents::Entity, documents::Column::Key))));
        condition = condition
            .add(sea_orm::sea_query::ExprTrait::like(lower, LikeExpr::new(format!("%{escaped}%")).escape('!')));
    }
    condition
}

/// Unpadded base64url (RFC 4648 §5), enough for cursors.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
            }
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.trim_end_matches('=').as_bytes();
        if text.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        for chunk in text.chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                let value = ALPHABET.iter().position(|a| a == c)? as u32;
                n |= value << (18 - 6 * i);
            }
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn round_trips_every_length() {
            let data: Vec<u8> = (0..=255).collect();
            for len in 0..40 {
                let encoded = super::encode(&data[200 - len..200]);
                assert!(!encoded.contains(['+', '/', '=']));
                assert_eq!(super::decode(&encoded).unwrap(), &data[200 - len..200]);
            }
            assert_eq!(super::encode(b"foobar"), "Zm9vYmFy");
            assert_eq!(super::encode(b"fo"), "Zm8");
            assert!(super::decode("Zm9v!").is_none());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_encoding_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: DocumentId(uuid::Uuid::new_v4()),
        };
        let text = cursor.encode();
        assert_eq!(text.len(), 32);
        assert_eq!(Cursor::decode(&text), Ok(cursor));
        assert_eq!(Cursor::decode("abc"), Err(InvalidCursor));
        assert_eq!(Cursor::decode(""), Err(InvalidCursor));
        assert_eq!(Cursor::decode(&format!("{text}AAAA")), Err(InvalidCursor));
    }
}
