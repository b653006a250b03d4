//! Upload notifications as they arrive from an S3 store.

pub mod minio;
