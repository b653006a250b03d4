//! The samples `docflow dev` uploads: a lesson plan with a few typos and a short video,
//! from the top-level `samples/` folder, embedded in the binary.

use minio::s3::MinioClient;
use minio::s3::builders::ObjectContent;
use minio::s3::client::MinioClientBuilder;
use minio::s3::creds::StaticProvider;
use minio::s3::http::BaseUrl;
use minio::s3::response_traits::HasEtagFromHeaders;
use secrecy::ExposeSecret;

use crate::ids::{DocumentId, ObjectVersion};
use crate::settings::S3Settings;

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The file name, as the console shows it.
    pub name: &'static str,
    pub uploader: &'static str,
    pub content_type: &'static str,
    /// The `x-amz-meta-kind` it is uploaded with.
    pub kind: &'static str,
    pub bytes: &'static [u8],
}

pub const SAMPLES: [Sample; 2] = [
    Sample {
        name: "lesson-plan-week3.md",
        uploader: "teacher-42",
        content_type: "text/markdown",
        kind: "document",
        bytes: include_bytes!("../../../samples/lesson-plan-week3.md"),
    },
    Sample {
        name: "classroom-clip.mp4",
        uploader: "trainee-7",
        content_type: "video/mp4",
        kind: "video",
        bytes: include_bytes!("../../../samples/classroom-clip.mp4"),
    },
];

#[derive(Debug, thiserror::Error)]
#[error("uploading sample {key} to {endpoint}: {detail}")]
pub struct UploadError {
    pub key: String,
    pub endpoint: String,
    pub detail: String,
}

/// An uploaded sample: where it went and the document it became.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub sample: Sample,
    pub bucket: String,
    pub key: String,
    pub id: DocumentId,
}

impl Sample {
    /// `{uploader}/samples/{name}`: the same key on every run, so a restart finds the
    /// documents of the previous one.
    pub fn key(&self) -> String {
        format!("{}/samples/{}", self.uploader, self.name)
    }

    /// Puts the sample into the uploads bucket through the S3 API, as any uploader would.
    pub async fn upload(&self, s3: &S3Settings) -> Result<Uploaded, UploadError> {
        let key = self.key();
        let fail = |detail: String| UploadError { key: key.clone(), endpoint: s3.endpoint.clone(), detail };
        let client = client(s3).map_err(fail)?;
        let mut metadata = minio::s3::multimap_ext::Multimap::new();
        metadata.insert("x-amz-meta-kind".to_owned(), self.kind.to_owned());
        let response = client
            .put_object_content(s3.uploads_bucket.as_str(), key.as_str(), ObjectContent::from(self.bytes.to_vec()))
            .map_err(|e| fail(e.to_string()))?
            .content_type(self.content_type.to_owned())
            .user_metadata(Some(metadata))
            .build()
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let etag = response.etag().map_err(|e| fail(e.to_string()))?.to_string();
        let id = DocumentId::derive(&s3.uploads_bucket, &key, &ObjectVersion::new(None, Some(&etag)));
        Ok(Uploaded { sample: *self, bucket: s3.uploads_bucket.clone(), key, id })
    }
}

fn client(s3: &S3Settings) -> Result<MinioClient, String> {
    let mut base: BaseUrl = s3.endpoint.parse().map_err(|e| format!("s3.endpoint: {e}"))?;
    base.region = s3.region.clone().try_into().map_err(|e| format!("s3.region: {e}"))?;
    MinioClientBuilder::new(base)
        .provider(Some(StaticProvider::new(&s3.access_key, s3.secret_key.expose_secret(), None)))
        .skip_region_lookup(true)
        .build()
        .map_err(|e| e.to_string())
}
