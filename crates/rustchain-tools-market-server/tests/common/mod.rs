//! What the router tests share: a market on a temporary store, requests
//! through its router, accounts, and packages published through the API.

// Each test crate uses part of it.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rustchain_tools_market::package::{SigningKey, generate_key, read_dir};
use rustchain_tools_market::{
    MarketStore, PackageBundle, PackageDigest, PublisherKey, ReviewRules, SignedPackage,
};
use rustchain_tools_market_server::{BlobStore, FsBlobStore, MarketServer, market_policy};
use rustchain_tools_plugins::PluginHost;
use rustchain_tools_sandbox::net::NetPolicy;
use rustchain_tools_sandbox::wasm::{WasmConfig, WasmEngine};
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Fixture {
    pub server: MarketServer,
    pub admin: String,
    pub dir: tempfile::TempDir,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::new(dir.path().join("blobs")).unwrap();
    fixture_on(dir, blobs).await
}

/// A market in `dir` that keeps packages in `blobs`.
pub async fn fixture_on(dir: tempfile::TempDir, blobs: impl BlobStore) -> Fixture {
    fixture_with(dir, blobs, market_policy(None).unwrap()).await
}

/// A market that decides with `policy`.
pub async fn fixture_with(
    dir: tempfile::TempDir,
    blobs: impl BlobStore,
    policy: rustchain_tools_policy::PolicyEngine,
) -> Fixture {
    let store = MarketStore::open_sqlite(&dir.path().join("market.db"))
        .await
        .unwrap();
    let host = PluginHost::new(
        WasmEngine::new(WasmConfig::default()).unwrap(),
        dir.path(),
        NetPolicy::default(),
    );
    let server = MarketServer::new(store, blobs, policy, host, ReviewRules::default());
    let admin = server.bootstrap_admin().await.unwrap().unwrap();
    assert_eq!(server.bootstrap_admin().await.unwrap(), None);
    Fixture { server, admin, dir }
}

pub async fn call(
    server: &MarketServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = server
        .router()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub async fn page(server: &MarketServer, path: &str) -> String {
    let response = server
        .router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A browser's request: form fields, a cookie, an `Origin`.
pub async fn browse(
    server: &MarketServer,
    method: &str,
    path: &str,
    origin: Option<&str>,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "market.test");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let body = match form {
        Some(form) => {
            request = request.header("content-type", "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let response = server
        .router()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Signs in on the web pages with `token`, as a browser on the market's own
/// site would; the session cookie to send with later requests.
pub async fn sign_in(server: &MarketServer, token: &str) -> String {
    let login = format!("token={token}");
    let (status, headers, body) = browse(
        server,
        "POST",
        "/login",
        Some("http://market.test"),
        None,
        Some(&login),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let cookie = headers["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// The page at `path` as the holder of `session` sees it.
pub async fn signed_in_page(server: &MarketServer, path: &str, session: &str) -> String {
    let (status, _, html) = browse(server, "GET", path, None, Some(session), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    html
}

pub async fn account(f: &Fixture, id: &str, roles: &[&str]) -> String {
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/accounts",
        Some(&f.admin),
        Some(json!({"id": id, "roles": roles})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// The publisher `acme` with a registered key, and one reviewer of each
/// kind.
pub struct Publisher {
    pub token: String,
    pub sec: String,
    pub qa: String,
    key: SigningKey,
}

pub async fn publisher(f: &Fixture) -> Publisher {
    let token = account(f, "acme", &["publisher"]).await;
    let sec = account(f, "sec", &["security-reviewer"]).await;
    let qa = account(f, "qa", &["quality-reviewer"]).await;
    let key = generate_key().unwrap();
    let public = PublisherKey {
        publisher: "acme".into(),
        key: key.verifying_key(),
    }
    .to_hex();
    let keys = json!({"publicKey": public});
    let (status, _) = call(
        &f.server,
        "POST",
        "/api/v1/publishers/acme/keys",
        Some(&token),
        Some(keys),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    Publisher {
        token,
        sec,
        qa,
        key,
    }
}

/// The echo plugin of `docs/plugins/echo` as `name@version`, its manifest
/// changed by `edit`, submitted, scanned and approved by both reviewers.
pub async fn publish(
    f: &Fixture,
    p: &Publisher,
    name: &str,
    version: &str,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugins/echo");
    let dir = f.dir.path().join(format!("{name}-{version}"));
    copy_dir(&docs, &dir);
    let path = dir.join("plugin.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["name"] = json!(name);
    manifest["version"] = json!(version);
    edit(&mut manifest);
    std::fs::write(&path, manifest.to_string()).unwrap();
    let files = read_dir(&dir).unwrap();
    let signed = SignedPackage::sign(
        &p.key,
        "acme",
        name,
        version,
        PackageDigest::of(&files).unwrap(),
    );
    let bundle = serde_json::to_value(PackageBundle::new(signed, &files)).unwrap();
    let (status, submission) = call(
        &f.server,
        "POST",
        "/api/v1/submissions",
        Some(&p.token),
        Some(bundle),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{submission}");
    let reviews = format!("/api/v1/submissions/{}/reviews", submission["id"]);
    let mut last = Value::Null;
    for (token, kind) in [(&p.sec, "security"), (&p.qa, "quality")] {
        let verdict = json!({"kind": kind, "verdict": "approve"});
        let (status, body) = call(&f.server, "POST", &reviews, Some(token), Some(verdict)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        last = body;
    }
    assert_eq!(last["state"], "published", "{last}");
    last
}

/// `example.echo@1.0.0`, at `price` per call if given: the publisher's,
/// the security and the quality reviewer's tokens.
pub async fn published_echo(f: &Fixture, price: Option<u64>) -> (String, String, String) {
    let p = publisher(f).await;
    publish(f, &p, "example.echo", "1.0.0", |manifest| {
        if let Some(price) = price {
            manifest["price"] = json!({"perCall": price});
        }
    })
    .await;
    (p.token, p.sec, p.qa)
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
