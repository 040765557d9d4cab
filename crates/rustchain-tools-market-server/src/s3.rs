//! Blobs in a bucket of an S3-compatible object store (AWS S3, MinIO,
//! Ceph, ...): each request is signed (AWS Signature V4, as a presigned
//! URL, by `rusty-s3`) and sent with the workspace's one HTTP stack
//! (reqwest over rustls).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use rustchain_tools_market::PackageDigest;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::ServerError;
use crate::blobs::{BlobStore, blob_name};

/// How long a signed request stays valid: it is sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(60);
/// The most of an error body quoted in an error.
const QUOTED_BODY: usize = 300;

/// Where a bucket is and the keys that sign requests to it.
#[derive(Clone)]
pub struct S3Location {
    /// The store's endpoint, `http://` or `https://`, e.g.
    /// `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    /// Objects are addressed path-style (`ENDPOINT/BUCKET/KEY`), which every
    /// S3-compatible store accepts.
    pub endpoint: String,
    /// The bucket, which must exist.
    pub bucket: String,
    /// The region the signature names (`us-east-1` for most stores that
    /// are not AWS).
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
}

impl fmt::Debug for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Location")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Blobs as objects of one bucket, named as [`FsBlobStore`](crate::FsBlobStore)
/// names its files. A put first asks whether the object is there, so
/// keeping a digest again sends nothing; S3 writes an object whole, so a
/// reader never sees half of one.
pub struct S3BlobStore {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket.base_url().as_str())
            .finish_non_exhaustive()
    }
}

fn failed(operation: &'static str, reason: impl Into<String>) -> ServerError {
    ServerError::Blob {
        operation,
        reason: reason.into(),
    }
}

impl S3BlobStore {
    /// A store on `location`. Nothing is sent yet: [`check`](Self::check)
    /// asks the store whether the bucket is there and the keys are good.
    pub fn new(location: S3Location) -> Result<S3BlobStore, ServerError> {
        let endpoint = url::Url::parse(&location.endpoint).map_err(|e| {
            failed(
                "use its endpoint",
                format!("`{}` is not a URL: {e}", location.endpoint),
            )
        })?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            location.bucket.clone(),
            location.region,
        )
        .map_err(|e| {
            failed(
                "use its endpoint",
                format!(
                    "{} with bucket `{}`: {e}",
                    location.endpoint, location.bucket
                ),
            )
        })?;
        let tls = rustchain_tools_sandbox::net::tls_client_config()
            .map_err(|e| failed("set up TLS", e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!(
                "rustchain-tools-market/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| failed("set up its HTTP client", e.to_string()))?;
        Ok(S3BlobStore {
            bucket,
            credentials: Credentials::new(location.access_key, location.secret_key),
            http,
        })
    }

    /// Asks the store for the bucket (HEAD): an error says what is wrong
    /// (no such bucket, keys refused, store unreachable) before the market
    /// takes a submission it could not keep.
    pub async fn check(&self) -> Result<(), ServerError> {
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(SIGNED_FOR);
        let answer = self.send("reach the bucket", self.http.head(url)).await?;
        match answer.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(failed(
                "find its bucket",
                format!("{}: no such bucket", self.bucket.base_url()),
            )),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Err(failed(
                "use its bucket",
                format!(
                    "{}: {} (the access key or secret is refused)",
                    self.bucket.base_url(),
                    answer.status()
                ),
            )),
            s => Err(failed(
                "use its bucket",
                format!("{}: {s}", self.bucket.base_url()),
            )),
        }
    }

    /// Sends `request`; an error names `operation` and why the store could
    /// not be reached.
    async fn send(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ServerError> {
        request
            .send()
            .await
            .map_err(|e| failed(operation, self.unreachable(&e)))
    }

    fn unreachable(&self, e: &reqwest::Error) -> String {
        let mut text = format!("{}: {e}", self.bucket.base_url());
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }

    /// An error for an answer that is not what the request wanted, with
    /// the start of the store's own explanation (S3's XML error).
    async fn refused(
        &self,
        operation: &'static str,
        key: &str,
        answer: reqwest::Response,
    ) -> ServerError {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        let mut quoted: String = body.chars().take(QUOTED_BODY).collect();
        if quoted.len() < body.len() {
            quoted.push('…');
        }
        failed(
            operation,
            format!(
                "{}: {status}: {}",
                self.bucket.object_url(key),
                quoted.trim()
            ),
        )
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError> {
        let key = blob_name(digest);
        let head = self
            .bucket
            .head_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let answer = self.send("keep a package", self.http.head(head)).await?;
        match answer.status() {
            s if s.is_success() => return Ok(()),
            StatusCode::NOT_FOUND => {}
            _ => return Err(self.refused("keep a package", &key, answer).await),
        }
        let put = self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let answer = self
            .send(
                "keep a package",
                self.http
                    .put(put)
                    .header("content-type", "application/json")
                    .body(bytes.to_vec()),
            )
            .await?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(self.refused("keep a package", &key, answer).await)
        }
    }

    async fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError> {
        let key = blob_name(digest);
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let answer = self.send("read a package", self.http.get(url)).await?;
        match answer.status() {
            s if s.is_success() => answer
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| failed("read a package", self.unreachable(&e))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.refused("read a package", &key, answer).await),
        }
    }
}
