//! The list's orders and its keyset cursor.
//!
//! A cursor names a row of the listing by its sort key and id, plus the order it was
//! taken in and which way the next page goes (after the row, or before it for a previous
//! page). Paging resumes strictly after (or before) that row, so no page is an OFFSET
//! scan and rows inserted meanwhile neither repeat nor vanish.
//!
//! Two encodings, both opaque to clients:
//! - the default order going forward (`created_at` descending, next page): the 24-byte
//!   base64url [`crate::db::Cursor`] that clients held before sorting existed, so their
//!   saved `next_cursor`s keep working and look the same;
//! - anything else: lowercase hex of `D1 sort flags key id` (at least 19 bytes, so never
//!   the legacy 32 characters), the key 8 bytes big-endian for times (microseconds) and
//!   numbers, UTF-8 for text.

use chrono::{DateTime, Utc};

use crate::db::Cursor;
use crate::ids::DocumentId;

/// What the list is ordered by; `id` breaks ties in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    CreatedAt,
    UpdatedAt,
    /// The file name as shown (without a browser upload's UUID), ignoring ASCII case.
    Name,
    Uploader,
    /// Pipeline order: received first, then failed and rejected last.
    State,
    /// The number of findings; documents without findings (videos, unfinished) as -1.
    Findings,
}

impl Sort {
    pub const ALL: [Sort; 6] =
        [Sort::CreatedAt, Sort::UpdatedAt, Sort::Name, Sort::Uploader, Sort::State, Sort::Findings];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::CreatedAt => "created_at",
            Sort::UpdatedAt => "updated_at",
            Sort::Name => "name",
            Sort::Uploader => "uploader",
            Sort::State => "state",
            Sort::Findings => "findings",
        }
    }

    pub fn parse(text: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The direction a list sorted by this column starts in: newest, most findings and
    /// the like first; names, uploaders and states alphabetically.
    pub fn natural(self) -> Direction {
        match self {
            Sort::CreatedAt | Sort::UpdatedAt | Sort::Findings => Direction::Desc,
            Sort::Name | Sort::Uploader | Sort::State => Direction::Asc,
        }
    }

    fn index(self) -> u8 {
        Sort::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    Asc,
    #[default]
    Desc,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "asc" => Some(Direction::Asc),
            "desc" => Some(Direction::Desc),
            _ => None,
        }
    }

    pub fn reversed(self) -> Direction {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

/// A row's sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Number(i64),
    Text(String),
}

/// Where a page starts: strictly after the row (`backward == false`, a next page) or
/// strictly before it (a previous page), in the order `sort`, `direction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub sort: Sort,
    pub direction: Direction,
    pub backward: bool,
    pub key: SortKey,
    pub id: DocumentId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a cursor this API handed out; pass `next_cursor` or `prev_cursor` of a page unchanged")]
pub struct InvalidPosition;

const MARKER: u8 = 0xD1;
const ASC: u8 = 1;
const BACKWARD: u8 = 2;
/// What a legacy cursor is, encoded.
const LEGACY_LEN: usize = 32;

