//! The lesson plan's two texts: the original upload's and the corrected file's, as
//! `crate::extract` reads them.
//!
//! Extracted when a page needs them, not at normalization: the record stays small (the
//! list and the API read it), nothing more is stored that `docflow forget` would have to
//! find, and a better extractor serves documents normalized before it. The cost is paid
//! once per file and process: the texts are kept in a [`TextCache`] bounded in bytes and
//! in time. Bounded work: files over [`extract::MAX_SOURCE`] are not read, the store read
//! gives up after [`READ_TIMEOUT`], and extraction runs in `spawn_blocking` and is given
//! up after [`EXTRACT_TIMEOUT`] (a panic in a parser is an unreadable file, not a crash).
//!
//! `GET /ui/documents/{id}/text/{original|corrected}` serves a text as
//! `text/plain; charset=utf-8`, inline, to whoever may read the document's page.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::evaluator::DocumentResource;
use crate::extract::{self, ExtractError};
use crate::ids::{DocumentId, Kind};
use crate::provider::protocol::Role;
use crate::stages::normalize::record::Record;
use crate::web::WebState;
use crate::web::files::{own_document, reader};

/// How long the store may take to hand over one file.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one extraction may take.
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(10);
/// The texts kept, in bytes, across all documents.
const CACHE_BYTES: usize = 64 << 20;
/// How long a text is kept: an erased document's text does not outlive it for long.
const CACHE_TTL: Duration = Duration::from_secs(600);

/// Why a text is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No such file (no corrected file, or not a lesson plan).
    NoFile,
    Unsupported,
    Unreadable {
        format: &'static str,
    },
    TooLarge,
    /// The store did not answer, or extraction ran out of time: try again later.
    Store,
}

#[derive(Debug, Clone)]
pub enum Shown {
    Text(Arc<extract::Text>),
    Unavailable(Unavailable),
}

/// The texts of a document page.
#[derive(Debug, Clone)]
pub struct Texts {
    /// The normalized record the texts were found from, read once for the whole page.
    pub record: Option<Record>,
    pub original: Shown,
    pub corrected: Shown,
}

impl Texts {
    /// No text: a page that is not a lesson plan's.
    pub fn none() -> Texts {
        Texts {
            record: None,
            original: Shown::Unavailable(Unavailable::NoFile),
            corrected: Shown::Unavailable(Unavailable::NoFile),
        }
    }

    pub fn get(&self, which: &str) -> &Shown {
        if which == "corrected" { &self.corrected } else { &self.original }
    }
}

/// Extracted texts by file, least recently added first out; entries expire.
#[derive(Clone, Debug, Default)]
pub struct TextCache(Arc<Mutex<Cache>>);

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<String, (Instant, Arc<extract::Text>)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl TextCache {
    fn get(&self, key: &str) -> Option<Arc<extract::Text>> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.entries.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, text)| text.clone())
    }

    fn put(&self, key: String, text: Arc<extract::Text>) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, old)) = cache.entries.remove(&key) {
            cache.bytes -= old.text.len();
            cache.order.retain(|k| *k != key);
        }
        cache.bytes += text.text.len();
        cache.entries.insert(key.clone(), (Instant::now(), text));
        cache.order.push_back(key);
        while cache.bytes > CACHE_BYTES
            || cache
                .order
                .front()
                .is_some_and(|k| cache.entries.get(k).is_some_and(|(at, _)| at.elapsed() >= CACHE_TTL))
        {
            let Some(oldest) = cache.order.pop_front() else { break };
            if let Some((_, gone)) = cache.entries.remove(&oldest) {
                cache.bytes -= gone.text.len();
            }
        }
    }
}

/// The document's record, when it reads as one.
fn record_of(resource: &DocumentResource) -> Option<Record> {
    serde_json::from_value(resource.normalized.clone()?).ok()
}

/// The texts of a lesson plan's page (none for a video or a document not yet normalized).
pub(in crate::web) async fn texts(state: &WebState, resource: &DocumentResource) -> Texts {
    if resource.summary.kind != Kind::Document {
        return Texts::none();
    }
    let Some(record) = record_of(resource) else { return Texts::none() };
    let (original, corrected) = tokio::join!(original(state, &record), corrected(state, &record));
    Texts { record: Some(record), original, corrected }
}

async fn original(state: &WebState, record: &Record) -> Shown {
    let original = &record.original;
    shown(text(state, &original.bucket, &original.key, original.size).await)
}

async fn corrected(state: &WebState, record: &Record) -> Shown {
    let Some(artifact) = record.artifacts.iter().find(|a| a.role == Role::Corrected) else {
        return Shown::Unavailable(Unavailable::NoFile);
    };
    let bucket = &state.evaluator.settings.s3.results_bucket;
    shown(text(state, bucket, &artifact.key, artifact.size).await)
}

fn shown(text: Result<Arc<extract::Text>, Unavailable>) -> Shown {
    match text {
        Ok(text) => Shown::Text(text),
        Err(why) => Shown::Unavailable(why),
    }
}

