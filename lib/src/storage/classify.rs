//! Which object store failures may pass and which never will.
//!
//! The `minio` crate does not sort its errors that way: a connection refused, reset or
//! timed out arrives as `Validation(HttpError(..))`, next to its genuine client-side
//! validation errors (a bad bucket name), and a server's XML error keeps its code but not
//! its HTTP status. So each shape is looked at here:
//!
//! | the store ... | class |
//! |---|---|
//! | could not be reached (refused, reset, DNS, TLS), broke off the answer, timed out | transient |
//! | answered 5xx, `SlowDown`, `InternalError`, `ServiceUnavailable`, `RequestTimeout`, or a code we do not know | transient |
//! | answered `NoSuchKey`, `NoSuchBucket`, `NoSuchVersion`, or 404 | not found (permanent) |
//! | answered `AccessDenied`, a credentials error, 401/403 | permanent |
//! | answered that the request is invalid (`InvalidArgument`, `KeyTooLongError`, bad name, ...) | permanent |
//! | was never asked: the client refused the request (bad name, bad URL) | permanent |
//!
//! An unknown code is transient: a document retried over the stage's backoff and then
//! dead-lettered is recoverable, one failed for good during an outage is not.

use minio::s3::error::{Error as MinioError, NetworkError, S3ServerError, ValidationErr};
use minio::s3::types::minio_error_response::MinioErrorCode;

use super::StorageError;

/// Codes that say the request can never succeed as sent.
const INVALID_REQUEST_CODES: [&str; 16] = [
    "BadRequest",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidObjectName",
    "XMinioInvalidObjectName",
    "KeyTooLongError",
    "InvalidURI",
    "InvalidRequest",
    "InvalidRange",
    "MalformedXML",
    "EntityTooLarge",
    "EntityTooSmall",
    "MethodNotAllowed",
    "NotImplemented",
    "InvalidStorageClass",
    "XMinioObjectNameTooLong",
];

/// Codes that say the credentials are refused: an operator must fix the settings.
const CREDENTIALS_CODES: [&str; 5] =
    ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "AccountProblem", "InvalidToken"];

/// Codes that say the object is not there.
const NOT_FOUND_CODES: [&str; 3] = ["NoSuchKey", "NoSuchBucket", "NoSuchVersion"];

pub(super) fn classify(endpoint: &str, bucket: &str, key: &str, error: MinioError) -> StorageError {
    let transient = |detail: String| StorageError::Transient { endpoint: endpoint.to_owned(), detail: crate::redact::text(&detail) };
    let permanent = |detail: String| StorageError::Permanent { endpoint: endpoint.to_owned(), detail: crate::redact::text(&detail) };
    let not_found = || StorageError::NotFound { bucket: bucket.to_owned(), key: key.to_owned() };
    match &error {
        MinioError::S3Server(S3ServerError::S3Error(response)) => {
            let code = response.code();
            // The crate lower-cases the codes it does not know (`slowdown`).
            let name = code.to_string();
            let is = |codes: &[&str]| codes.iter().any(|c| c.eq_ignore_ascii_case(&name));
            let detail = format!("{name} for {bucket}/{key}: {}", response.message().as_deref().unwrap_or(""));
            match code {
                MinioErrorCode::NoSuchKey | MinioErrorCode::NoSuchBucket | MinioErrorCode::ResourceNotFound => {
                    not_found()
                }
                _ if is(&NOT_FOUND_CODES) => not_found(),
                MinioErrorCode::AccessDenied => {
                    permanent(format!("{detail}; check s3.access_key, s3.secret_key and the bucket's policy"))
                }
                _ if is(&CREDENTIALS_CODES) => permanent(format!("{detail}; check s3.access_key and s3.secret_key")),
                MinioErrorCode::BadRequest | MinioErrorCode::MethodNotAllowed | MinioErrorCode::NotSupported => {
                    permanent(detail)
                }
                // The fast path's stand-in for a bare status (`HTTP 503`).
                MinioErrorCode::OtherError(ref other) if other.starts_with("HTTP ") => {
                    by_status(other[5..].parse().unwrap_or(0), detail, transient, permanent, not_found)
                }
                _ if is(&INVALID_REQUEST_CODES) => permanent(detail),
                // SlowDown, InternalError, ServiceUnavailable, RequestTimeout,
                // XMinioServerNotInitialized, and whatever else a store may invent.
                _ => transient(detail),
            }
        }
        MinioError::S3Server(S3ServerError::HttpError(status, _))
        | MinioError::S3Server(S3ServerError::InvalidServerResponse { http_status_code: status, .. }) => {
            by_status(*status, format!("{error} for {bucket}/{key}"), transient, permanent, not_found)
        }
        MinioError::Network(NetworkError::ServerError(status)) => by_status(
            *status,
            format!("HTTP {status} without a body for {bucket}/{key}"),
            transient,
            permanent,
            not_found,
        ),
        MinioError::Network(NetworkError::ReqwestError(e)) => transport(e, bucket, key, transient, permanent),
        // The crate files transport failures under "validation": they are not.
        MinioError::Validation(ValidationErr::HttpError(e)) => transport(e, bucket, key, transient, permanent),
        MinioError::Validation(
            ValidationErr::IOError(_) | ValidationErr::XmlParseError(_) | ValidationErr::XmlError { .. },
        ) => transient(format!("{bucket}/{key}: {}", chain(&error))),
        MinioError::Validation(_) => {
            permanent(format!("the request for {bucket}/{key} was refused before it was sent: {}", chain(&error)))
        }
        MinioError::DriveIo(_) => transient(format!("{bucket}/{key}: {}", chain(&error))),
    }
}

/// An answer known only by its HTTP status.
fn by_status(
    status: u16,
    detail: String,
    transient: impl Fn(String) -> StorageError,
    permanent: impl Fn(String) -> StorageError,
    not_found: impl Fn() -> StorageError,
) -> StorageError {
    match status {
        404 => not_found(),
        401 | 403 => permanent(format!("{detail}; check s3.access_key, s3.secret_key and the bucket's policy")),
        400 | 405 | 411 | 413 | 414 | 416 | 501 => permanent(detail),
        // 408, 429, 5xx, and anything a proxy in between may answer.
        _ => transient(detail),
    }
}

/// A request that failed on the way: transient, unless it could not even be built.
fn transport(
    e: &reqwest012::Error,
    bucket: &str,
    key: &str,
    transient: impl Fn(String) -> StorageError,
    permanent: impl Fn(String) -> StorageError,
) -> StorageError {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let detail = format!("{what} for {bucket}/{key}: {}", chain(e));
    if e.is_builder() {
        permanent(format!("{detail}; check s3.endpoint"))
    } else {
        transient(format!("{detail}; is the S3 server running at s3.endpoint?"))
    }
}

/// The error and its causes on one line ("error sending request: ...: Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let line = cause.to_string();
        if !out.contains(&line) {
            out.push_str(": ");
            out.push_str(&line);
        }
        current = cause.source();
    }
    out
}
