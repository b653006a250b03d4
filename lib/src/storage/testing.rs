//! An S3 server for this crate's tests: s3s-fs (the integration tests' S3 server, here as
//! the library it is built from) in the test's own process, on a loopback port of its own
//! with a directory of its own, so tests run in parallel. Stopped when dropped.

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The embedded defaults' `s3.access_key` and `s3.secret_key`: settings need only the
/// endpoint.
pub const ACCESS_KEY: &str = "minioadmin";
pub const SECRET_KEY: &str = "minioadmin";

pub struct TestS3 {
    pub port: u16,
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl TestS3 {
    /// A server holding the empty `buckets`.
    pub async fn start(buckets: &[&str]) -> TestS3 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for bucket in buckets {
            std::fs::create_dir(dir.path().join(bucket)).expect("a bucket directory");
        }
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs over the directory");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let shutdown = CancellationToken::new();
        tokio::spawn(crate::dev::s3::serve(builder.build(), listener, Vec::new(), shutdown.clone()));
        TestS3 { port, url: format!("http://127.0.0.1:{port}"), dir, shutdown }
    }

    /// Settings of a store on this server (buckets `uploads` and `results`).
    pub fn settings(&self) -> crate::settings::S3Settings {
        crate::settings::S3Settings {
            endpoint: self.url.clone(),
            public_endpoint: None,
            region: "us-east-1".into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.to_owned().into(),
            uploads_bucket: "uploads".into(),
            results_bucket: "results".into(),
            request_timeout: std::time::Duration::from_secs(20),
        }
    }

    /// Writes `bytes` as `bucket/key` straight into the server's directory (s3s-fs keeps
    /// objects as plain files).
    pub fn put_file(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let path = self.dir.path().join(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("a key has a folder")).expect("the object's folder");
        std::fs::write(path, bytes).expect("the object is written");
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