impl Position {
    pub fn encode(&self) -> String {
        if let (Sort::CreatedAt, Direction::Desc, false, SortKey::Time(at)) =
            (self.sort, self.direction, self.backward, &self.key)
        {
            return Cursor { created_at: *at, id: self.id }.encode();
        }
        let mut bytes = vec![MARKER, self.sort.index()];
        let flags = if self.direction == Direction::Asc { ASC } else { 0 } | if self.backward { BACKWARD } else { 0 };
        bytes.push(flags);
        match &self.key {
            SortKey::Time(at) => bytes.extend_from_slice(&at.timestamp_micros().to_be_bytes()),
            SortKey::Number(n) => bytes.extend_from_slice(&n.to_be_bytes()),
            SortKey::Text(text) => bytes.extend_from_slice(text.as_bytes()),
        }
        bytes.extend_from_slice(self.id.0.as_bytes());
        hex::encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Position, InvalidPosition> {
        if text.len() == LEGACY_LEN {
            let cursor = Cursor::decode(text).map_err(|_| InvalidPosition)?;
            return Ok(Position {
                sort: Sort::CreatedAt,
                direction: Direction::Desc,
                backward: false,
                key: SortKey::Time(cursor.created_at),
                id: cursor.id,
            });
        }
        let bytes = hex::decode(text).map_err(|_| InvalidPosition)?;
        let [MARKER, sort, flags, rest @ ..] = bytes.as_slice() else { return Err(InvalidPosition) };
        let sort = *Sort::ALL.get(usize::from(*sort)).ok_or(InvalidPosition)?;
        if flags & !(ASC | BACKWARD) != 0 || rest.len() < 16 {
            return Err(InvalidPosition);
        }
        let (key, id) = rest.split_at(rest.len() - 16);
        let id = DocumentId(uuid::Uuid::from_slice(id).map_err(|_| InvalidPosition)?);
        let eight =
            || -> Result<i64, InvalidPosition> { Ok(i64::from_be_bytes(key.try_into().map_err(|_| InvalidPosition)?)) };
        let key = match sort {
            Sort::CreatedAt | Sort::UpdatedAt => {
                SortKey::Time(DateTime::from_timestamp_micros(eight()?).ok_or(InvalidPosition)?)
            }
            Sort::State | Sort::Findings => SortKey::Number(eight()?),
            Sort::Name | Sort::Uploader => SortKey::Text(String::from_utf8(key.to_vec()).map_err(|_| InvalidPosition)?),
        };
        let direction = if flags & ASC != 0 { Direction::Asc } else { Direction::Desc };
        Ok(Position { sort, direction, backward: flags & BACKWARD != 0, key, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> DocumentId {
        DocumentId(uuid::Uuid::new_v4())
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).unwrap()
    }

    #[test]
    fn every_sort_and_way_survives_encoding() {
        let keys = |sort: Sort| match sort {
            Sort::CreatedAt | Sort::UpdatedAt => vec![SortKey::Time(at(1_764_000_000_123_456)), SortKey::Time(at(0))],
            Sort::State | Sort::Findings => vec![SortKey::Number(-1), SortKey::Number(0), SortKey::Number(i64::MAX)],
            Sort::Name | Sort::Uploader => {
                vec![
                    SortKey::Text(String::new()),
                    SortKey::Text("plan é 3.pdf".into()),
                    SortKey::Text("x".repeat(1000)),
                ]
            }
        };
        for sort in Sort::ALL {
            for direction in [Direction::Asc, Direction::Desc] {
                for backward in [false, true] {
                    for key in keys(sort) {
                        let position = Position { sort, direction, backward, key, id: id() };
                        let text = position.encode();
                        assert_eq!(Position::decode(&text), Ok(position.clone()), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_default_order_going_forward_keeps_the_cursor_clients_already_hold() {
        let cursor = Cursor { created_at: at(1_764_000_000_123_456), id: id() };
        let legacy = cursor.encode();
        let position = Position::decode(&legacy).unwrap();
        assert_eq!(
            position,
            Position {
                sort: Sort::CreatedAt,
                direction: Direction::Desc,
                backward: false,
                key: SortKey::Time(cursor.created_at),
                id: cursor.id
            }
        );
        assert_eq!(position.encode(), legacy, "the same text handed out as before");
        let back = Position { backward: true, ..position };
        assert_ne!(back.encode().len(), LEGACY_LEN);
    }

    #[test]
    fn anything_not_handed_out_is_refused() {
        for text in ["", "abc", "zz", "d1", &hex::encode([MARKER, 9, 0]), "d10100"] {
            assert_eq!(Position::decode(text), Err(InvalidPosition), "{text}");
        }
        let good = Position {
            sort: Sort::Findings,
            direction: Direction::Asc,
            backward: false,
            key: SortKey::Number(3),
            id: id(),
        };
        let text = good.encode();
        // A key of the wrong width for its sort, unknown flags, a bad UTF-8 name.
        assert_eq!(Position::decode(&text[..text.len() - 2]), Err(InvalidPosition));
        let mut flags = hex::decode(&text).unwrap();
        flags[2] = 4;
        assert_eq!(Position::decode(&hex::encode(&flags)), Err(InvalidPosition));
        let mut name = vec![MARKER, Sort::Name.index(), 0, 0xff, 0xfe];
        name.extend_from_slice(&[0; 16]);
        assert_eq!(Position::decode(&hex::encode(name)), Err(InvalidPosition));
    }
}
