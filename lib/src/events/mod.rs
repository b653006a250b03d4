//! Upload notifications as they arrive from an S3 store, and the trust boundary every
//! entry (MinIO's NATS target, the webhook ingest) applies before work starts: only the
//! uploads bucket, only keys that pass [`key::ObjectKey`]'s rules.

pub mod key;
pub mod minio;

use crate::settings::S3Settings;

pub use key::{KeyError, ObjectKey};

/// Why a record of a notification starts no work. Each is permanent: the record is
/// dead-lettered at once with this text, never retried, and counted by [`Refused::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "bucket {bucket:?} is docflow's results bucket, not the uploads bucket {uploads:?}: only objects in s3.uploads_bucket start work; nothing was read"
    )]
    ResultsBucket { bucket: String, uploads: String },
    #[error(
        "bucket {bucket:?} is not the uploads bucket {uploads:?}: only objects in s3.uploads_bucket start work (check the store's notification target); nothing was read"
    )]
    ForeignBucket { bucket: String, uploads: String },
    #[error("object key {key} in bucket {bucket:?} can never start work: {error}; nothing was read")]
    Key {
        bucket: String,
        /// The key as the event spelled it (escaped), so it prints on one line.
        key: String,
        error: KeyError,
    },
    #[error("not a MinIO event: {detail}")]
    Malformed { detail: String },
}

impl Refused {
    /// A fixed, low-cardinality label for `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::ResultsBucket { .. } => "results_bucket",
            Refused::ForeignBucket { .. } => "foreign_bucket",
            Refused::Key { error, .. } => error.reason(),
            Refused::Malformed { .. } => "malformed",
        }
    }
}

/// The buckets an event may and may not name, from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    uploads_bucket: String,
    results_bucket: String,
}

impl Boundary {
    pub fn new(uploads_bucket: &str, results_bucket: &str) -> Boundary {
        Boundary { uploads_bucket: uploads_bucket.to_owned(), results_bucket: results_bucket.to_owned() }
    }

    pub fn from_settings(s3: &S3Settings) -> Boundary {
        Boundary::new(&s3.uploads_bucket, &s3.results_bucket)
    }

    /// Ok when `bucket` is the uploads bucket (compared exactly: bucket names are
    /// lowercase by S3's rules, so no folding can make two names meet).
    pub fn admit_bucket(&self, bucket: &str) -> Result<(), Refused> {
        if bucket == self.uploads_bucket {
            Ok(())
        } else if bucket == self.results_bucket {
            Err(Refused::ResultsBucket { bucket: bucket.to_owned(), uploads: self.uploads_bucket.clone() })
        } else {
            Err(Refused::ForeignBucket { bucket: bucket.to_owned(), uploads: self.uploads_bucket.clone() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_uploads_bucket_is_admitted() {
        let boundary = Boundary::new("uploads", "results");
        assert_eq!(boundary.admit_bucket("uploads"), Ok(()));
        let results = boundary.admit_bucket("results").unwrap_err();
        assert_eq!(results.reason(), "results_bucket");
        assert!(results.to_string().contains("s3.uploads_bucket"), "{results}");
        for other in ["secret-bucket", "Uploads", "uploads ", "", "uploads/x"] {
            assert_eq!(boundary.admit_bucket(other).unwrap_err().reason(), "foreign_bucket", "{other:?}");
        }
    }
}
