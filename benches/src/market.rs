//! The market: its revenue ledger, recording sales and refunds in memory
//! (the rules alone) and in the SQLite store (the rules, the database and
//! the disk), and its API (a submission scanned and published, downloads).

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use rustchain_tools::plugins::PluginHost;
use rustchain_tools::sandbox::net::NetPolicy;
use rustchain_tools::sandbox::wasm::{WasmConfig, WasmEngine};
use rustchain_tools_market::package::{SigningKey, generate_key, read_dir};
use rustchain_tools_market::{
    Ledger, MarketStore, PackageBundle, PackageDigest, PackageFile, PublisherKey, RevenueShare,
    ReviewRules, SignedPackage, Transaction,
};
use rustchain_tools_market_server::{FsBlobStore, MarketServer, market_policy};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Sale `n`: one of a few customers buys from one of a few publishers.
pub fn sale(n: u64) -> Transaction {
    Transaction::Sale {
        id: format!("sale-{n}"),
        customer: format!("customer-{}", n % 64),
        publisher: format!("publisher-{}", n % 16),
        package: "example.echo@1.0.0".to_owned(),
        amount: 999 + (n % 1_000) as i64,
        share: if n.is_multiple_of(4) {
            RevenueShare::HIGHLY_RATED
        } else {
            RevenueShare::STANDARD
        },
    }
}

/// A partial refund of sale `n`.
pub fn refund(n: u64) -> Transaction {
    Transaction::Refund {
        id: format!("refund-{n}"),
        sale: format!("sale-{n}"),
        amount: 333,
    }
}

/// Records sales `from..from + count` in `ledger`, refunding every tenth.
pub fn record_in_memory(ledger: &mut Ledger, from: u64, count: u64) {
    for n in from..from + count {
        ledger.record(sale(n)).expect("a valid sale");
        if n.is_multiple_of(10) {
            ledger.record(refund(n)).expect("a valid refund");
        }
    }
}

/// Records sales `from..from + count` in `store` from `writers` concurrent
/// tasks, each waiting for its commit before the next.
pub async fn record_in_store(store: &MarketStore, from: u64, count: u64, writers: u64) {
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = from + w;
                while n < from + count {
                    store.record(sale(n)).await.expect("a valid sale");
                    n += writers;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer");
    }
}

/// A market on a fresh SQLite store with `example.echo` 1.0.0 published
/// through the API: its router, the accounts' tokens and the publisher's
/// key, for the API's benchmarks.
pub struct BenchMarket {
    /// The market's router, built once: a served market builds it once too,
    /// so building it per request would measure set-up, not requests.
    router: axum::Router,
    acme: String,
    sec: String,
    qa: String,
    key: SigningKey,
    files: Vec<PackageFile>,
    _dir: tempfile::TempDir,
}

fn echo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plugins/echo")
}

impl BenchMarket {
    /// Starts it and publishes `example.echo` 1.0.0.
    pub async fn start() -> BenchMarket {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = MarketStore::open_sqlite(&dir.path().join("market.db"))
            .await
            .expect("the store opens");
        let host = PluginHost::new(
            WasmEngine::new(WasmConfig::default()).expect("an engine"),
            dir.path(),
            NetPolicy::default(),
        );
        let server = MarketServer::new(
            store,
            FsBlobStore::new(dir.path().join("blobs")).expect("a blob store"),
            market_policy(None).expect("the market policy"),
            host,
            ReviewRules::default(),
        );
        let admin = server
            .bootstrap_admin()
            .await
            .expect("the admin")
            .expect("a fresh market");
        let mut market = BenchMarket {
            acme: String::new(),
            sec: String::new(),
            qa: String::new(),
            key: generate_key().expect("a key"),
            files: read_dir(&echo_dir()).expect("the echo plugin"),
            router: server.router(),
            _dir: dir,
        };
        for (id, role) in [
            ("acme", "publisher"),
            ("sec", "security-reviewer"),
            ("qa", "quality-reviewer"),
        ] {
            let (_, body) = market
                .call(
                    "POST",
                    "/api/v1/accounts",
                    &admin,
                    Some(json!({"id": id, "roles": [role]})),
                )
                .await;
            let token = body["token"].as_str().expect("a token").to_owned();
            match id {
                "acme" => market.acme = token,
                "sec" => market.sec = token,
                _ => market.qa = token,
            }
        }
        let public = PublisherKey {
            publisher: "acme".into(),
            key: market.key.verifying_key(),
        }
        .to_hex();
        let acme = market.acme.clone();
        market
            .call(
                "POST",
                "/api/v1/publishers/acme/keys",
                &acme,
                Some(json!({"publicKey": public})),
            )
            .await;
        market.publish("1.0.0").await;
        market
    }

    /// Sends one request through the router; the status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Submits `example.echo` as `version` (its manifest rewritten to say
    /// so), which runs the security scan, and approves it twice, which
    /// publishes it.
    pub async fn publish(&self, version: &str) {
        let mut files = self.files.clone();
        for file in &mut files {
            if file.path == "plugin.json" {
                let mut manifest: Value =
                    serde_json::from_slice(&file.bytes).expect("the manifest");
                manifest["version"] = json!(version);
                file.bytes = manifest.to_string().into_bytes();
            }
        }
        let signed = SignedPackage::sign(
            &self.key,
            "acme",
            "example.echo",
            version,
            PackageDigest::of(&files).expect("a digest"),
        );
        let bundle = serde_json::to_value(PackageBundle::new(signed, &files)).expect("JSON");
        let (status, submission) = self
            .call("POST", "/api/v1/submissions", &self.acme, Some(bundle))
            .await;
        assert_eq!(status, 201, "{submission}");
        let reviews = format!("/api/v1/submissions/{}/reviews", submission["id"]);
        for (token, kind) in [(&self.sec, "security"), (&self.qa, "quality")] {
            let (status, body) = self
                .call(
                    "POST",
                    &reviews,
                    token,
                    Some(json!({"kind": kind, "verdict": "approve"})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }

    /// Downloads `example.echo` 1.0.0 as a client installing it would.
    pub async fn download(&self) {
        let (status, body) = self
            .call("GET", "/api/v1/packages/example.echo/1.0.0", "", None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
}