/// The text of object `bucket/key` of `size` bytes: from the cache, else read and
/// extracted.
async fn text(state: &WebState, bucket: &str, key: &str, size: i64) -> Result<Arc<extract::Text>, Unavailable> {
    if u64::try_from(size).unwrap_or(u64::MAX) > extract::MAX_SOURCE {
        return Err(Unavailable::TooLarge);
    }
    let cache_key = format!("{bucket}\n{key}\n{size}");
    if let Some(text) = state.lesson_texts.get(&cache_key) {
        return Ok(text);
    }
    let read = state.evaluator.store.read_small(bucket, key, extract::MAX_SOURCE);
    let bytes = match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(crate::storage::StorageError::NotFound { .. })) => return Err(Unavailable::NoFile),
        Ok(Err(error)) => {
            tracing::warn!(%error, bucket, key, "cannot read a lesson plan's file for its text");
            return Err(Unavailable::Store);
        }
        Err(_) => {
            tracing::warn!(bucket, key, "the store took too long to hand over a lesson plan's file");
            return Err(Unavailable::Store);
        }
    };
    let started = Instant::now();
    let extraction = tokio::task::spawn_blocking(move || extract::text_of(&bytes));
    let text = match tokio::time::timeout(EXTRACT_TIMEOUT, extraction).await {
        Ok(Ok(Ok(text))) => Arc::new(text),
        Ok(Ok(Err(error))) => {
            return Err(match error {
                ExtractError::Unsupported => Unavailable::Unsupported,
                ExtractError::TooLarge => Unavailable::TooLarge,
                ExtractError::Unreadable { format, .. } => Unavailable::Unreadable { format },
            });
        }
        Ok(Err(panicked)) => {
            tracing::warn!(error = %panicked, bucket, key, "the text extractor failed on a lesson plan's file");
            return Err(Unavailable::Unreadable { format: "its format" });
        }
        Err(_) => {
            tracing::warn!(bucket, key, "extracting a lesson plan's text took too long; given up");
            return Err(Unavailable::Store);
        }
    };
    tracing::debug!(bucket, key, millis = started.elapsed().as_millis() as u64, "lesson plan text extracted");
    state.lesson_texts.put(cache_key, text.clone());
    Ok(text)
}

/// `GET /ui/documents/{id}/text/{original|corrected}`: the text, `text/plain;
/// charset=utf-8`, inline. Who may: as the document's page (another teacher's document
/// is 404); without a session, to the sign-in page.
pub(in crate::web) async fn serve(
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let own = match reader(&state, &headers) {
        Ok(own) => own,
        Err(answer) => return *answer,
    };
    let Some((id, which)) = path
        .ok()
        .and_then(|Path((id, which))| Some((id.parse::<DocumentId>().ok()?, which)))
        .filter(|(_, which)| matches!(which.as_str(), "original" | "corrected"))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let document = match own_document(&state, id, own.as_ref()).await {
        Ok(document) => document,
        Err(answer) => return *answer,
    };
    let Some(record) = document.normalized.and_then(|value| serde_json::from_value::<Record>(value).ok()) else {
        return (StatusCode::NOT_FOUND, "This document has no text yet: it is not normalized.").into_response();
    };
    let (shown, name) = if which == "original" {
        (original(&state, &record).await, crate::review::names::display_name(&record.original.key).to_owned())
    } else {
        let name =
            record.artifacts.iter().find(|a| a.role == Role::Corrected).map(|a| a.name.clone()).unwrap_or_default();
        (corrected(&state, &record).await, name)
    };
    let text = match shown {
        Shown::Text(text) => text,
        Shown::Unavailable(Unavailable::Store) => {
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "The file cannot be read now.")
                .into_response();
        }
        Shown::Unavailable(_) => {
            return (StatusCode::NOT_FOUND, "This file has no text docflow can show: download the file itself.")
                .into_response();
        }
    };
    let mut response = text.text.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&crate::web::files::disposition(true, &format!("{name}.txt"))) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Arc<extract::Text> {
        Arc::new(extract::Text { text: s.to_owned(), truncated: false })
    }

    #[test]
    fn the_cache_gives_back_what_it_keeps_and_drops_the_oldest_past_its_budget() {
        let cache = TextCache::default();
        cache.put("a".into(), text("alpha"));
        assert_eq!(cache.get("a").unwrap().text, "alpha");
        assert!(cache.get("b").is_none());
        cache.put("a".into(), text("again"));
        assert_eq!(cache.get("a").unwrap().text, "again");
        assert_eq!(cache.0.lock().unwrap().bytes, 5);
        let big = "x".repeat(CACHE_BYTES / 2 + 1);
        cache.put("b".into(), text(&big));
        cache.put("c".into(), text(&big));
        assert!(cache.get("a").is_none() && cache.get("b").is_none(), "the oldest went first");
        assert!(cache.get("c").is_some());
        assert_eq!(cache.0.lock().unwrap().bytes, big.len());
    }
}
