//! Fetching one result from the provider straight into the results bucket, measuring its
//! size and SHA-256 and checking its first bytes on the way. Only a result whose content
//! is checked (JSON, WebVTT: bounded in size) is also kept in memory, so nothing reads it
//! back from the store; any other result is never held whole.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::checks::{self, Refusal};
use crate::provider::protocol::ResultFile;
use crate::stages::ports::{Objects, Results};
use crate::storage::StorageError;

/// Bytes of a result's head kept for the magic-byte check.
const HEAD: usize = 512;

/// Why a fetch did not produce a verified object.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// May pass: network, provider 5xx, store unreachable.
    #[error("{0}")]
    Transient(String),
    /// The bytes are not what the callback declared (size, digest, signature) or the
    /// provider refused them (4xx): retried a few times, then the document is rejected.
    #[error("{0}")]
    Mismatch(String),
    /// The content breaks a rule: rejected at once.
    #[error("{0}")]
    Refused(#[from] Refusal),
}

#[derive(Default)]
struct Tally {
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    /// The whole body, when the caller keeps it.
    kept: Option<Vec<u8>>,
}

/// Downloads `result` from `url` into `bucket/key`, then checks size, SHA-256 and magic
/// bytes. A mismatching object is deleted again. With `keep`, the verified body is also
/// returned (its size is the declared one, which the caller bounds).
pub async fn fetch_into(
    results: &dyn Results,
    store: &dyn Objects,
    url: reqwest::Url,
    result: &ResultFile,
    bucket: &str,
    key: &str,
    keep: bool,
) -> Result<Option<Bytes>, FetchError> {
    let response = results
        .get(&url)
        .await
        .map_err(|e| FetchError::Transient(format!("fetching {} ({url}): {e}", result.role.as_str())))?;
    let status = response.status;
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        return Err(FetchError::Transient(format!(
            "fetching {} ({url}): provider answered {status}",
            result.role.as_str()
        )));
    }
    if !status.is_success() {
        return Err(FetchError::Mismatch(format!(
            "fetching {} ({url}): provider answered {status}",
            result.role.as_str()
        )));
    }
    let declared = result.size;
    let kept = keep.then(|| Vec::with_capacity(usize::try_from(declared).unwrap_or(0)));
    let tally = Arc::new(Mutex::new(Tally { kept, ..Tally::default() }));
    let counting = tally.clone();
    let body = response.body.map(move |chunk| {
        let chunk: Bytes = chunk?;
        let mut t = counting.lock().expect("tally lock");
        t.size += chunk.len() as u64;
        if t.size > declared {
            return Err(std::io::Error::other(format!("more than the declared {declared} bytes")));
        }
        t.hasher.update(&chunk);
        if t.head.len() < HEAD {
            let take = (HEAD - t.head.len()).min(chunk.len());
            t.head.extend_from_slice(&chunk[..take]);
        }
        if let Some(kept) = t.kept.as_mut() {
            kept.extend_from_slice(&chunk);
        }
        Ok(chunk)
    });
    let stored = store.put_stream(bucket, key, Box::pin(body), declared, &result.content_type).await;
    let (size, digest, head, kept) = {
        let t = std::mem::take(&mut *tally.lock().expect("tally lock"));
        (t.size, hex::encode(t.hasher.finalize()), t.head, t.kept)
    };
    let verdict = match stored {
        Err(StorageError::Transient { .. }) if size > declared => {
            Err(FetchError::Mismatch(format!("{} is larger than its declared size {declared}", result.role.as_str())))
        }
        Err(e) if e.is_transient() && size == declared => {
            Err(FetchError::Transient(format!("storing {}: {e}", result.role.as_str())))
        }
        Err(e) if e.is_transient() => {
            Err(FetchError::Mismatch(format!("{} is {size} bytes, declared {declared} ({e})", result.role.as_str())))
        }
        Err(e) => Err(FetchError::Transient(format!("storing {}: {e}", result.role.as_str()))),
        Ok(()) if size != declared => {
            Err(FetchError::Mismatch(format!("{} is {size} bytes, declared {declared}", result.role.as_str())))
        }
        Ok(()) if !digest.eq_ignore_ascii_case(&result.sha256) => Err(FetchError::Mismatch(format!(
            "{} has SHA-256 {digest}, declared {}",
            result.role.as_str(),
            result.sha256
        ))),
        Ok(()) => checks::check_magic(&result.content_type, &head)
            .map(|()| kept.map(Bytes::from))
            .map_err(|r| FetchError::Refused(Refusal(format!("{}: {r}", result.role.as_str())))),
    };
    if verdict.is_err() {
        store.delete(bucket, key).await.ok();
    }
    verdict
}
