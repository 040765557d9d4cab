//! The S3 blob store against a real S3-compatible server, `s3s-fs` (the
//! s3s project's S3 server over a directory, with Signature V4 checked),
//! started by each test on 127.0.0.1 and stopped when it ends: the same
//! contract as the filesystem store, the store's own refusals passed on,
//! and a market that publishes and serves a package from a bucket. How the
//! server is found, and when its absence skips or fails these tests: see
//! `support/s3s_fs.rs`.

mod common;
#[path = "support/s3s_fs.rs"]
mod s3s_fs;

use std::net::TcpListener;

use axum::http::StatusCode;
use common::{call, fixture_on, published_echo};
use rustchain_tools_market::{PackageBundle, PackageDigest};
use rustchain_tools_market_server::{BlobStore, FsBlobStore, S3BlobStore, S3Location};
use s3s_fs::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};

impl S3Server {
    fn location(&self) -> S3Location {
        S3Location {
            endpoint: self.endpoint(),
            bucket: BUCKET.to_owned(),
            region: "us-east-1".to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
        }
    }

    fn store(&self) -> S3BlobStore {
        S3BlobStore::new(self.location()).unwrap()
    }
}

fn digest(text: &str) -> PackageDigest {
    let files = vec![rustchain_tools_market::PackageFile {
        path: "plugin.json".into(),
        bytes: text.as_bytes().to_vec(),
    }];
    PackageDigest::of(&files).unwrap()
}

/// What every blob store must do, asked of `store`.
async fn keeps_blobs_by_digest(store: &dyn BlobStore) {
    let (a, b) = (digest("a"), digest("b"));
    assert_eq!(store.get(&a).await.unwrap(), None, "nothing kept yet");
    store.put(&a, b"[\"first\"]").await.unwrap();
    assert_eq!(
        store.get(&a).await.unwrap().as_deref(),
        Some(&b"[\"first\"]"[..])
    );
    assert_eq!(
        store.get(&b).await.unwrap(),
        None,
        "another digest is not kept"
    );
    // Keeping a digest again changes nothing: its contents are its address.
    store.put(&a, b"[\"first\"]").await.unwrap();
    store.put(&b, &vec![7u8; 300_000]).await.unwrap();
    assert_eq!(store.get(&b).await.unwrap().map(|v| v.len()), Some(300_000));
    assert_eq!(
        store.get(&a).await.unwrap().as_deref(),
        Some(&b"[\"first\"]"[..])
    );
}

#[tokio::test]
async fn the_s3_store_keeps_blobs_as_the_filesystem_store_does() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let fs = tempfile::tempdir().unwrap();
    keeps_blobs_by_digest(&FsBlobStore::new(fs.path()).unwrap()).await;
    let s3 = server.store();
    s3.check().await.unwrap();
    keeps_blobs_by_digest(&s3).await;
    // The objects are named as the filesystem store names its files.
    let mut kept: Vec<String> = std::fs::read_dir(server.root.path().join(BUCKET))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    kept.sort();
    let mut on_disk: Vec<String> = std::fs::read_dir(fs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(kept, on_disk);
}

#[tokio::test]
async fn the_s3_store_says_what_the_server_refused() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let mut wrong = server.location();
    wrong.secret_key = "not-the-secret".into();
    let store = S3BlobStore::new(wrong).unwrap();
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains("refused"), "{err}");
    let err = store
        .put(&digest("a"), b"[]")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keep a package") && err.contains("403"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-secret"),
        "the secret is never shown: {err}"
    );

    let mut missing = server.location();
    missing.bucket = "no-such-bucket".into();
    let err = S3BlobStore::new(missing)
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such bucket"), "{err}");

    let mut down = server.location();
    down.endpoint = format!("http://127.0.0.1:{}", free_port());
    let err = S3BlobStore::new(down)
        .unwrap()
        .get(&digest("a"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("read a package"), "{err}");

    let mut bad = server.location();
    bad.endpoint = "ftp://127.0.0.1".into();
    let err = S3BlobStore::new(bad).unwrap_err().to_string();
    assert!(err.contains("ftp://127.0.0.1"), "{err}");
    assert!(
        !format!("{:?}", server.location()).contains(SECRET_KEY),
        "Debug hides the secret"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_market_on_s3_publishes_and_serves_a_package_from_the_bucket() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let f = fixture_on(tempfile::tempdir().unwrap(), server.store()).await;
    published_echo(&f, None).await;
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/1.0.0",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bundle: PackageBundle = serde_json::from_value(body).unwrap();
    let keys = f.server.store().keys("acme").await.unwrap();
    bundle
        .package
        .verify(&keys, Some(&bundle.files().unwrap()))
        .unwrap();
    // The package is in the bucket, and not in the market's directory.
    let object = server.root.path().join(BUCKET).join(format!(
        "{}.json",
        bundle
            .package
            .digest
            .to_string()
            .trim_start_matches("sha256:")
    ));
    assert!(object.is_file(), "{} is kept", object.display());
    assert!(!f.dir.path().join("blobs").exists());
}
