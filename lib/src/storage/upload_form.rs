//! Presigned browser-form uploads (S3 "POST Object" with a POST policy): the store itself
//! refuses a body of another size or another content type than the policy names.
//!
//! Why a POST policy rather than a presigned PUT: the minio crate's presigner signs the
//! `host` header only, so a presigned PUT cannot bind `Content-Length` or `Content-Type`;
//! its `PostPolicy` can (`content-length-range`, `eq $Content-Type`), and S3, MinIO and
//! s3s enforce those conditions when the form is posted.
//!
//! The form is made for `s3.public_endpoint`: its URL is the bucket's there, and its
//! signature is the public client's, so nothing is rewritten after signing.

use std::collections::BTreeMap;
use std::time::Duration;

use minio::s3::builders::PostPolicy;
use minio::s3::http::BaseUrl;
use minio::s3::multimap_ext::Multimap;
use minio::s3::types::{BucketName, Region};

use super::{StorageError, Store};

/// What an uploader needs to post a file: the form's action URL and the fields to send
/// before the `file` field, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
}

impl Store {
    /// A form upload of exactly `size` bytes of `content_type` to `bucket/key` on the
    /// store's public address, valid for
    /// `ttl` (1 s to 7 days). The fields include `key` and `Content-Type`: the store stores
    /// the object under that key with that type, and refuses any other value.
    pub async fn presign_upload_form(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<UploadForm, StorageError> {
        let permanent = |detail: String| StorageError::Permanent { endpoint: self.endpoint.clone(), detail };
        let size = usize::try_from(size).map_err(|_| permanent(format!("{size} bytes is too large to presign")))?;
        let ttl = chrono::Duration::from_std(ttl.clamp(Duration::from_secs(1), Duration::from_secs(604_800)))
            .unwrap_or_else(|_| chrono::Duration::minutes(15));
        let bucket_name = BucketName::new(bucket).map_err(|e| permanent(format!("bucket {bucket}: {e}")))?;
        let mut policy = PostPolicy::new(bucket_name.clone(), chrono::Utc::now() + ttl)
            .map_err(|e| permanent(format!("POST policy: {e}")))?;
        let condition = |e| permanent(format!("POST policy condition: {e}"));
        policy.add_equals_condition("key", key).map_err(condition)?;
        policy.add_equals_condition("Content-Type", content_type).map_err(condition)?;
        policy.add_content_length_range_condition(size, size).map_err(condition)?;
        let mut fields: BTreeMap<String, String> = self
            .call(bucket, key, async { self.client.get_presigned_post_form_data(policy).build().send().await })
            .await?
            .into_iter()
            .collect();
        fields.insert("key".to_owned(), key.to_owned());
        fields.insert("Content-Type".to_owned(), content_type.to_owned());
        Ok(UploadForm { url: self.bucket_url(&bucket_name)?, fields })
    }

    /// The URL a form for `bucket` posts to on the public address, path- or
    /// virtual-host-style as the client addresses the store.
    fn bucket_url(&self, bucket: &BucketName) -> Result<String, StorageError> {
        let permanent = |detail: String| StorageError::Permanent { endpoint: self.public_endpoint.clone(), detail };
        let base: BaseUrl = self.public_endpoint.parse().map_err(|e| permanent(format!("s3.public_endpoint: {e}")))?;
        let region = Region::new(&self.region).map_err(|e| permanent(format!("s3.region: {e}")))?;
        let url = base
            .build_url(&http::Method::POST, &region, &Multimap::new(), Some(bucket), None)
            .map_err(|e| permanent(format!("cannot build the bucket URL: {e}")))?;
        Ok(url.to_string())
    }
}

impl Store {
    /// The URL the upload forms for `bucket` post to (a page's policy allows its origin).
    pub fn form_url(&self, bucket: &str) -> Result<String, StorageError> {
        let bucket = BucketName::new(bucket).map_err(|e| StorageError::Permanent {
            endpoint: self.endpoint.clone(),
            detail: format!("bucket {bucket}: {e}"),
        })?;
        self.bucket_url(&bucket)
    }
}
